"""SageMaker's "Model Package State Change" events (local_twin.emulator.sagemaker) and how EventBridge delivers them
(local_twin.emulator.eventbridge): to an SQS target through moto's own delivery, to a Lambda target asynchronously
and only with the function's permission, never through a DISABLED rule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_twin.emulator import ACCOUNT_ID, Emulator
from tests.integration.emulator.conftest import INFERENCE, Resources

DETAIL_TYPE = "SageMaker Model Package State Change"
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")


def pattern(group: str) -> dict[str, Any]:
    return {"source": ["aws.sagemaker"], "detail-type": [DETAIL_TYPE], "detail": {"ModelPackageGroupName": [group]}}


def as_event_detail(node: Any) -> Any:
    """DescribeModelPackage's answer as an event's detail carries it: times as ISO 8601 strings in UTC ending in Z."""
    if isinstance(node, dict):
        return {key: as_event_detail(value) for key, value in node.items() if key != "ResponseMetadata"}
    if isinstance(node, list):
        return [as_event_detail(value) for value in node]
    if isinstance(node, datetime):
        return node.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return node


def times(node: Any, key: str = "") -> list[tuple[str, Any]]:
    """Every (key, value) whose key names a time, anywhere in the document."""
    if isinstance(node, dict):
        return [found for k, value in node.items() for found in times(value, k)]
    if isinstance(node, list):
        return [found for value in node for found in times(value, key)]
    return [(key, node)] if key.endswith("Time") else []


@pytest.fixture
def group(resources: Resources) -> str:
    return resources.model_package_group()


@pytest.fixture
def inbox(resources: Resources, group: str) -> str:
    """A queue that an ENABLED rule for the group's events targets: its URL."""
    url, arn = resources.queue()
    resources.rule(pattern(group), [{"Id": "inbox", "Arn": arn}])
    return url


@pytest.fixture
def copies(aws: Emulator) -> Iterator[None]:
    aws.model_package_events.copies = 2
    try:
        yield
    finally:
        aws.model_package_events.copies = 1


def create_package(aws: Emulator, group: str, **fields: Any) -> str:
    sagemaker = aws.client("sagemaker")
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus=fields.pop("ModelApprovalStatus", "PendingManualApproval"),
        InferenceSpecification=INFERENCE,
        **fields,
    )["ModelPackageArn"]
    return str(arn)


# --- the events ------------------------------------------------------------------------------------------------------
def test_create_and_every_update_send_a_state_change_whose_detail_is_describe_model_package(
    aws: Emulator, resources: Resources, group: str, inbox: str
) -> None:
    sagemaker = aws.client("sagemaker")
    described = []

    arn = create_package(aws, group, ModelLifeCycle={"Stage": "Development", "StageStatus": "InProgress"})
    described.append(sagemaker.describe_model_package(ModelPackageName=arn))
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="ok")
    described.append(sagemaker.describe_model_package(ModelPackageName=arn))
    sagemaker.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties={"owner": "ml-team"})  # metadata
    described.append(sagemaker.describe_model_package(ModelPackageName=arn))

    events = [json.loads(message["Body"]) for message in resources.receive(inbox, 3)]
    assert [event["detail"] for event in events] == [as_event_detail(answer) for answer in described]
    assert [event["detail"]["ModelApprovalStatus"] for event in events] == [
        "PendingManualApproval",
        "Approved",
        "Approved",
    ]
    assert events[2]["detail"]["CustomerMetadataProperties"] == {"owner": "ml-team"}
    assert events[0]["detail"]["ModelLifeCycle"] == {"Stage": "Development", "StageStatus": "InProgress"}
    for event in events:
        assert (event["source"], event["detail-type"], event["account"], event["region"]) == (
            "aws.sagemaker",
            DETAIL_TYPE,
            ACCOUNT_ID,
            aws.region,
        )
        assert event["resources"] == [arn]
        assert ISO_UTC.match(event["time"]), event["time"]
        found = times(event["detail"])
        assert {key for key, _ in found} >= {"CreationTime"}
        assert all(isinstance(value, str) and ISO_UTC.match(value) for _, value in found), found
    assert len({event["id"] for event in events}) == 3


def test_with_two_copies_each_change_is_sent_twice_with_different_ids(
    aws: Emulator, resources: Resources, group: str, inbox: str, copies: None
) -> None:
    arn = create_package(aws, group)

    events = [json.loads(message["Body"]) for message in resources.receive(inbox, 2)]

    assert events[0]["id"] != events[1]["id"]
    assert events[0]["detail"] == events[1]["detail"]
    assert events[0]["detail"]["ModelPackageArn"] == arn
    sent = aws.model_package_events.sent[-2:]
    assert {entry["id"] for entry in sent} == {event["id"] for event in events}


def test_an_update_without_approval_status_keeps_the_status(aws: Emulator, group: str) -> None:
    sagemaker = aws.client("sagemaker")
    arn = create_package(aws, group, ModelApprovalStatus="Approved")
    sagemaker.update_model_package(ModelPackageArn=arn, ApprovalDescription="checked by the team")

    sagemaker.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties={"ticket": "ML-42"})

    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"] == "checked by the team"
    assert described["CustomerMetadataProperties"] == {"ticket": "ML-42"}


def test_model_life_cycle_is_stored_described_and_validated(aws: Emulator, group: str) -> None:
    sagemaker = aws.client("sagemaker")
    arn = create_package(aws, group, ModelLifeCycle={"Stage": "Development", "StageStatus": "Approved"})
    assert sagemaker.describe_model_package(ModelPackageName=arn)["ModelLifeCycle"] == {
        "Stage": "Development",
        "StageStatus": "Approved",
    }

    staging = {"Stage": "Staging", "StageStatus": "In-Review", "StageDescription": "shadow traffic"}
    sagemaker.update_model_package(ModelPackageArn=arn, ModelLifeCycle=staging)
    assert sagemaker.describe_model_package(ModelPackageName=arn)["ModelLifeCycle"] == staging

    with pytest.raises(ClientError) as refused_update:
        sagemaker.update_model_package(ModelPackageArn=arn, ModelLifeCycle={"Stage": "no spaces", "StageStatus": "x"})
    with pytest.raises(ClientError) as refused_create:
        create_package(aws, group, ModelLifeCycle={"Stage": "Prod", "StageStatus": "-leading-dash"})

    for refused, value, member in (
        (refused_update, "no spaces", "stage"),
        (refused_create, "-leading-dash", "stageStatus"),
    ):
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert f"Value '{value}' at 'modelLifeCycle.{member}'" in refused.value.response["Error"]["Message"]
    assert sagemaker.describe_model_package(ModelPackageName=arn)["ModelLifeCycle"] == staging
    listed = sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    assert [package["ModelPackageArn"] for package in listed] == [arn]  # the refused create created nothing


# --- EventBridge to Lambda -------------------------------------------------------------------------------------------
def invocations(aws: Emulator, function: str) -> list[Any]:
    aws.lambdas.wait_for_async()
    return [record for record in list(aws.lambdas.records) if record.function == function]


def test_a_lambda_target_allowed_by_the_functions_policy_is_invoked_asynchronously_with_the_event(
    aws: Emulator, resources: Resources, group: str
) -> None:
    function = resources.function()
    function_arn = resources.function_arn(function)
    rule = resources.rule(pattern(group), [{"Id": "function", "Arn": function_arn}])
    aws.client("lambda").add_permission(
        FunctionName=function,
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule,
    )

    arn = create_package(aws, group)

    [record] = invocations(aws, function)
    assert record.asynchronous is True and record.error_type is None
    event = record.event
    assert (event["source"], event["detail-type"], event["account"]) == ("aws.sagemaker", DETAIL_TYPE, ACCOUNT_ID)
    assert event["resources"] == [arn]
    assert event["detail"]["ModelPackageArn"] == arn
    assert ISO_UTC.match(event["time"])


@pytest.mark.parametrize("permission", ["none", "another rule"])
def test_a_lambda_target_without_permission_is_not_invoked_and_the_event_goes_to_the_targets_dead_letter_queue(
    aws: Emulator, resources: Resources, group: str, permission: str
) -> None:
    function = resources.function()
    function_arn = resources.function_arn(function)
    queue_url, queue_arn = resources.queue()
    rule = resources.rule(
        pattern(group), [{"Id": "function", "Arn": function_arn, "DeadLetterConfig": {"Arn": queue_arn}}]
    )
    if permission == "another rule":
        other = resources.rule({"source": ["emulator.tests.nothing"]}, [])
        aws.client("lambda").add_permission(
            FunctionName=function,
            StatementId="events",
            Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com",
            SourceArn=other,
        )

    arn = create_package(aws, group)

    [dead_letter] = resources.receive(queue_url, 1)
    assert invocations(aws, function) == []
    attributes = {name: value["StringValue"] for name, value in dead_letter["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
    assert (attributes["RULE_ARN"], attributes["TARGET_ARN"]) == (rule, function_arn)
    assert attributes["ERROR_MESSAGE"]
    event = json.loads(dead_letter["Body"])
    assert (event["detail-type"], event["resources"]) == (DETAIL_TYPE, [arn])


def test_a_lambda_target_that_does_not_exist_sends_the_event_to_the_dead_letter_queue_as_no_resource(
    aws: Emulator, resources: Resources, group: str
) -> None:
    queue_url, queue_arn = resources.queue()
    missing = resources.function_arn("emulator-tests-no-such-function")
    rule = resources.rule(pattern(group), [{"Id": "function", "Arn": missing, "DeadLetterConfig": {"Arn": queue_arn}}])

    create_package(aws, group)

    [dead_letter] = resources.receive(queue_url, 1)
    attributes = {name: value["StringValue"] for name, value in dead_letter["MessageAttributes"].items()}
    assert (attributes["ERROR_CODE"], attributes["RULE_ARN"], attributes["TARGET_ARN"]) == (
        "NO_RESOURCE",
        rule,
        missing,
    )


def test_a_disabled_rule_delivers_nothing(aws: Emulator, resources: Resources, group: str, inbox: str) -> None:
    function = resources.function()
    function_arn = resources.function_arn(function)
    disabled_url, disabled_arn = resources.queue()
    rule = resources.rule(
        pattern(group),
        [{"Id": "queue", "Arn": disabled_arn}, {"Id": "function", "Arn": function_arn}],
        state="DISABLED",
    )
    aws.client("lambda").add_permission(
        FunctionName=function,
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule,
    )

    create_package(aws, group)

    resources.receive(inbox, 1)  # the event was sent: an ENABLED rule for the same pattern delivered it
    assert resources.queue_is_empty(disabled_url)
    assert invocations(aws, function) == []
