"""Fault injection on the executed state machine: each fault's end state AND the notification the team receives.

Faults go through local_twin.emulator's documented API (``emulator.faults``); the ASL, the handlers and the
template's values are the ones that deploy.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from local_twin.emulator import Emulator, PipelineStart
from tests.integration.reliability.harness import (
    ENDPOINT,
    deploy,
    executions,
    history,
    live_config,
    live_package,
    register_package,
    sagemaker,
    start,
    subjects,
    wait_until,
)
from tests.integration.statemachine.stack import REGION, Stack, executed_states, wait_for_execution
from tests.integration.statemachine.test_train_path import train

FAILED = "Train-and-deploy execution failed"
DEPLOYED = "Model deployed to the endpoint"


def failure_notification(stack: Stack) -> dict[str, Any]:
    (notification,) = stack.notifications()
    assert notification["Subject"] == FAILED
    return notification


def test_throttling_then_success_is_retried(stack: Stack, aws: Emulator) -> None:
    # GIVEN SageMaker throttles the first CreateModel
    fault = aws.faults.api_error("sagemaker", "CreateModel", "ThrottlingException", "Rate exceeded")
    package = register_package()
    # WHEN a deployment runs
    result = deploy(stack, "throttled", ModelPackageArn=package, Target="endpoint")
    # THEN the state retried (the error named as Step Functions names it) and the deployment succeeded
    assert result["status"] == "SUCCEEDED", result
    assert fault.injected == 1
    failed = [e["taskFailedEventDetails"] for e in history(result["executionArn"]) if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failed] == ["SageMaker.AmazonSageMakerException"]
    assert "ThrottlingException" in failed[0]["cause"]
    assert live_package() == package
    (notification,) = stack.notifications()
    assert notification["Subject"] == DEPLOYED
    assert package in notification["Message"] and "version 1" in notification["Message"]
    assert "console.aws.amazon.com/states" in notification["Message"]


def test_resource_limit_exceeded_fails_with_a_clear_cause(stack: Stack, aws: Emulator) -> None:
    aws.faults.api_error(
        "sagemaker", "CreateEndpointConfig", "ResourceLimitExceeded", "account-level limit of ml.m5.large", times=None
    )
    package = register_package()
    result = deploy(stack, "limited", ModelPackageArn=package, Target="endpoint")
    assert result["status"] == "FAILED"
    assert result["error"] == "SageMaker.ResourceLimitExceededException"
    assert "ResourceLimitExceeded" in result["cause"] and "ml.m5.large" in result["cause"]
    assert sagemaker().list_endpoints()["Endpoints"] == []
    message = failure_notification(stack)["Message"]
    assert "Outcome: failed" in message and "ResourceLimitExceeded" in message and package in message


@pytest.mark.parametrize(("status", "reason"), [("Failed", "step TrainAbaloneModel: AlgorithmError"), ("Stopped", "")])
def test_a_failed_or_stopped_pipeline_fails_the_run_and_deploys_nothing(
    stack: Stack, aws: Emulator, status: str, reason: str
) -> None:
    def runner(started: PipelineStart) -> None:
        aws.pipelines.report(started.execution_arn, status, failure_reason=reason)

    aws.pipelines.runner = runner
    result = train(stack, f"pipeline-{status.lower()}")
    assert result["status"] == "FAILED"
    assert result["error"] == "PipelineFailed"
    assert (reason or f"pipeline execution {status}") in result["cause"]
    assert sagemaker().list_models()["Models"] == []
    message = failure_notification(stack)["Message"]
    assert "PipelineFailed" in message and (reason or status) in message


def test_a_failed_endpoint_update_is_rolled_back_and_reported_as_a_failure(stack: Stack, aws: Emulator) -> None:
    # GIVEN version 1 is live
    first, second = register_package(), register_package()
    assert deploy(stack, "v1", ModelPackageArn=first, Target="endpoint")["status"] == "SUCCEEDED"
    old_config = live_config()
    stack.notifications()
    # WHEN the update to version 2 trips an alarm and SageMaker rolls it back
    aws.faults.fail_endpoint_changes("Alarm abalone-mlops-endpoint-5xx-errors went into ALARM during traffic shifting")
    result = deploy(stack, "v2", ModelPackageArn=second, Target="endpoint")
    # THEN the execution failed with the rollback and its reason; the old config is still live and autoscaled
    assert result["status"] == "FAILED"
    assert result["error"] == "EndpointUpdateRolledBack"
    assert "5xx-errors went into ALARM" in result["cause"] and old_config in result["cause"]
    assert live_config() == old_config and live_package() == first
    assert sagemaker().describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] == "InService"
    states = executed_states(result["executionArn"])
    assert "RestoreScalableTarget" in states and "NotifyEndpointDeployed" not in states
    targets = boto3.client("application-autoscaling", region_name=REGION).describe_scalable_targets(
        ServiceNamespace="sagemaker"
    )["ScalableTargets"]
    assert [t["ResourceId"] for t in targets] == [f"endpoint/{ENDPOINT}/variant/AllTraffic"]
    message = failure_notification(stack)["Message"]
    assert "EndpointUpdateRolledBack" in message and "ALARM" in message and second in message


def test_a_new_endpoint_that_fails_is_reported(stack: Stack, aws: Emulator) -> None:
    aws.faults.fail_endpoint_changes("The primary container did not pass the ping health check")
    package = register_package()
    result = deploy(stack, "create-fails", ModelPackageArn=package, Target="endpoint")
    assert result["status"] == "FAILED" and result["error"] == "EndpointFailed"
    assert sagemaker().describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] == "Failed"
    message = failure_notification(stack)["Message"]
    assert "EndpointFailed" in message and "ping health check" in message


def test_a_failed_transform_job_is_reported(stack: Stack, aws: Emulator) -> None:
    aws.faults.fail_transform_jobs("ClientError: input has 9 columns, the model expects 8")
    package = register_package()
    result = deploy(stack, "transform-fails", ModelPackageArn=package, Target="batch")
    assert result["status"] == "FAILED" and result["error"] == "TransformFailed"
    assert "9 columns" in result["cause"]
    (job,) = sagemaker().list_transform_jobs()["TransformJobSummaries"]
    assert job["TransformJobStatus"] == "Failed"
    message = failure_notification(stack)["Message"]
    assert "TransformFailed" in message and package in message and '"Target":"batch"' in message


def test_exhausted_polls_are_a_timeout_error(stack: Stack, aws: Emulator) -> None:
    # GIVEN an endpoint that never leaves Creating
    aws.faults.hold_endpoint_changes()
    package = register_package()
    result = deploy(stack, "never-ready", ModelPackageArn=package, Target="endpoint", MaxPolls=3)
    assert result["status"] == "FAILED" and result["error"] == "EndpointTimeout"
    assert "within 3 polls" in result["cause"]
    assert executed_states(result["executionArn"]).count("DescribeEndpoint") == 3
    assert "EndpointTimeout" in failure_notification(stack)["Message"]
    aws.deployments.report_endpoint(ENDPOINT)  # release the hold


def test_a_transform_that_outlives_the_polls_is_stopped_and_reported(stack: Stack, aws: Emulator) -> None:
    # GIVEN a transform job that never finishes (a runner that never reports)
    aws.deployments.transform_runner = lambda job: None
    package = register_package()
    # WHEN the deploy execution runs out of polls
    result = deploy(stack, "transform-stuck", ModelPackageArn=package, Target="batch", MaxPolls=3)
    # THEN it fails with a timeout, and the job is stopped rather than left running (and billing)
    assert result["status"] == "FAILED" and result["error"] == "TransformTimeout"
    assert "StopTimedOutTransform" in executed_states(result["executionArn"])
    (job,) = sagemaker().list_transform_jobs()["TransformJobSummaries"]
    assert job["TransformJobStatus"] == "Stopped"
    assert "TransformTimeout" in failure_notification(stack)["Message"]


def test_concurrent_approvals_end_with_the_later_one_live(stack: Stack, aws: Emulator) -> None:
    # GIVEN a live endpoint, and updates that stay Updating until released (a real blue/green takes minutes)
    first, earlier, later = register_package(), register_package(), register_package()
    assert deploy(stack, "initial", ModelPackageArn=first, Target="endpoint")["status"] == "SUCCEEDED"
    stack.notifications()
    aws.faults.hold_endpoint_changes(times=2)
    # WHEN two approvals start deployments in quick succession
    a = start(stack, "approval-a", ModelPackageArn=earlier, Target="endpoint", PollSeconds=1, MaxPolls=120)
    b = start(stack, "approval-b", ModelPackageArn=later, Target="endpoint", PollSeconds=1, MaxPolls=120)
    # one of them updates the endpoint; the other finds it Updating and waits instead of failing
    wait_until(
        lambda: _finished(a, b) or "WaitForGate" in executed_states(a) + executed_states(b), "a deployment waiting"
    )
    wait_until(lambda: _release_held_updates(aws) and _finished(a, b), "both deployments finished", 2400)
    results = [wait_for_execution(arn) for arn in (a, b)]
    # THEN the later approval is live and no execution failed because the endpoint was Updating
    assert [r["status"] for r in results] == ["SUCCEEDED", "SUCCEEDED"], results
    assert live_package() == later
    # either both updated in turn, or the later one went first and the earlier one stood down (superseded)
    updates = [r["EndpointConfigName"] for r in aws.deployments.update_requests]
    assert updates[-1] == live_config()
    expected = [DEPLOYED, DEPLOYED] if len(updates) == 2 else [DEPLOYED, "Deployment superseded by a newer approval"]
    assert sorted(subjects(stack)) == sorted(expected)


def _release_held_updates(aws: Emulator) -> bool:
    if aws.deployments.changing():
        aws.deployments.report_endpoint(ENDPOINT)
    return True


def _finished(*arns: str) -> bool:
    client = boto3.client("stepfunctions", region_name=REGION)
    return all(client.describe_execution(executionArn=arn)["status"] != "RUNNING" for arn in arns)


def test_an_update_uses_blue_green_with_the_templates_traffic_shifting_and_rollback_alarms(
    stack: Stack, aws: Emulator
) -> None:
    first, second = register_package(), register_package()
    assert deploy(stack, "bg-1", ModelPackageArn=first, Target="endpoint")["status"] == "SUCCEEDED"
    result = deploy(stack, "bg-2", ModelPackageArn=second, Target="endpoint")
    assert result["status"] == "SUCCEEDED", result
    (request,) = aws.deployments.update_requests
    policy = request["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {
        "Type": "CANARY",
        "WaitIntervalInSeconds": 300,
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
    }
    assert policy["TerminationWaitInSeconds"] == 600
    alarms = [a["AlarmName"] for a in request["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]]
    assert alarms == ["abalone-mlops-endpoint-5xx-errors", "abalone-mlops-endpoint-model-latency"]
    # data capture: sampled, KMS-encrypted, under a prefix per endpoint
    capture = sagemaker().describe_endpoint_config(EndpointConfigName=live_config())["DataCaptureConfig"]
    assert capture["EnableCapture"] is True and capture["InitialSamplingPercentage"] == 20
    assert capture["KmsKeyId"] == stack.kms_key_arn
    assert capture["DestinationS3Uri"] == f"s3://{stack.bucket}/data-capture/{ENDPOINT}"
    # autoscaling: one target, one target-tracking policy, the same after the second deployment (idempotent)
    autoscaling = boto3.client("application-autoscaling", region_name=REGION)
    (target,) = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 4)
    (policy_,) = autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    tracking = policy_["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
    assert tracking["TargetValue"] == 200
    assert len(executions(stack)) == 2


def test_an_update_sagemaker_keeps_refusing_fails_after_three_attempts_with_its_message(
    stack: Stack, aws: Emulator
) -> None:
    first, second = register_package(), register_package()
    assert deploy(stack, "ok", ModelPackageArn=first, Target="endpoint")["status"] == "SUCCEEDED"
    stack.notifications()
    aws.faults.api_error(
        "sagemaker", "UpdateEndpoint", "ValidationException", "ml.m5.large is not supported for this model", times=None
    )
    result = deploy(stack, "refused", ModelPackageArn=second, Target="endpoint")
    assert result["status"] == "FAILED" and result["error"] == "EndpointChangeRefused"
    assert "is not supported for this model" in result["cause"]
    assert executed_states(result["executionArn"]).count("UpdateEndpoint") == 3
    assert live_package() == first
    assert "EndpointChangeRefused" in failure_notification(stack)["Message"]
