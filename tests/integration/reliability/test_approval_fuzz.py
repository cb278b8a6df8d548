"""Fuzz the approval handler over event shapes: it starts exactly one valid deploy execution for the one real
approval, or answers "duplicate" / "not-approved" and starts nothing, or raises a validation error; never anything
else (no service error, no second execution)."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.integration.reliability.harness import LoadEvent, executions, invoke, register_package
from tests.integration.statemachine.stack import REGION, Stack

VALIDATION_ERRORS = {"ValidationError", "WrongModelPackageGroup", "UnknownModelPackage", "ValueError"}
MISSING = object()
ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/{}/{}"

_junk = st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=12), st.lists(st.integers(), max_size=2))


@st.composite
def mutations(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed event for one of the packages, with up to two fields dropped or replaced (so most examples reach
    the deployment logic rather than stopping at the parser)."""
    valid = {
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Model Package State Change",
        "id": draw(st.sampled_from(["e-1", "e-2"]) | st.uuids().map(str)),
        "group": "abalone",
        "package": draw(st.sampled_from(["approved", "approved", "pending", "foreign", "unknown"])),
        "version": "real",
        "status": "Approved",
        "detail_is_object": True,
    }
    hostile = {
        "source": st.sampled_from(["aws.events", MISSING]) | _junk,
        "detail-type": st.sampled_from(["Other", MISSING]) | _junk,
        "id": st.just(MISSING) | _junk,
        "group": st.sampled_from(["other", "", MISSING]) | _junk,
        "package": st.sampled_from(["malformed", MISSING]) | _junk,
        "version": st.just(MISSING) | st.integers(-2, 9) | _junk,
        "status": st.sampled_from(["Rejected", "PendingManualApproval", "approved", MISSING]) | _junk,
        "detail_is_object": st.just(False),
    }
    for name in draw(st.sets(st.sampled_from(sorted(hostile)), max_size=2)):
        valid[name] = draw(hostile[name])
    return valid


def build_event(base: dict[str, Any], packages: dict[str, str], m: dict[str, Any]) -> Any:
    event = copy.deepcopy(base)
    detail = event["detail"]

    def put(target: dict[str, Any], key: str, value: Any) -> None:
        if value is MISSING:
            target.pop(key, None)
        else:
            target[key] = value

    put(event, "source", m["source"])
    put(event, "detail-type", m["detail-type"])
    put(event, "id", m["id"])
    put(detail, "ModelPackageGroupName", m["group"])
    package = m["package"]
    arn = packages.get(package, package) if isinstance(package, str) else package
    put(detail, "ModelPackageArn", arn)
    version = m["version"]
    if version == "real" and isinstance(arn, str):
        version = int(arn.rsplit("/", 1)[1]) if arn.rsplit("/", 1)[-1].isdigit() else 1
    put(detail, "ModelPackageVersion", version)
    put(detail, "ModelApprovalStatus", m["status"])
    if not m["detail_is_object"]:
        event["detail"] = json.dumps(detail)
    return event


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(mutation=mutations())
def test_the_approval_handler_starts_one_valid_execution_or_raises_a_validation_error(
    stack: Stack, load_event: LoadEvent, mutation: dict[str, Any]
) -> None:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    if not sagemaker.list_model_packages(ModelPackageGroupName="abalone")["ModelPackageSummaryList"]:
        sagemaker.create_model_package_group(ModelPackageGroupName="other")
        register_package(), register_package("PendingManualApproval")  # abalone/1 Approved, abalone/2 Pending
        sagemaker.create_model_package(ModelPackageGroupName="other", ModelApprovalStatus="Approved")
    packages = {
        "approved": ARN.format("abalone", 1),
        "pending": ARN.format("abalone", 2),
        "foreign": ARN.format("other", 1),
        "unknown": ARN.format("abalone", 99),
        "malformed": "model-package/abalone/1",
    }
    approval = build_event(load_event("on_model_approved/approved.json"), packages, mutation)
    before = {e["executionArn"] for e in executions(stack)}

    payload, error = invoke("OnModelApprovedFunction", approval)

    after = {e["executionArn"]: e for e in executions(stack)}
    started = set(after) - before
    event(payload.get("errorType") or payload.get("Status") or "?")  # shown by --hypothesis-show-statistics
    if error is not None:
        assert payload["errorType"] in VALIDATION_ERRORS, payload
        assert started == set()
        return
    assert payload["Status"] in ("started", "duplicate", "not-approved"), payload
    if payload["Status"] == "started":
        assert payload["ExecutionArn"] in after and len(started) <= 1  # 0: the same event, delivered again
        described = boto3.client("stepfunctions", region_name=REGION).describe_execution(
            executionArn=payload["ExecutionArn"]
        )
        execution_input = json.loads(described["input"])
        assert execution_input["Mode"] == "deploy" and execution_input["Target"] == "endpoint"
        assert execution_input["ModelPackageArn"] == packages["approved"]
    else:
        assert started == set()
    # one approval, one deployment: never a second execution for the approved package
    assert len(after) <= 1
