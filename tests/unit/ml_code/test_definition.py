"""The rendered definition (build/pipeline-definition.json), read as JSON: what deploys is what is checked here."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from mlops_shared import pipeline_names as names
from mlops_shared.deploy_tokens import ALL_TOKENS, DeployValues, fill_definition, tokens_in

KMS = "{{KmsKeyArn}}"
VPC = {"SecurityGroupIds": ["{{SecurityGroupIds}}"], "Subnets": ["{{SubnetIds}}"]}
PROPERTY_FILE_GET = f"Steps.{names.EVALUATE_STEP}.PropertyFiles.{names.EVALUATION_REPORT}"


def all_steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every step by name, including those inside the condition's branches."""
    found: dict[str, dict[str, Any]] = {}
    pending = list(definition["Steps"])
    while pending:
        step = pending.pop()
        found[step["Name"]] = step
        if step["Type"] == "Condition":
            pending += step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"]
    return found


def steps_of_type(definition: dict[str, Any], step_type: str) -> list[dict[str, Any]]:
    return [step for step in all_steps(definition).values() if step["Type"] == step_type]


def test_step_names_are_the_published_constants(definition: dict[str, Any]) -> None:
    assert set(all_steps(definition)) == set(names.STEP_NAMES)
    assert [step["Name"] for step in definition["Steps"]] == [
        names.PREPROCESS_STEP,
        names.BASELINE_STEP,
        names.TRAIN_STEP,
        names.SERVING_MODEL_STEP,
        names.TRANSFORM_STEP,
        names.EVALUATE_STEP,
        names.CONDITION_STEP,
    ]


def test_parameters_and_their_defaults(definition: dict[str, Any]) -> None:
    parameters = {parameter["Name"]: parameter for parameter in definition["Parameters"]}

    assert {name: parameter["DefaultValue"] for name, parameter in parameters.items()} == names.PARAMETER_DEFAULTS
    assert parameters["ProcessingInstanceCount"]["Type"] == "Integer"
    assert parameters["MseThreshold"]["Type"] == "Float"
    assert parameters["ModelApprovalStatus"]["DefaultValue"] == "PendingManualApproval"


def test_every_processing_step_is_isolated_encrypted_and_in_the_vpc(definition: dict[str, Any]) -> None:
    processing = steps_of_type(definition, "Processing")
    assert {step["Name"] for step in processing} == {names.PREPROCESS_STEP, names.EVALUATE_STEP}
    for step in processing:
        arguments = step["Arguments"]
        assert arguments["NetworkConfig"] == {
            "EnableInterContainerTrafficEncryption": True,
            "EnableNetworkIsolation": True,
            "VpcConfig": VPC,
        }, step["Name"]
        assert arguments["ProcessingOutputConfig"]["KmsKeyId"] == KMS
        assert arguments["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KMS
        assert arguments["AppSpecification"]["ImageUri"] == "{{XGBoostImageUri}}"
        assert arguments["RoleArn"] == "{{ExecutionRoleArn}}"


def test_the_training_step_is_isolated_encrypted_and_in_the_vpc(definition: dict[str, Any]) -> None:
    (training,) = steps_of_type(definition, "Training")
    arguments = training["Arguments"]

    assert arguments["EnableNetworkIsolation"] is True
    assert arguments["EnableInterContainerTrafficEncryption"] is True
    assert arguments["VpcConfig"] == VPC
    assert arguments["OutputDataConfig"]["KmsKeyId"] == KMS
    assert arguments["ResourceConfig"]["VolumeKmsKeyId"] == KMS
    assert arguments["AlgorithmSpecification"]["TrainingImage"] == "{{XGBoostImageUri}}"


def test_training_is_script_mode_with_code_from_an_input_channel(definition: dict[str, Any]) -> None:
    # Network isolation forbids the container to fetch its code from S3, so SageMaker mounts it as the "code" channel.
    arguments = all_steps(definition)[names.TRAIN_STEP]["Arguments"]
    channels = {channel["ChannelName"]: channel for channel in arguments["InputDataConfig"]}

    assert set(channels) == {"train", "validation", "code"}
    code_uri = channels["code"]["DataSource"]["S3DataSource"]["S3Uri"]
    assert code_uri.startswith("s3://{{ArtifactsBucket}}/pipeline-code/") and code_uri.endswith("/sourcedir.tar.gz")
    hyperparameters = arguments["HyperParameters"]
    assert json.loads(hyperparameters["sagemaker_program"]) == "train.py"
    assert json.loads(hyperparameters["sagemaker_submit_directory"]) == "/opt/ml/input/data/code/sourcedir.tar.gz"
    for name in ("train", "validation"):
        assert channels[name]["ContentType"] == "text/csv"


def test_outputs_are_unique_to_each_execution(definition: dict[str, Any]) -> None:
    for step in steps_of_type(definition, "Processing"):
        for output in step["Arguments"]["ProcessingOutputConfig"]["Outputs"]:
            values = output["S3Output"]["S3Uri"]["Std:Join"]["Values"]
            assert values[:3] == [
                "s3://{{ArtifactsBucket}}",
                names.RUNS_PREFIX,
                {"Get": "Execution.PipelineExecutionId"},
            ]


def test_the_evaluate_step_publishes_the_report_as_a_property_file(definition: dict[str, Any]) -> None:
    evaluate = all_steps(definition)[names.EVALUATE_STEP]
    outputs = {output["OutputName"] for output in evaluate["Arguments"]["ProcessingOutputConfig"]["Outputs"]}

    assert evaluate["PropertyFiles"] == [
        {
            "FilePath": names.EVALUATION_FILE,
            "OutputName": names.EVALUATION_OUTPUT,
            "PropertyFileName": names.EVALUATION_REPORT,
        }
    ]
    assert names.EVALUATION_OUTPUT in outputs


def test_the_condition_compares_the_reported_mse_with_the_threshold(definition: dict[str, Any]) -> None:
    (condition,) = all_steps(definition)[names.CONDITION_STEP]["Arguments"]["Conditions"]

    assert condition["Type"] == "LessThanOrEqualTo"
    assert condition["LeftValue"] == {
        "Std:JsonGet": {"Path": names.MSE_JSON_PATH, "PropertyFile": {"Get": PROPERTY_FILE_GET}}
    }
    assert condition["RightValue"] == {"Get": "Parameters.MseThreshold"}


def test_register_on_the_if_branch_and_fail_with_the_mse_on_the_else_branch(definition: dict[str, Any]) -> None:
    arguments = all_steps(definition)[names.CONDITION_STEP]["Arguments"]

    assert [(step["Name"], step["Type"]) for step in arguments["IfSteps"]] == [(names.REGISTER_STEP, "RegisterModel")]
    assert [(step["Name"], step["Type"]) for step in arguments["ElseSteps"]] == [(names.FAIL_STEP, "Fail")]
    message = arguments["ElseSteps"][0]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert {"Std:JsonGet": {"Path": names.MSE_JSON_PATH, "PropertyFile": {"Get": PROPERTY_FILE_GET}}} in message
    assert {"Get": "Parameters.MseThreshold"} in message


def test_the_registered_package(definition: dict[str, Any]) -> None:
    arguments = all_steps(definition)[names.REGISTER_STEP]["Arguments"]
    specification = arguments["InferenceSpecification"]
    (container,) = specification["Containers"]

    assert arguments["ModelPackageGroupName"] == "{{ModelPackageGroupName}}"
    assert arguments["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    assert container["Image"] == "{{XGBoostImageUri}}"
    assert container["ModelDataUrl"] == {"Get": f"Steps.{names.TRAIN_STEP}.ModelArtifacts.S3ModelArtifacts"}
    assert specification["SupportedContentTypes"] == list(names.SERVING_CONTENT_TYPES)
    assert specification["SupportedResponseMIMETypes"] == list(names.SERVING_CONTENT_TYPES)
    assert specification["SupportedRealtimeInferenceInstanceTypes"]
    assert specification["SupportedTransformInstanceTypes"]
    statistics = arguments["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    assert statistics["S3Uri"]["Std:Join"]["Values"][-1] == names.EVALUATION_FILE
    assert arguments["CustomerMetadataProperties"]["EnableNetworkIsolation"] == "true"
    assert arguments["CustomerMetadataProperties"]["RequiresVpcConfig"] == "true"


def test_the_data_quality_baseline_is_model_monitors_analyzer_on_the_unlabelled_train_records(
    definition: dict[str, Any],
) -> None:
    step = all_steps(definition)[names.BASELINE_STEP]
    arguments = step["Arguments"]

    assert (step["Type"], step["CheckType"], step["SkipCheck"], step["RegisterNewBaseline"]) == (
        "QualityCheck",
        "DATA_QUALITY",
        True,
        True,
    )
    assert arguments["AppSpecification"]["ImageUri"] == "{{ModelMonitorImageUri}}"  # a token, like the XGBoost image
    (source,) = arguments["ProcessingInputs"]
    assert source["S3Input"]["S3Uri"] == {
        "Get": f"Steps.{names.PREPROCESS_STEP}.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri"
    }
    assert json.loads(arguments["Environment"]["dataset_format"])["csv"]["header"] is False
    assert arguments["NetworkConfig"] == {
        "EnableInterContainerTrafficEncryption": True,
        "EnableNetworkIsolation": True,
        "VpcConfig": VPC,
    }
    assert arguments["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KMS
    assert arguments["ProcessingOutputConfig"]["KmsKeyId"] == KMS


def test_the_package_carries_its_baseline_for_drift_checks(definition: dict[str, Any]) -> None:
    arguments = all_steps(definition)[names.REGISTER_STEP]["Arguments"]
    expected = {
        "Constraints": {
            "ContentType": "application/json",
            "S3Uri": {"Get": f"Steps.{names.BASELINE_STEP}.CalculatedBaselineConstraints"},
        },
        "Statistics": {
            "ContentType": "application/json",
            "S3Uri": {"Get": f"Steps.{names.BASELINE_STEP}.CalculatedBaselineStatistics"},
        },
    }

    assert arguments["DriftCheckBaselines"]["ModelDataQuality"] == expected
    assert arguments["ModelMetrics"]["ModelDataQuality"] == expected


def test_the_serving_model_is_isolated_in_the_vpc_and_serves_from_the_artifacts_code(
    definition: dict[str, Any],
) -> None:
    arguments = all_steps(definition)[names.SERVING_MODEL_STEP]["Arguments"]

    assert arguments["EnableNetworkIsolation"] is True
    assert arguments["VpcConfig"] == VPC
    assert arguments["ExecutionRoleArn"] == "{{ExecutionRoleArn}}"
    assert arguments["PrimaryContainer"] == {
        "Image": "{{XGBoostImageUri}}",
        "ModelDataUrl": {"Get": f"Steps.{names.TRAIN_STEP}.ModelArtifacts.S3ModelArtifacts"},
        "Environment": names.SERVING_ENVIRONMENT,  # script mode from /opt/ml/model/code: nothing downloaded
    }


def test_the_registered_package_is_the_model_the_transform_scored(definition: dict[str, Any]) -> None:
    model = all_steps(definition)[names.SERVING_MODEL_STEP]["Arguments"]["PrimaryContainer"]
    (registered,) = all_steps(definition)[names.REGISTER_STEP]["Arguments"]["InferenceSpecification"]["Containers"]

    assert registered == model


def test_the_transform_scores_the_raw_test_split_through_the_serving_model_encrypted(
    definition: dict[str, Any],
) -> None:
    arguments = all_steps(definition)[names.TRANSFORM_STEP]["Arguments"]

    assert arguments["ModelName"] == {"Get": f"Steps.{names.SERVING_MODEL_STEP}.ModelName"}
    assert arguments["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == {
        "Get": f"Steps.{names.PREPROCESS_STEP}.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"
    }
    assert (arguments["TransformInput"]["ContentType"], arguments["TransformInput"]["SplitType"]) == (
        "text/csv",
        "Line",
    )
    # the label is kept out of the request and joined back beside the prediction: rings,prediction
    assert arguments["DataProcessing"] == {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"}
    assert arguments["TransformOutput"]["Accept"] == "text/csv"
    assert arguments["TransformOutput"]["KmsKeyId"] == KMS
    assert arguments["TransformResources"]["VolumeKmsKeyId"] == KMS
    assert arguments["TransformResources"]["InstanceType"] == {"Get": "Parameters.TransformInstanceType"}
    assert arguments["TransformOutput"]["S3OutputPath"]["Std:Join"]["Values"][:3] == [
        "s3://{{ArtifactsBucket}}",
        names.RUNS_PREFIX,
        {"Get": "Execution.PipelineExecutionId"},
    ]


def test_evaluation_reads_the_transform_output_not_the_booster(definition: dict[str, Any]) -> None:
    inputs = all_steps(definition)[names.EVALUATE_STEP]["Arguments"]["ProcessingInputs"]
    sources = [item["S3Input"]["S3Uri"] for item in inputs if item["InputName"] != "code"]

    assert {"Get": f"Steps.{names.TRANSFORM_STEP}.TransformOutput.S3OutputPath"} in sources
    assert {"Get": f"Steps.{names.TRAIN_STEP}.ModelArtifacts.S3ModelArtifacts"} not in sources


def test_no_repack_step_and_no_sdk_default_bucket(definition: dict[str, Any]) -> None:
    text = json.dumps(definition)
    assert "RepackModel" not in text and "_repack_model" not in text
    assert "sagemaker-us-east-1" not in text and "default_bucket" not in text


def test_account_specific_values_are_all_tokens(definition: dict[str, Any]) -> None:
    text = json.dumps(definition)

    assert tokens_in(definition) == set(ALL_TOKENS)
    assert "arn:aws" not in text and "amazonaws.com" not in text
    # No region anywhere: the renderer drops the SDK's "sagemaker_region" hyperparameter (ml_code/render.py), so the
    # one definition deploys unchanged to every region (the training toolkit falls back to the job's own region).
    hyperparameters = all_steps(definition)[names.TRAIN_STEP]["Arguments"]["HyperParameters"]
    assert "sagemaker_region" not in hyperparameters and "sagemaker_program" in hyperparameters
    assert not re.search(r"\b[a-z]{2}(-gov)?-[a-z]+-\d\b", text), "a region name is baked into the definition"


def test_deploy_values_fill_every_token(definition: dict[str, Any]) -> None:
    values = DeployValues(
        execution_role_arn="arn:aws:iam::123456789012:role/sagemaker-execution",
        artifacts_bucket="artifacts-123456789012",
        kms_key_arn="arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        model_package_group_name="abalone",
        xgboost_image_uri="141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:3.0-5",
        model_monitor_image_uri="468650794304.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer",
        subnet_ids=("subnet-a", "subnet-b"),
        security_group_ids=("sg-1",),
    )
    filled = fill_definition(definition, values)

    assert tokens_in(filled) == set()
    training = all_steps(filled)[names.TRAIN_STEP]["Arguments"]
    assert training["VpcConfig"] == {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-a", "subnet-b"]}
    parameters = {parameter["Name"]: parameter["DefaultValue"] for parameter in filled["Parameters"]}
    assert parameters["InputDataUrl"] == "s3://artifacts-123456789012/data/abalone.csv"


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2"])
def test_image_uris_cover_the_regions(image_uris: dict[str, dict[str, str]], region: str) -> None:
    uri = image_uris["xgboost"][region]
    assert uri.endswith(f".dkr.ecr.{region}.amazonaws.com/sagemaker-xgboost:3.0-5")


def test_image_uris_are_all_the_3_0_5_image(image_uris: dict[str, dict[str, str]]) -> None:
    assert len(image_uris["xgboost"]) > 20
    assert all(uri.endswith("/sagemaker-xgboost:3.0-5") for uri in image_uris["xgboost"].values())
