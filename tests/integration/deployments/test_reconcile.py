"""Deployment decisions under real event delivery: the endpoint serves the highest Approved version.

Everything here runs end to end in the emulated account: SageMaker sends its "Model Package State Change" events
(several per change when asked), EventBridge delivers them asynchronously to the reconciler built by ``sam build``
(python3.13 worker), which starts the deploy state machine from deploy.asl.json. Tests change the registry only as
a reviewer would (UpdateModelPackage) or redeliver an event as EventBridge may (at least once, in any order).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.integration.account import Stacks, TestStack

DEPLOYED = "deployed to the endpoint"


def reconcile_outcomes(stack: TestStack) -> list[str]:
    """The reconciler's outcome of every event it handled (started, no-change, already-running...)."""
    return [
        record.response["Status"]
        for record in stack.aws.lambdas.records
        if record.function == stack.function("ReconcileDeploymentsFunction") and record.error_type is None
    ]


def sent_event(stack: TestStack, package_arn: str, status: str) -> dict[str, Any]:
    """The last event SageMaker sent for the package in that status, as EventBridge delivers it."""
    for sent in reversed(stack.aws.model_package_events.sent):
        detail = sent["detail"]
        if detail["ModelPackageArn"] == package_arn and detail["ModelApprovalStatus"] == status:
            return {
                "version": "0",
                "id": sent["id"],
                "detail-type": "SageMaker Model Package State Change",
                "source": "aws.sagemaker",
                "account": stack.aws.account_id,
                "time": "2026-12-01T08:00:00Z",
                "region": stack.aws.region,
                "resources": [package_arn],
                "detail": detail,
            }
    raise AssertionError(f"SageMaker sent no {status} event for {package_arn}")


def redeliver(stack: TestStack, event: dict[str, Any]) -> None:
    """EventBridge delivering the same event again (asynchronous invocation, as the rule's target)."""
    stack.client("lambda").invoke(
        FunctionName=stack.function("ReconcileDeploymentsFunction"),
        InvocationType="Event",
        Payload=json.dumps(event).encode(),
    )


def requests_toward(stack: TestStack, package_arn: str) -> list[dict[str, Any]]:
    """The CreateEndpoint / UpdateEndpoint calls whose config serves the package."""
    sagemaker = stack.client("sagemaker")
    found = []
    for request in stack.aws.deployments.endpoint_requests:
        config = sagemaker.describe_endpoint_config(EndpointConfigName=request["EndpointConfigName"])
        model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
        if model["PrimaryContainer"]["ModelPackageName"] == package_arn:
            found.append(request)
    return found


def test_approval_deploys_and_a_metadata_edit_of_the_live_version_changes_nothing(stack: TestStack) -> None:
    # GIVEN version 1 registered, awaiting approval
    v1 = stack.register("PendingManualApproval")
    assert stack.settle() == [] and stack.live_package() is None
    # WHEN it is approved
    stack.set_status(v1, "Approved", ApprovalDescription="looks good")
    (execution,) = stack.settle()
    # THEN it is deployed, once, and the team hears it
    assert execution["status"] == "SUCCEEDED" and stack.live_package() == v1
    (notification,) = stack.notifications()
    assert DEPLOYED in notification["Subject"] and "now serves version 1 (was: no model)" in notification["Message"]
    models = stack.client("sagemaker").list_models()["Models"]
    # WHEN its description and metadata are edited (SageMaker sends an event for that too)
    stack.client("sagemaker").update_model_package(
        ModelPackageArn=v1, ApprovalDescription="approved after review", CustomerMetadataProperties={"ticket": "ML-7"}
    )
    # THEN no new execution, model, endpoint config or notification
    assert len(stack.settle()) == 1
    assert stack.client("sagemaker").list_models()["Models"] == models
    assert len(stack.client("sagemaker").list_endpoint_configs()["EndpointConfigs"]) == 1
    assert stack.notifications() == []
    assert reconcile_outcomes(stack)[-1] == "no-change"
    described = stack.client("sagemaker").describe_model_package(ModelPackageName=v1)
    assert described["ModelApprovalStatus"] == "Approved"  # an edit keeps the status, as in SageMaker
    assert described["CustomerMetadataProperties"] == {"ticket": "ML-7"}


@pytest.mark.parametrize("order", ["v1-first", "v2-first"])
def test_two_approvals_1ms_apart_end_with_v2_live_whatever_the_delivery(stack: TestStack, order: str) -> None:
    # GIVEN v1 and v2 registered, and SageMaker sending every event twice (its documentation says it may)
    v1, v2 = stack.register("PendingManualApproval"), stack.register("PendingManualApproval")
    stack.settle()
    stack.aws.model_package_events.copies = 2
    # WHEN both are approved 1 ms apart, in either order
    for package in [v1, v2] if order == "v1-first" else [v2, v1]:
        stack.set_status(package, "Approved")
        time.sleep(0.001)
    stack.settle()
    # ... and v2's approval event is delivered once more, late
    redeliver(stack, sent_event(stack, v2, "Approved"))
    executions = stack.settle()
    # THEN v2 is live, exactly one endpoint change went to v2, and no execution claimed v2 was superseded
    assert stack.live_package() == v2
    assert len(requests_toward(stack, v2)) == 1
    assert stack.aws.deployments.endpoint_requests[-1] == requests_toward(stack, v2)[0]
    assert all(e["status"] == "SUCCEEDED" for e in executions)
    messages = [n["Message"] for n in stack.notifications()]
    assert not [m for m in messages if "version 2" in m and "stood down" in m.lower()]
    assert "already-running" in reconcile_outcomes(stack) or "no-change" in reconcile_outcomes(stack)


def test_a_late_event_for_an_older_version_leaves_the_newer_one_live(stack: TestStack) -> None:
    # GIVEN v1 and v2 approved, v2 live
    v1 = stack.register("Approved")
    stack.settle()
    v2 = stack.register("Approved")
    executions = stack.settle()
    assert stack.live_package() == v2
    stack.notifications()
    # WHEN v1's approval event arrives late
    redeliver(stack, sent_event(stack, v1, "Approved"))
    # THEN nothing changes
    assert len(stack.settle()) == len(executions)
    assert stack.live_package() == v2
    assert reconcile_outcomes(stack)[-1] == "no-change"
    assert stack.notifications() == []


def test_rejecting_the_live_version_redeploys_the_highest_remaining_one(stack: TestStack) -> None:
    v1 = stack.register("Approved")
    stack.settle()
    v2 = stack.register("Approved")
    stack.settle()
    stack.notifications()
    # WHEN the live version is rejected (rolling back is rejecting the bad version)
    stack.set_status(v2, "Rejected")
    stack.settle()
    # THEN v1 serves again, and the team is told from which version to which
    assert stack.live_package() == v1
    (notification,) = stack.notifications()
    assert "now serves version 1 (was: version 2)" in notification["Message"]


@pytest.mark.parametrize(
    ("policy", "endpoint_left", "subject"),
    [
        ("KeepLastModel", True, "No Approved model left: the endpoint keeps its model"),
        ("DeleteEndpoint", False, "No Approved model left: the endpoint was deleted"),
    ],
)
def test_rejecting_the_last_approved_version_applies_the_templates_choice(
    stacks: Stacks, policy: str, endpoint_left: bool, subject: str
) -> None:
    stack = stacks.get(WhenNoApprovedModel=policy)
    for each in stacks:
        each.reset()
    v1 = stack.register("Approved")
    stack.settle()
    v2 = stack.register("Approved")
    stack.settle()
    stack.set_status(v2, "Rejected")
    stack.settle()
    assert stack.live_package() == v1
    stack.notifications()
    # WHEN v1 is rejected too
    stack.set_status(v1, "Rejected")
    stack.settle()
    # THEN the template's choice happens, and is notified
    assert (stack.live_config() is not None) is endpoint_left
    if endpoint_left:
        assert stack.live_package() == v1
    (notification,) = stack.notifications()
    assert notification["Subject"] == subject
    assert f"{'keeps serving' if endpoint_left else 'it served'} version 1" in notification["Message"]
    # ... once: a later event (an edit of a rejected version) changes nothing and tells no one again
    stack.client("sagemaker").update_model_package(ModelPackageArn=v2, ApprovalDescription="bad calibration")
    stack.settle()
    assert stack.notifications() == []


def test_a_pending_registration_starts_nothing(stack: TestStack) -> None:
    stack.register("PendingManualApproval")
    assert stack.settle() == []
    assert reconcile_outcomes(stack) == ["no-change"]


def test_an_execution_that_stood_down_hands_over_when_it_ends(stack: TestStack) -> None:
    """An event that finds the transition's execution running leaves the work to it; if that execution read the
    registry before the event's change, its end (Step Functions' status-change event) is what reconciles again."""
    # GIVEN v1 Approved, with the registry's events reaching no one -- as when the reconciler found an execution
    # running and left it the work -- and v2 Rejected
    rule = stack.stack.ref("ModelRegistryRule")
    events = stack.client("events")
    events.disable_rule(Name=rule)
    try:
        v1 = stack.register("Approved")
        v2 = stack.register("Rejected")
    finally:
        events.enable_rule(Name=rule)
    # WHEN an execution started for v2 (Approved when its reconciler read the registry) plans, stands down and ends
    stood_down = stack.start(stack.deploy_machine, "deploy-v2-read-too-early", {"ModelPackageArn": v2})
    executions = stack.settle()
    # THEN its end is a reason to reconcile: v1, the highest Approved, goes live
    assert stack.finish(stood_down)["Outcome"] == "StoodDown"
    assert stack.live_package() == v1
    assert [(e["name"].split("-")[1], e["status"]) for e in executions] == [("v2", "SUCCEEDED"), ("v1", "SUCCEEDED")]
    assert reconcile_outcomes(stack) == ["started", "no-change"]  # after each end: v1's, then nothing left to do
