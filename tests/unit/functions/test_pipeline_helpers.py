"""pipeline_helpers: input validation with defaults, SageMaker-safe names, endpoint existence."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from pipeline_helpers import app
from pipeline_helpers.helpers import sagemaker_name

from mlops_shared.pipeline_names import PARAMETER_DEFAULTS
from tests.unit.functions.conftest import REGION

LoadEvent = Callable[[str], dict[str, Any]]
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/abalone/1"


@pytest.fixture
def helper_env(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "DEFAULT_DEPLOYMENT_TARGET": "endpoint",
        "POLL_SECONDS": "60",
        "MAX_POLLS": "240",
        "ARTIFACTS_BUCKET": "abalone-mlops-artifacts",
        "RESOURCE_PREFIX": "abalone-mlops",
        "ENDPOINT_NAME": "abalone-mlops-endpoint",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("helper_env")
class TestValidateInput:
    def test_deploy_input_gets_the_template_defaults(self, load_event: LoadEvent, lambda_context: Any) -> None:
        result = app.lambda_handler(load_event("pipeline_helpers/validate-input.json"), lambda_context)
        assert result == {
            "Mode": "deploy",
            "Target": "endpoint",
            "PollSeconds": 60,
            "MaxPolls": 240,
            "PipelineParameters": [],
            "ModelPackageArn": PACKAGE,
            "BatchInputS3Uri": "s3://abalone-mlops-artifacts/batch/input/",
        }

    def test_train_input_turns_parameters_into_the_pipeline_api_shape(
        self, load_event: LoadEvent, lambda_context: Any
    ) -> None:
        event: dict[str, Any] = {"Operation": "validate_input", "Input": load_event("statemachine/train.json")}
        result = app.lambda_handler({**event, "Input": {**event["Input"], "PollSeconds": 0}}, lambda_context)
        assert result["PipelineParameters"] == [
            {"Name": "MseThreshold", "Value": "6.0"},
            {"Name": "TrainingInstanceType", "Value": "ml.m5.xlarge"},
        ]
        assert result["PollSeconds"] == 0 and result["Mode"] == "train"

    def test_bad_input_names_every_wrong_field(self, load_event: LoadEvent, lambda_context: Any) -> None:
        event = {"Operation": "validate_input", "Input": load_event("statemachine/malformed.json")}
        with pytest.raises(app.InvalidInput) as raised:
            app.lambda_handler(event, lambda_context)
        message = str(raised.value)
        assert "ModelPackageArn: 'abalone/1' is not a valid model package ARN" in message
        assert "Target: Input should be 'endpoint' or 'batch'" in message

    def test_unknown_pipeline_parameters_are_named_with_the_valid_ones(
        self, load_event: LoadEvent, lambda_context: Any
    ) -> None:
        event = {"Operation": "validate_input", "Input": load_event("statemachine/train-unknown-parameter.json")}
        with pytest.raises(app.InvalidInput) as raised:
            app.lambda_handler(event, lambda_context)
        message = str(raised.value)
        assert "unknown pipeline parameter(s): InstanceCount, MseTreshold;" in message
        assert f"the pipeline's parameters are: {', '.join(PARAMETER_DEFAULTS)}" in message
        assert "TrainingInstanceType" not in message.split(";")[0]

    @pytest.mark.parametrize("mode", [None, "retrain"])
    def test_an_unknown_mode_is_named(self, mode: str | None, lambda_context: Any) -> None:
        with pytest.raises(app.InvalidInput, match="Mode must be 'train' or 'deploy'"):
            app.lambda_handler({"Operation": "validate_input", "Input": {"Mode": mode}}, lambda_context)

    def test_an_unknown_field_is_refused(self, lambda_context: Any) -> None:
        with pytest.raises(app.InvalidInput, match="Targets: Extra inputs are not permitted"):
            app.lambda_handler(
                {"Operation": "validate_input", "Input": {"Mode": "train", "Targets": "batch"}}, lambda_context
            )


@pytest.mark.usefixtures("helper_env")
class TestPrepareDeployment:
    def test_names_and_endpoint_absent(self, load_event: LoadEvent, lambda_context: Any) -> None:
        result = app.lambda_handler(load_event("pipeline_helpers/prepare-deployment.json"), lambda_context)
        assert result["EndpointExists"] is False
        assert result["DeploymentName"].startswith("abalone-mlops-v1-") and len(result["DeploymentName"]) <= 63
        assert result["BatchOutputS3Uri"] == f"s3://abalone-mlops-artifacts/batch/output/{result['DeploymentName']}/"

    def test_endpoint_present(self, load_event: LoadEvent, lambda_context: Any) -> None:
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sagemaker.create_model(ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/r")
        sagemaker.create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[
                {"VariantName": "v", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
            ],
        )
        sagemaker.create_endpoint(EndpointName="abalone-mlops-endpoint", EndpointConfigName="c")
        result = app.lambda_handler(load_event("pipeline_helpers/prepare-deployment.json"), lambda_context)
        assert result["EndpointExists"] is True

    def test_malformed_request_is_named(self, load_event: LoadEvent, lambda_context: Any) -> None:
        with pytest.raises(app.InvalidInput, match="ModelPackageVersion: Input should be greater than or equal to 1"):
            app.lambda_handler(load_event("pipeline_helpers/malformed.json"), lambda_context)


@pytest.mark.parametrize("prefix", ["abalone-mlops", "x" * 200, "Under_score.and.dots", "---"])
def test_sagemaker_names_fit_the_63_character_pattern(prefix: str) -> None:
    import re

    name = sagemaker_name(prefix, 123456, "arn:aws:states:us-east-1:123456789012:execution:sm:deploy-v1")
    assert len(name) <= 63
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name), name
    assert name.endswith("-v123456-" + name.rsplit("-", 1)[1])
    assert name == sagemaker_name(prefix, 123456, "arn:aws:states:us-east-1:123456789012:execution:sm:deploy-v1")
