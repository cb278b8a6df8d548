"""The reconciler's two triggers, checked: a model-registry event of this stack's group, or the end of one of its
deploy executions. Anything else is refused with one sentence that says what it is instead."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import ValidationError, parse

from deployments.models import ExecutionStatusChange, ModelPackageStateChange
from mlops_shared import arns
from mlops_shared.problems import describe


class InvalidEvent(ValueError):
    """The event is neither a "SageMaker Model Package State Change" of this stack's group, account and region nor
    a "Step Functions Execution Status Change" of its deploy state machine's succeeded executions."""


def _envelope(event: Any) -> str | None:
    """What a wrapped event is, named (SQS and SNS deliver EventBridge events inside their own records)."""
    if isinstance(event, str | bytes):
        return "the event is a string, not a JSON object: deliver the EventBridge event itself, not its text"
    if not isinstance(event, dict):
        return f"the event is a {type(event).__name__}, not a JSON object"
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], dict):
        source = records[0].get("eventSource") or records[0].get("EventSource")
        if source == "aws:sqs" or "body" in records[0]:
            return (
                "this is an SQS envelope (Records[].body), not an EventBridge event: target the function from the "
                "EventBridge rule directly, or unwrap each body before invoking it"
            )
        if source == "aws:sns" or "Sns" in records[0]:
            return (
                "this is an SNS envelope (Records[].Sns.Message), not an EventBridge event: target the function from "
                "the EventBridge rule directly, or unwrap each message before invoking it"
            )
    return None


def parse_state_change(event: Any, *, group: str, account: str, region: str) -> ModelPackageStateChange:
    """The event, checked: its shape, its package's version against the ARN, its group, account and region."""
    wrapped = _envelope(event)
    if wrapped:
        raise InvalidEvent(wrapped)
    try:
        change: ModelPackageStateChange = parse(event=event, model=ModelPackageStateChange)
    except ValidationError as error:
        problems = describe(error.errors(), whole="event")
        raise InvalidEvent(f"not a SageMaker Model Package State Change event: {problems}") from None
    parts = arns.model_package_parts(change.detail.model_package_arn)
    if change.detail.model_package_group_name != group:
        raise InvalidEvent(
            f"the event is for group {change.detail.model_package_group_name!r}; this stack's is {group!r}"
        )
    if parts["account"] != account or change.account != account:
        raise InvalidEvent(
            f"the event's package {change.detail.model_package_arn} (event account {change.account}) is not in account "
            f"{account}, whose registry this stack deploys from"
        )
    if parts["region"] != region or change.region != region:
        raise InvalidEvent(
            f"the event's package {change.detail.model_package_arn} (event region {change.region}) is not in this "
            f"stack's region {region}"
        )
    return change


def parse_execution_end(event: Any, *, state_machine_arn: str) -> ExecutionStatusChange:
    """The event, checked: one of this stack's deploy executions, and it succeeded (the rule's pattern). A failed
    one is refused: reconciling after it would retry the same transition at once, and again after that."""
    try:
        ended: ExecutionStatusChange = parse(event=event, model=ExecutionStatusChange)
    except ValidationError as error:
        problems = describe(error.errors(), whole="event")
        raise InvalidEvent(f"not a Step Functions Execution Status Change event: {problems}") from None
    if ended.detail.state_machine_arn != state_machine_arn:
        raise InvalidEvent(
            f"the event is for state machine {ended.detail.state_machine_arn}; this stack deploys with "
            f"{state_machine_arn}"
        )
    if ended.detail.status != "SUCCEEDED":
        raise InvalidEvent(
            f"execution {ended.detail.name} is {ended.detail.status}: only a succeeded deploy execution is a reason "
            "to reconcile (a failed transition is retried by the next registry change)"
        )
    return ended


def parse_trigger(
    event: Any, *, group: str, account: str, region: str, state_machine_arn: str
) -> ModelPackageStateChange | ExecutionStatusChange:
    """Which trigger the event is, by its ``source``, then checked as that trigger."""
    if isinstance(event, dict) and event.get("source") == "aws.states":
        return parse_execution_end(event, state_machine_arn=state_machine_arn)
    return parse_state_change(event, group=group, account=account, region=region)
