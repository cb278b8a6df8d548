"""Events and lifecycle: duplicate approvals, rejection of the live model, pruning, and clean-up on stack deletion.

The handlers are invoked as Lambda would invoke them (the emulator runs each template Handler with its environment);
EventBridge delivery itself is not emulated by moto (FACTS.md), so the tests deliver the events.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from local_twin.emulator import Emulator
from tests.integration.reliability.harness import (
    LoadEvent,
    deploy,
    executions,
    invoke,
    live_config,
    live_package,
    register_package,
    sagemaker,
    set_status,
    state_change_event,
    subjects,
)
from tests.integration.statemachine.stack import REGION, Stack, create_stack, wait_for_execution

DEPLOYED = "Model deployed to the endpoint"


def test_a_duplicate_approval_event_starts_exactly_one_deployment(stack: Stack, load_event: LoadEvent) -> None:
    package = register_package()
    event = state_change_event(load_event, package, "Approved", "11111111-0000-4000-8000-000000000001")
    # SageMaker may send several events (other ids) for one change; EventBridge may deliver each more than once
    resent = dict(event, id="11111111-0000-4000-8000-000000000002")
    answers = [invoke("OnModelApprovedFunction", e)[0] for e in (event, event, resent)]
    # the same event again is the same StartExecution call (same name, same input: Step Functions answers with the
    # execution it started); another event for the same approval is refused as a duplicate
    assert [a["Status"] for a in answers] == ["started", "started", "duplicate"]
    assert len({a["ExecutionArn"] for a in answers}) == 1
    (execution,) = executions(stack)
    assert wait_for_execution(execution["executionArn"])["status"] == "SUCCEEDED"
    assert live_package() == package
    assert subjects(stack) == [DEPLOYED]


def test_rejecting_the_live_model_redeploys_the_newest_remaining_approved_one(
    stack: Stack, load_event: LoadEvent
) -> None:
    # GIVEN versions 1, 2 approved (2 live), version 3 pending
    first, second, _ = register_package(), register_package(), register_package("PendingManualApproval")
    assert deploy(stack, "v1", ModelPackageArn=first, Target="endpoint")["status"] == "SUCCEEDED"
    assert deploy(stack, "v2", ModelPackageArn=second, Target="endpoint")["status"] == "SUCCEEDED"
    stack.notifications()
    # WHEN version 2 is rejected (the event delivered twice)
    set_status(second, "Rejected")
    event = state_change_event(load_event, second, "Rejected", "22222222-0000-4000-8000-000000000001")
    answer, error = invoke("OnModelRejectedFunction", event)
    again, _ = invoke("OnModelRejectedFunction", dict(event, id="22222222-0000-4000-8000-000000000002"))
    # THEN version 1 is deployed again, exactly once, and the team hears of it
    assert error is None and answer["Status"] == "redeploying" and answer["ReplacementArn"] == first
    assert again["Status"] == "duplicate"
    assert len(executions(stack)) == 3
    assert wait_for_execution(answer["ExecutionArn"])["status"] == "SUCCEEDED"
    assert live_package() == first
    (notification,) = stack.notifications()
    assert notification["Subject"] == DEPLOYED and first in notification["Message"]


def test_rejecting_the_live_model_with_no_other_approved_version_notifies_and_leaves_the_endpoint(
    stack: Stack, load_event: LoadEvent
) -> None:
    only = register_package()
    assert deploy(stack, "only", ModelPackageArn=only, Target="endpoint")["status"] == "SUCCEEDED"
    config = live_config()
    stack.notifications()
    set_status(only, "Rejected")
    answer, _ = invoke("OnModelRejectedFunction", state_change_event(load_event, only, "Rejected", "r-1"))
    assert answer["Status"] == "none-left"
    assert live_config() == config and len(executions(stack)) == 1
    (notification,) = stack.notifications()
    assert notification["Subject"] == "Live model rejected: no approved model left"
    assert only in notification["Message"] and "left as it is" in notification["Message"]


def test_rejecting_a_package_that_is_not_live_changes_nothing(stack: Stack, load_event: LoadEvent) -> None:
    live, other = register_package(), register_package()
    assert deploy(stack, "live", ModelPackageArn=live, Target="endpoint")["status"] == "SUCCEEDED"
    set_status(other, "Rejected")
    answer, _ = invoke("OnModelRejectedFunction", state_change_event(load_event, other, "Rejected", "r-2"))
    assert answer["Status"] == "not-live" and live_package() == live and len(executions(stack)) == 1


def test_old_configs_and_models_are_pruned_beyond_the_last_n(aws: Emulator) -> None:
    stack = create_stack({"KeepLastDeployments": 2})
    packages = [register_package() for _ in range(4)]
    for number, package in enumerate(packages):
        assert deploy(stack, f"d{number}", ModelPackageArn=package, Target="endpoint")["status"] == "SUCCEEDED"
    configs = sagemaker().list_endpoint_configs()["EndpointConfigs"]
    models = sagemaker().list_models()["Models"]
    assert len(configs) == 2 and len(models) == 2
    assert live_config() in {c["EndpointConfigName"] for c in configs}
    assert live_package() == packages[-1]


def test_stack_deletion_removes_everything_the_deployments_created(
    stack: Stack, aws: Emulator, load_event: LoadEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN two endpoint deployments, a batch transform and the pipeline
    for number in range(2):
        package = register_package()
        assert deploy(stack, f"e{number}", ModelPackageArn=package, Target="endpoint")["status"] == "SUCCEEDED"
    assert deploy(stack, "b", ModelPackageArn=package, Target="batch")["status"] == "SUCCEEDED"
    client = sagemaker()
    client.create_pipeline(
        PipelineName="abalone-mlops-pipeline",
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
        RoleArn=stack.role_arn,
    )
    # WHEN CloudFormation deletes the stack (the custom resource's Delete; its answer is captured, not sent)
    import mlops_shared.cloudformation as custom_resource  # the module the dispatched handler answers through

    answers: list[dict[str, Any]] = []
    monkeypatch.setattr(custom_resource, "send", lambda url, body, timeout_seconds=10.0: answers.append(body))
    event = load_event("deployment_janitor/cfn-delete.json")
    payload, error = invoke("CleanupDeploymentsFunction", event)
    # THEN nothing tagged with the stack remains, and CloudFormation was told SUCCESS
    assert error is None, payload
    assert [a["Status"] for a in answers] == ["SUCCESS"]
    assert client.list_endpoints()["Endpoints"] == []
    assert client.list_endpoint_configs()["EndpointConfigs"] == []
    assert client.list_models()["Models"] == []
    assert client.list_pipelines()["PipelineSummaries"] == []
    autoscaling = boto3.client("application-autoscaling", region_name=REGION)
    assert autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    assert answers[0]["Data"]["Endpoints"] == "1"
    assert answers[0]["PhysicalResourceId"] == "deployment-cleanup/abalone-mlops"
    # and a retried Delete (CloudFormation retries) finds nothing and still succeeds
    assert invoke("CleanupDeploymentsFunction", event)[1] is None and answers[-1]["Status"] == "SUCCESS"
