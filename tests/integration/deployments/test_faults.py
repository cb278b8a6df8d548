"""Faults injected into the emulated AWS: each one's end state AND what the team is told.

Faults go through the emulator's documented API (``aws.faults``, ``aws.deployments``); the ASL, the built functions
and the template's values are the ones that deploy. Deployments start as in AWS: a package is approved, SageMaker
sends its event, the reconciler starts the deploy execution.
"""

from __future__ import annotations

from typing import Any

from tests.integration.account import Stacks, TestStack, until

FAILED = "Deployment failed"


def deploy(stack: TestStack, **fields: Any) -> dict[str, Any]:
    """Approve a new version and wait for the deployment it causes; the last deploy execution, described."""
    stack.register("Approved")
    executions = stack.settle()
    return executions[-1]


def failure(stack: TestStack) -> str:
    (notification,) = stack.notifications()
    assert notification["Subject"] == FAILED
    return str(notification["Message"])


def test_throttling_is_retried_under_the_name_step_functions_gives_it(stack: TestStack) -> None:
    fault = stack.aws.faults.api_error("sagemaker", "CreateModel", "ThrottlingException", "Rate exceeded")
    result = deploy(stack)
    assert result["status"] == "SUCCEEDED", result
    assert fault.injected == 1
    failed = [e["taskFailedEventDetails"] for e in stack.history(result["executionArn"]) if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failed] == ["SageMaker.AmazonSageMakerException"]  # optimised integration, undeclared
    assert "Error Code: ThrottlingException" in failed[0]["cause"]
    (notification,) = stack.notifications()
    assert notification["Subject"] == "Model version 1 deployed to the endpoint"
    assert "console.aws.amazon.com/states" in notification["Message"]


def test_a_resource_limit_fails_with_sagemakers_name_and_message(stack: TestStack) -> None:
    stack.aws.faults.api_error(
        "sagemaker", "CreateEndpointConfig", "ResourceLimitExceeded", "account-level limit of ml.m5.large", times=None
    )
    result = deploy(stack)
    assert result["status"] == "FAILED"
    assert result["error"] == "SageMaker.ResourceLimitExceededException"  # declared by the service model
    assert "ml.m5.large" in result["cause"]
    assert stack.live_config() is None
    message = failure(stack)
    assert "ResourceLimitExceeded" in message and "still serves no model" in message


def test_a_failed_update_rolled_back_by_sagemaker_is_a_failure_and_scaling_is_restored(stack: TestStack) -> None:
    v1 = stack.register("Approved")
    stack.settle()
    old_config = stack.live_config()
    stack.notifications()
    stack.aws.faults.fail_endpoint_changes("Alarm abalone-mlops-endpoint-5xx went into ALARM during traffic shifting")
    result = deploy(stack)
    assert result["status"] == "FAILED" and result["error"] == "EndpointRolledBack"
    assert "went into ALARM" in result["cause"]
    assert stack.live_config() == old_config and stack.live_package() == v1
    states = stack.states(result["executionArn"])
    assert "RegisterScalableTarget" in states and "Prune" not in states
    targets = stack.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")
    assert [t["ResourceId"] for t in targets["ScalableTargets"]] == [f"endpoint/{stack.endpoint}/variant/AllTraffic"]
    assert "still serves version 1" in failure(stack)


def test_a_new_endpoint_that_fails_is_reported(stack: TestStack) -> None:
    stack.aws.faults.fail_endpoint_changes("The primary container did not pass the ping health check")
    result = deploy(stack)
    assert result["status"] == "FAILED" and result["error"] == "EndpointFailed"
    assert stack.client("sagemaker").describe_endpoint(EndpointName=stack.endpoint)["EndpointStatus"] == "Failed"
    assert "ping health check" in failure(stack)


def test_a_failed_endpoint_is_deleted_and_created_anew_by_the_next_deployment(stack: TestStack) -> None:
    # GIVEN v1's first deployment left the endpoint Failed
    stack.aws.faults.fail_endpoint_changes("The primary container did not pass the ping health check")
    deploy(stack)
    stack.notifications()
    # WHEN v2 is approved
    result = deploy(stack)
    # THEN the Failed endpoint (which SageMaker would not update) is deleted, and created again serving v2
    assert result["status"] == "SUCCEEDED", result
    states = stack.states(result["executionArn"])
    assert states.index("DeleteFailedEndpoint") < states.index("CreateEndpoint") and "UpdateEndpoint" not in states
    assert stack.client("sagemaker").describe_endpoint(EndpointName=stack.endpoint)["EndpointStatus"] == "InService"
    assert (stack.live_package() or "").endswith("/2")
    (notification,) = stack.notifications()
    assert notification["Subject"] == "Model version 2 deployed to the endpoint"
    assert "(was: no model (the endpoint was Failed))" in notification["Message"]


def test_an_endpoint_that_never_finishes_is_a_timeout(stack: TestStack) -> None:
    stack.aws.faults.hold_endpoint_changes()
    result = deploy(stack)
    assert result["status"] == "FAILED" and result["error"] == "EndpointTimedOut"
    assert "after 5 polls" in result["cause"]
    assert stack.states(result["executionArn"]).count("CheckResource") == 5
    assert "EndpointTimedOut" in failure(stack)
    stack.aws.deployments.report_endpoint(stack.endpoint)  # release the hold


def test_a_transform_that_fails_or_outlives_the_polls_is_reported_and_stopped(stacks: Stacks) -> None:
    stack = stacks.get(DefaultDeploymentTarget="batch")
    for each in stacks:
        each.reset()
    stack.aws.faults.fail_transform_jobs("ClientError: input has 9 columns, the model expects 8")
    failed = deploy(stack)
    assert failed["status"] == "FAILED" and failed["error"] == "TransformFailed"
    assert "9 columns" in failed["cause"] and "TransformFailed" in failure(stack)
    # a job that never ends: the last poll stops it (nothing keeps running, or billing)
    stack.aws.deployments.transform_runner = lambda job, account: None
    stuck = deploy(stack)
    assert stuck["status"] == "FAILED" and stuck["error"] == "TransformTimedOut"
    jobs = stack.client("sagemaker").list_transform_jobs()["TransformJobSummaries"]
    assert {job["TransformJobStatus"] for job in jobs if "-v2-" in job["TransformJobName"]} == {"Stopped"}


def test_a_busy_endpoint_makes_the_next_deployment_wait_not_fail(stacks: Stacks) -> None:
    stack = stacks.get(MaxPolls="3000")  # polls every 0 s here: enough of them to outlast the held update
    for each in stacks:
        each.reset()
    stack.register("Approved")
    stack.settle()
    # GIVEN version 2's update holds the endpoint Updating (a blue/green update takes minutes)
    stack.aws.faults.hold_endpoint_changes()
    stack.register("Approved")
    until(lambda: stack.aws.deployments.changing() == [stack.endpoint], "v2's update in progress")
    # WHEN version 3 is approved meanwhile
    v3 = stack.register("Approved")
    until(lambda: any("WaitForGate" in stack.states(e["executionArn"]) for e in stack.executions()), "a gate wait")
    stack.aws.deployments.report_endpoint(stack.endpoint)  # v2's update completes
    executions = stack.settle()
    # THEN version 3 is live and no execution failed because the endpoint was busy
    assert [e["status"] for e in executions] == ["SUCCEEDED"] * 3
    assert stack.live_package() == v3


def test_sagemaker_refusing_a_change_is_retried_at_most_three_times_unless_the_refusal_is_final(
    stack: TestStack,
) -> None:
    stack.register("Approved")
    stack.settle()
    stack.notifications()
    # a refusal that may pass (another change in progress) is retried after a wait, at most three times
    stack.aws.faults.api_error(
        "sagemaker", "UpdateEndpoint", "ValidationException", 'Cannot update in-progress endpoint "x".', times=None
    )
    busy = deploy(stack)
    assert busy["status"] == "FAILED" and busy["error"] == "EndpointChangeRefused"
    assert "in-progress" in busy["cause"]
    assert stack.states(busy["executionArn"]).count("WaitForGate") == 3
    assert "EndpointChangeRefused" in failure(stack)
    # a refusal that will not pass fails at once, with SageMaker's message
    stack.aws.faults.clear()
    stack.aws.faults.api_error(
        "sagemaker", "UpdateEndpoint", "ValidationException", "ml.m5.large is not supported for this model", times=None
    )
    final = deploy(stack)
    assert final["status"] == "FAILED" and "is not supported for this model" in final["cause"]
    assert "WaitForGate" not in stack.states(final["executionArn"])
