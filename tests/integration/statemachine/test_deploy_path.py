"""The deploy path of the state machine, executed for real in moto from the ASL file and the template's values."""

from __future__ import annotations

import json
from typing import Any, Literal

import boto3

from tests.integration.statemachine.stack import (
    GROUP,
    REGION,
    SECURITY_GROUPS,
    SUBNETS,
    Stack,
    executed_states,
    wait_for_execution,
)

ApprovalStatus = Literal["Approved", "PendingManualApproval", "Rejected"]


def register_package(status: ApprovalStatus = "Approved") -> str:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    arn: str = sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [
                {
                    "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5",
                    "ModelDataUrl": "s3://abalone-mlops-artifacts/models/model.tar.gz",
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    return arn


def deploy(stack: Stack, name: str, **fields: Any) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    execution_input = {"Mode": "deploy", **fields}
    arn = sfn.start_execution(stateMachineArn=stack.state_machine_arn, name=name, input=json.dumps(execution_input))[
        "executionArn"
    ]
    return wait_for_execution(arn)


def test_deploy_creates_a_vpc_bound_endpoint_when_none_exists(stack: Stack) -> None:
    # GIVEN an approved package and no endpoint
    package = register_package()
    # WHEN a deployment to the endpoint runs
    result = deploy(stack, "deploy-create", ModelPackageArn=package, Target="endpoint")
    # THEN it succeeds, creating the endpoint through CreateEndpoint with a network-isolated model in the VPC
    assert result["status"] == "SUCCEEDED", result
    states = executed_states(result["executionArn"])
    assert "CreateEndpoint" in states and "UpdateEndpoint" not in states
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    endpoint = sagemaker.describe_endpoint(EndpointName="abalone-mlops-endpoint")
    assert endpoint["EndpointStatus"] == "InService"
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert config["KmsKeyId"] == stack.kms_key_arn
    assert config["ProductionVariants"][0]["InitialInstanceCount"] == 2
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    assert model["VpcConfig"] == {"Subnets": SUBNETS, "SecurityGroupIds": SECURITY_GROUPS}
    assert model["EnableNetworkIsolation"] is True
    assert model["PrimaryContainer"]["ModelPackageName"] == package
    assert model["ExecutionRoleArn"] == stack.role_arn
    assert len(model["ModelName"]) <= 63 and "-v1-" in model["ModelName"]
    assert [n["Subject"] for n in stack.notifications()] == ["Model deployed to the endpoint"]


def test_deploy_updates_the_existing_endpoint(stack: Stack) -> None:
    first, second = register_package(), register_package()
    assert deploy(stack, "deploy-first", ModelPackageArn=first, Target="endpoint")["status"] == "SUCCEEDED"
    result = deploy(stack, "deploy-second", ModelPackageArn=second, Target="endpoint")
    assert result["status"] == "SUCCEEDED", result
    states = executed_states(result["executionArn"])
    assert "UpdateEndpoint" in states and "CreateEndpoint" not in states
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    endpoint = sagemaker.describe_endpoint(EndpointName="abalone-mlops-endpoint")
    model_name = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])[
        "ProductionVariants"
    ][0]["ModelName"]
    assert sagemaker.describe_model(ModelName=model_name)["PrimaryContainer"]["ModelPackageName"] == second


def test_deploy_as_batch_transform(stack: Stack) -> None:
    package = register_package()
    result = deploy(stack, "deploy-batch", ModelPackageArn=package, Target="batch")
    assert result["status"] == "SUCCEEDED", result
    assert "CreateTransformJob" in executed_states(result["executionArn"])
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    jobs = sagemaker.list_transform_jobs()["TransformJobSummaries"]
    assert len(jobs) == 1
    job = sagemaker.describe_transform_job(TransformJobName=jobs[0]["TransformJobName"])
    assert job["TransformInput"]["SplitType"] == "Line"
    assert job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{stack.bucket}/batch/input/"
    assert job["TransformOutput"]["KmsKeyId"] == stack.kms_key_arn
    assert job["TransformOutput"]["S3OutputPath"].startswith(f"s3://{stack.bucket}/batch/output/")
    assert job["TransformResources"]["VolumeKmsKeyId"] == stack.kms_key_arn
    assert job["DataProcessing"]["JoinSource"] == "Input"
    assert sagemaker.list_endpoints()["Endpoints"] == []


def test_deploy_of_a_package_that_is_not_approved_fails_and_deploys_nothing(stack: Stack) -> None:
    package = register_package("PendingManualApproval")
    result = deploy(stack, "deploy-pending", ModelPackageArn=package, Target="endpoint")
    assert result["status"] == "FAILED"
    assert result["error"] == "ModelPackageNotApproved"
    assert "PendingManualApproval" in result["cause"]
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    assert sagemaker.list_models()["Models"] == []
    assert sagemaker.list_endpoints()["Endpoints"] == []
    (notification,) = stack.notifications()
    assert notification["Subject"] == "Train-and-deploy execution failed"
    assert "ModelPackageNotApproved" in notification["Message"] and package in notification["Message"]


def test_bad_input_fails_with_a_message_naming_the_field(stack: Stack) -> None:
    result = deploy(stack, "deploy-bad", ModelPackageArn="not-an-arn", Target="endpoint")
    assert result["status"] == "FAILED"
    assert result["error"] == "InvalidInput"
    assert (
        "ModelPackageArn: 'not-an-arn' is not a valid model package ARN" in json.loads(result["cause"])["errorMessage"]
    )
    assert boto3.client("sagemaker", region_name=REGION).list_models()["Models"] == []
