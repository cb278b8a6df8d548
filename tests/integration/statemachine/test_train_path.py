"""The train path of the state machine, executed for real in moto; the pipeline run is reported by a test runner
plugged into local_twin.emulator (moto itself would report every execution "Succeeded" with no steps)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

import boto3

from local_twin.emulator import Emulator, PipelineStart
from mlops_shared.deploy_tokens import tokens_in
from tests.integration.statemachine.stack import GROUP, REGION, Stack, executed_states, wait_for_execution
from tests.integration.statemachine.test_deploy_path import ApprovalStatus, register_package

REGISTER_STEP = "RegisterAbaloneModel-RegisterModel"


def registering_runner(emulator: Emulator) -> None:
    """Plays the pipeline: registers a package with the run's ModelApprovalStatus and reports the steps."""

    def run(start: PipelineStart) -> None:
        status = start.parameters.get("ModelApprovalStatus", "PendingManualApproval")
        package = register_package(cast("ApprovalStatus", status))
        emulator.pipelines.report(
            start.execution_arn,
            "Succeeded",
            steps=[
                {"StepName": REGISTER_STEP, "StepStatus": "Succeeded", "Metadata": {"RegisterModel": {"Arn": package}}},
                {"StepName": "TrainAbaloneModel", "StepStatus": "Succeeded", "Metadata": {}},
            ],
        )

    emulator.pipelines.runner = run


def train(stack: Stack, name: str, **fields: Any) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.start_execution(
        stateMachineArn=stack.state_machine_arn, name=name, input=json.dumps({"Mode": "train", **fields})
    )["executionArn"]
    return wait_for_execution(arn)


def deploy_executions(stack: Stack) -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    listed = sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]
    return [dict(e) for e in listed if e["name"].startswith("deploy-v")]


def deployment_input(execution: dict[str, Any]) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    described: dict[str, Any] = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    return described


def test_train_with_an_approved_model_deploys_it_to_the_endpoint(
    stack: Stack, aws: Emulator, load_event: Callable[[str], dict[str, Any]]
) -> None:
    registering_runner(aws)
    result = train(stack, "train-approved", PipelineParameters={"ModelApprovalStatus": "Approved"}, Target="endpoint")
    assert result["status"] == "SUCCEEDED", result
    states = executed_states(result["executionArn"])
    assert states[:3] == ["ValidateInput", "ChooseMode", "UpsertPipeline"]
    assert "StartDeployment" in states
    # the pipeline was upserted with every deploy token filled, its code uploaded encrypted with the project key
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    definition = sagemaker.describe_pipeline(PipelineName="abalone-mlops-pipeline")["PipelineDefinition"]
    assert tokens_in(definition) == set()
    assert GROUP in definition and stack.bucket in definition
    s3 = boto3.client("s3", region_name=REGION)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=stack.bucket, Prefix="pipeline-code/")["Contents"]]
    assert keys and all(k in definition for k in keys)
    head = s3.head_object(Bucket=stack.bucket, Key=keys[0])
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == stack.kms_key_arn
    # the execution overrides reached the pipeline
    executions = sagemaker.list_pipeline_executions(PipelineName="abalone-mlops-pipeline")["PipelineExecutionSummaries"]
    assert len(executions) == 1
    # exactly one deploy execution, and it put the model on the endpoint
    (deployment,) = deploy_executions(stack)
    assert wait_for_execution(deployment["executionArn"])["status"] == "SUCCEEDED"
    endpoint = sagemaker.describe_endpoint(EndpointName="abalone-mlops-endpoint")
    assert endpoint["EndpointStatus"] == "InService"
    # SageMaker may also emit an approval event for the package registered Approved: it deploys nothing more
    assert deployment_input(deployment)["Trigger"] == "train:train-approved"
    package = deployment_input(deployment)["ModelPackageArn"]
    event = load_event("on_model_approved/approved.json")
    event["detail"].update(ModelPackageArn=package, ModelPackageVersion=int(package.rsplit("/", 1)[1]))
    answer = boto3.client("lambda", region_name=REGION).invoke(
        FunctionName="OnModelApprovedFunction", Payload=json.dumps(event)
    )
    assert json.loads(answer["Payload"].read())["Status"] == "duplicate"
    assert len(deploy_executions(stack)) == 1


def test_train_with_a_pending_model_notifies_and_deploys_nothing(stack: Stack, aws: Emulator) -> None:
    registering_runner(aws)
    result = train(stack, "train-pending", PipelineParameters={"ModelApprovalStatus": "PendingManualApproval"})
    assert result["status"] == "SUCCEEDED", result
    assert executed_states(result["executionArn"])[-2:] == ["NotifyAwaitingApproval", "AwaitingApproval"]
    assert deploy_executions(stack) == []
    (notification,) = stack.notifications()
    assert notification["Subject"] == "Model awaiting approval"
    assert f"model-package/{GROUP}/1" in notification["Message"]


def test_train_with_a_failed_pipeline_fails_with_the_reason(stack: Stack, aws: Emulator) -> None:
    def fail(start: PipelineStart) -> None:
        aws.pipelines.report(
            start.execution_arn,
            "Failed",
            steps=[{"StepName": "FailOnHighMse", "StepStatus": "Failed", "FailureReason": "MSE 9.1 above 6.0"}],
        )

    aws.pipelines.runner = fail
    result = train(stack, "train-failed")
    assert result["status"] == "FAILED"
    assert result["error"] == "PipelineFailed"
    assert "Failed: step FailOnHighMse: MSE 9.1 above 6.0" in result["cause"]
    (notification,) = stack.notifications()
    assert notification["Subject"] == "Train-and-deploy execution failed"
    assert "MSE 9.1 above 6.0" in notification["Message"]
    assert deploy_executions(stack) == []


def test_train_gives_up_after_the_bounded_number_of_polls(stack: Stack, aws: Emulator) -> None:
    aws.pipelines.runner = lambda start: None  # the pipeline never finishes
    result = train(stack, "train-stuck", MaxPolls=3)
    assert result["status"] == "FAILED"
    assert result["error"] == "PipelineTimeout"
    assert executed_states(result["executionArn"]).count("DescribePipelineExecution") == 3
    # the pipeline execution it gave up on is stopped, so it cannot register (and deploy) a model afterwards
    (pipeline_execution,) = aws.pipelines.stop_requested
    status = boto3.client("sagemaker", region_name=REGION).describe_pipeline_execution(
        PipelineExecutionArn=pipeline_execution
    )["PipelineExecutionStatus"]
    assert status in ("Stopping", "Stopped")  # Stopping until the (here idle) runner acknowledges, as in AWS


def test_pipeline_parameters_from_the_input_reach_the_pipeline(stack: Stack, aws: Emulator) -> None:
    seen: list[dict[str, str]] = []

    def record(start: PipelineStart) -> None:
        seen.append(start.parameters)
        aws.pipelines.report(start.execution_arn, "Succeeded", steps=[])

    aws.pipelines.runner = record
    result = train(
        stack, "train-params", PipelineParameters={"MseThreshold": 5.5, "TrainingInstanceType": "ml.m5.xlarge"}
    )
    assert result["status"] == "SUCCEEDED"
    assert seen == [{"MseThreshold": "5.5", "TrainingInstanceType": "ml.m5.xlarge"}]
    assert executed_states(result["executionArn"])[-1] == "NothingToDeploy"
