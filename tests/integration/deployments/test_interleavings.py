"""Random interleavings of registry changes and event deliveries always converge on the highest Approved version.

Hypothesis draws sequences of approvals, rejections, metadata edits and duplicate deliveries over four versions and
applies them back to back (the events race each other and the deploy executions they start); endpoint changes take
a moment, as in SageMaker, so executions meet a busy endpoint. After everything settles the endpoint must serve the
highest Approved version (or, with none left, keep the last one: the template's default), and no two executions
may ever have changed the endpoint at the same time.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.account import TestStack
from tests.integration.deployments.test_reconcile import redeliver, sent_event

VERSIONS = 4
Operation = tuple[str, int]
operations = st.lists(
    st.tuples(st.sampled_from(["approve", "reject", "edit", "duplicate"]), st.integers(0, VERSIONS - 1)),
    min_size=1,
    max_size=8,
)


def slow_endpoint_changes(stack: TestStack) -> None:
    """Endpoints take a moment to create or update (the emulator's runner hook), so concurrency is real."""

    def runner(endpoint_name: str, config_name: str, account_id: str) -> None:
        def finish() -> None:
            time.sleep(0.05)
            stack.aws.deployments.report_endpoint(endpoint_name)

        threading.Thread(target=finish, daemon=True).start()

    stack.aws.deployments.endpoint_runner = runner


def apply(stack: TestStack, packages: list[str], operation: Operation) -> None:
    kind, index = operation
    arn = packages[index]
    sagemaker = stack.client("sagemaker")
    if kind == "approve":
        stack.set_status(arn, "Approved")
    elif kind == "reject":
        stack.set_status(arn, "Rejected")
    elif kind == "edit":
        sagemaker.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties={"edited": str(time.time())})
    else:
        status = sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]
        redeliver(stack, sent_event(stack, arn, status))


def overlapping(requests: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Pairs of endpoint changes whose [Started, Finished] intervals overlap."""
    spans = sorted((r["Started"], r["Finished"] or float("inf"), r["EndpointConfigName"]) for r in requests)
    return [(a[2], b[2]) for a, b in zip(spans, spans[1:], strict=False) if b[0] < a[1]]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=operations)
def test_any_interleaving_ends_with_the_highest_approved_version_live(
    stack: TestStack, sequence: list[Operation]
) -> None:
    stack.reset()
    slow_endpoint_changes(stack)
    packages = [stack.register("PendingManualApproval") for _ in range(VERSIONS)]
    stack.settle()
    for operation in sequence:
        apply(stack, packages, operation)
    executions = stack.settle()

    statuses = {
        arn: stack.client("sagemaker").describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]
        for arn in packages
    }
    approved = [arn for arn in packages if statuses[arn] == "Approved"]
    live = stack.live_package()
    if approved:
        assert live == approved[-1], f"{sequence}: live {live}, statuses {statuses}"
    else:
        assert live is None or statuses[live] != "Approved"  # KeepLastModel: the last one keeps serving
    assert not overlapping(stack.aws.deployments.endpoint_requests), sequence
    assert all(e["status"] == "SUCCEEDED" for e in executions), [(e["name"], e.get("error")) for e in executions]
