"""deployments: the registry event (strict parsing), the reconciler, and the deploy state machine's steps.

The rule under test: the endpoint serves the highest-numbered Approved package of the stack's group. Every registry
event is only a reason to compare the registry with what the endpoint serves (endpoint -> live config -> model ->
ModelPackageName); one deploy execution runs per transition, and its steps re-read both before acting.

SageMaker, Step Functions and SNS are moto's, in-process. Where moto does not move a resource the way SageMaker does
(an endpoint that is Updating, rolls back or fails; a transform job in progress; an execution that ended), the test
sets the resource's state in moto's backend -- the state a real service would be in -- through the helpers below.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from unittest import mock

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto.sagemaker.models import sagemaker_backends
from moto.stepfunctions.models import stepfunctions_backends
from pydantic import ValidationError

from deployments import app, steps
from deployments.events import InvalidEvent, parse_execution_end, parse_state_change, parse_trigger
from deployments.models import ExecutionStatusChange, ModelPackageStateChange
from deployments.reconcile import Outcome, reconcile
from deployments.settings import NoApprovedPolicy, Settings, deployment_config
from deployments.transforms import job_base
from mlops_shared import arns
from mlops_shared.settings import ConfigurationError
from tests.conftest import EVENTS_DIR
from tests.unit.functions.conftest import REGION

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.literals import ModelApprovalStatusType
    from mypy_boto3_sagemaker.type_defs import ContainerDefinitionTypeDef
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

LoadEvent = Callable[[str], dict[str, Any]]

ACCOUNT = "123456789012"
GROUP = "abalone"
PREFIX = "abalone-mlops"
ENDPOINT = f"{PREFIX}-endpoint"
BUCKET = f"{PREFIX}-artifacts"
DEPLOY_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{PREFIX}-deploy"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:{PREFIX}-notifications"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-sagemaker"
BATCH_INPUT = f"s3://{BUCKET}/batch/input/"
ALARMS = f"{ENDPOINT}-5xx,{ENDPOINT}-latency"


def package_arn(version: int, group: str = GROUP, account: str = ACCOUNT, region: str = REGION) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:model-package/{group}/{version}"


def digest(*parts: str) -> str:
    """The hash in the reconciler's execution names (``deploy-v<N>-<digest>``): 20 hex digits of sha256("a|b")."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


# The environment as template.yaml sets it: Globals.Function.Environment, then each function's own, then Lambda's.
GLOBAL_ENV = {
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "MODEL_PACKAGE_GROUP_NAME": GROUP,
    "RESOURCE_PREFIX": PREFIX,
    "ENDPOINT_NAME": ENDPOINT,
    "ARTIFACTS_BUCKET": BUCKET,
    "NOTIFICATION_TOPIC_ARN": TOPIC,
    "DEFAULT_DEPLOYMENT_TARGET": "endpoint",
    "WHEN_NO_APPROVED_MODEL": "KeepLastModel",
    "POLL_SECONDS": "30",
    "MAX_POLLS": "120",
}
RECONCILE_ENV = {"POWERTOOLS_SERVICE_NAME": "reconcile-deployments", "DEPLOY_STATE_MACHINE_ARN": DEPLOY_MACHINE}
DEPLOY_STEPS_ENV = {
    "POWERTOOLS_SERVICE_NAME": "deploy-steps",
    "TRAFFIC_SHIFTING_MODE": "CANARY",
    "TRAFFIC_STEP_PERCENT": "10",
    "TRAFFIC_WAIT_SECONDS": "300",
    "BAKING_PERIOD_SECONDS": "600",
    "ROLLBACK_ALARM_NAMES": ALARMS,
}
TEMPLATE_ENV = {**GLOBAL_ENV, **RECONCILE_ENV, **DEPLOY_STEPS_ENV, "AWS_REGION": REGION}


@dataclass
class World:
    """The stack's registry group, endpoint, deploy state machine and topic, in moto, with ways to move them."""

    sagemaker: SageMakerClient
    sfn: SFNClient
    sns: SNSClient
    sqs: SQSClient

    # --- the registry ------------------------------------------------------------------------------------------------
    def register(self, status: ModelApprovalStatusType = "Approved") -> str:
        """A new version of the group, registered with ``status``; its ARN."""
        arn: str = self.sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [{"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
        return arn

    def set_status(self, arn: str, status: ModelApprovalStatusType) -> None:
        self.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)

    # --- the endpoint ------------------------------------------------------------------------------------------------
    def config_for(self, name: str, package: str | None) -> str:
        """A model (from ``package``, or from an image alone) and an endpoint config named ``name`` serving it."""
        container: ContainerDefinitionTypeDef = (
            {"ModelPackageName": package} if package else {"Image": "hand-built:latest"}
        )
        self.sagemaker.create_model(ModelName=name, PrimaryContainer=container, ExecutionRoleArn=ROLE)
        self.sagemaker.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": name,
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        return name

    def serve(self, package: str | None, config: str | None = None) -> str:
        """Make the endpoint serve ``package`` (creating it, or switching its live config); the config's name."""
        name = config or f"{PREFIX}-live-{package.rsplit('/', 1)[1] if package else 'image'}"
        self.config_for(name, package)
        if ENDPOINT in self._endpoints():
            self.endpoint(endpoint_config_name=name, endpoint_status="InService", failure_reason=None)
        else:
            self.sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=name)
        return name

    def endpoint(self, **state: Any) -> None:
        """Put the endpoint in a state SageMaker would (Updating, a rolled-back config, a failure reason...)."""
        for attribute, value in state.items():
            setattr(self._endpoints()[ENDPOINT], attribute, value)

    def _endpoints(self) -> dict[str, Any]:
        endpoints: dict[str, Any] = sagemaker_backends[ACCOUNT][REGION].endpoints
        return endpoints

    def transform_job(self, name: str, status: str, failure_reason: str = "") -> None:
        self.sagemaker.create_transform_job(
            TransformJobName=name,
            ModelName=f"{PREFIX}-batch-model",
            TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": BATCH_INPUT}}},
            TransformOutput={"S3OutputPath": f"s3://{BUCKET}/batch/output/{name}/"},
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        )
        job = sagemaker_backends[ACCOUNT][REGION].transform_jobs[name]
        job.transform_job_status = status
        job.failure_reason = failure_reason

    # --- the deploy state machine ------------------------------------------------------------------------------------
    def executions(self) -> dict[str, dict[str, Any]]:
        """Every execution of the deploy state machine, by name, with its input."""
        listed = self.sfn.list_executions(stateMachineArn=DEPLOY_MACHINE)["executions"]
        return {
            e["name"]: json.loads(self.sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in listed
        }

    def end_execution(self, execution_arn: str, status: str) -> None:
        """An execution ends the way the real state machine would end it (SUCCEEDED, FAILED, ABORTED, TIMED_OUT)."""
        stepfunctions_backends[ACCOUNT][REGION].describe_execution(execution_arn).status = status

    # --- the team's topic --------------------------------------------------------------------------------------------
    def notifications(self) -> list[dict[str, Any]]:
        """What the topic delivered (an SQS queue subscribes to it): each with its Subject and Message."""
        url = self.sqs.get_queue_url(QueueName="team-inbox")["QueueUrl"]
        received = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in received]


@pytest.fixture
def template_env(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in TEMPLATE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REGISTRY_ACCOUNT_ID", raising=False)
    return dict(TEMPLATE_ENV)


@dataclass(frozen=True)
class AwsClients:
    sagemaker: SageMakerClient
    sfn: SFNClient
    sns: SNSClient
    sqs: SQSClient


@pytest.fixture(scope="module")
def aws_clients() -> AwsClients:
    """Clients made once (making one takes ~0.1 s): moto intercepts every client while a test's mock_aws is active,
    and each test's mock starts from empty services."""
    fake = {"region_name": REGION, "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return AwsClients(
        sagemaker=boto3.client("sagemaker", **fake),  # type: ignore[call-overload]
        sfn=boto3.client("stepfunctions", **fake),  # type: ignore[call-overload]
        sns=boto3.client("sns", **fake),  # type: ignore[call-overload]
        sqs=boto3.client("sqs", **fake),  # type: ignore[call-overload]
    )


@pytest.fixture
def world(template_env: dict[str, str], aws_clients: AwsClients) -> World:
    sagemaker, sfn, sns, sqs = aws_clients.sagemaker, aws_clients.sfn, aws_clients.sns, aws_clients.sqs
    # A trivial deploy machine: moto records executions without running them, so each stays RUNNING until a test
    # ends it (see test_moto_keeps_an_execution_running_until_it_is_ended).
    sfn.create_state_machine(
        name=f"{PREFIX}-deploy",
        definition=json.dumps({"StartAt": "Plan", "States": {"Plan": {"Type": "Pass", "End": True}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-states",
    )
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    topic = sns.create_topic(Name=f"{PREFIX}-notifications")["TopicArn"]
    queue = sqs.create_queue(QueueName="team-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return World(sagemaker, sfn, sns, sqs)


@pytest.fixture
def stack() -> Settings:
    """The deployment settings the template's environment gives."""
    return Settings.from_env(TEMPLATE_ENV)


def reconcile_now(world: World, settings: Settings, trigger: str = "event:e-1 request:r-1") -> Outcome:
    return reconcile(
        settings, state_machine_arn=DEPLOY_MACHINE, trigger=trigger, sagemaker=world.sagemaker, sfn=world.sfn
    )


def arn_of(outcome: Outcome) -> str:
    assert outcome.execution_arn is not None, outcome
    return outcome.execution_arn


def name_of(outcome: Outcome) -> str:
    return arn_of(outcome).rsplit(":", 1)[1]


def clients(world: World) -> steps.Clients:
    return steps.Clients(sagemaker=world.sagemaker, sns=world.sns)


# ======================================================================================================================
# events.parse_state_change
# ======================================================================================================================
def parse(event: Any) -> ModelPackageStateChange:
    return parse_state_change(event, group=GROUP, account=ACCOUNT, region=REGION)


@pytest.fixture
def approved(load_event: LoadEvent) -> dict[str, Any]:
    return load_event("deployments/registry-approved.json")


class TestParseStateChange:
    def test_a_registry_event_of_this_stack_is_parsed(self, approved: dict[str, Any]) -> None:
        change = parse(approved)

        assert change.detail.model_package_arn == package_arn(2)
        assert change.detail.model_package_version == 2
        assert change.detail.model_package_group_name == GROUP
        assert change.detail.model_approval_status == "Approved"
        assert change.id == "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
        # EventBridge's time with milliseconds, as SageMaker sends it
        assert change.time == datetime(2026, 11, 26, 8, 0, 0, 123000, tzinfo=UTC)

    @pytest.mark.parametrize("status", ["Rejected", "PendingManualApproval"])
    def test_any_status_is_a_reason_to_reconcile(self, approved: dict[str, Any], status: str) -> None:
        approved["detail"]["ModelApprovalStatus"] = status
        assert parse(approved).detail.model_approval_status == status

    def test_a_version_that_does_not_match_the_arn_is_refused(self, approved: dict[str, Any]) -> None:
        approved["detail"]["ModelPackageVersion"] = 3
        with pytest.raises(InvalidEvent) as refused:
            parse(approved)
        assert str(refused.value) == (
            "not a SageMaker Model Package State Change event: detail: Value error, ModelPackageVersion 3 does not "
            f"match the ARN {package_arn(2)} (version 2)"
        )

    def test_a_group_that_does_not_match_the_arn_is_refused(self, approved: dict[str, Any]) -> None:
        approved["detail"]["ModelPackageGroupName"] = "abalone-staging"
        with pytest.raises(InvalidEvent, match=r"ModelPackageGroupName 'abalone-staging' does not match the ARN .*"):
            parse(approved)

    def test_another_group_is_refused(self, approved: dict[str, Any]) -> None:
        approved["detail"]["ModelPackageGroupName"] = "churn"
        approved["detail"]["ModelPackageArn"] = package_arn(2, group="churn")
        with pytest.raises(InvalidEvent) as refused:
            parse(approved)
        assert str(refused.value) == "the event is for group 'churn'; this stack's is 'abalone'"

    def test_a_package_in_another_account_is_refused(self, approved: dict[str, Any]) -> None:
        approved["detail"]["ModelPackageArn"] = package_arn(2, account="210987654321")
        with pytest.raises(InvalidEvent) as refused:
            parse(approved)
        assert str(refused.value) == (
            f"the event's package {package_arn(2, account='210987654321')} (event account {ACCOUNT}) is not in "
            f"account {ACCOUNT}, whose registry this stack deploys from"
        )

    def test_an_event_from_another_account_is_refused_even_for_this_accounts_arn(
        self, approved: dict[str, Any]
    ) -> None:
        approved["account"] = "210987654321"
        with pytest.raises(InvalidEvent, match=r"\(event account 210987654321\) is not in account 123456789012"):
            parse(approved)

    def test_a_package_in_another_region_is_refused(self, approved: dict[str, Any]) -> None:
        approved["detail"]["ModelPackageArn"] = package_arn(2, region="eu-west-1")
        with pytest.raises(InvalidEvent) as refused:
            parse(approved)
        assert str(refused.value) == (
            f"the event's package {package_arn(2, region='eu-west-1')} (event region {REGION}) is not in this "
            f"stack's region {REGION}"
        )

    def test_an_event_from_another_region_is_refused(self, approved: dict[str, Any]) -> None:
        approved["region"] = "eu-west-1"
        with pytest.raises(InvalidEvent, match=r"\(event region eu-west-1\) is not in this stack's region us-east-1"):
            parse(approved)

    def test_the_registry_account_is_the_one_checked(self, approved: dict[str, Any]) -> None:
        # GIVEN a staging stack whose registry lives in another account
        registry = "210987654321"
        approved["account"] = registry
        approved["detail"]["ModelPackageArn"] = package_arn(2, account=registry)
        # WHEN / THEN the registry account's event is accepted, and this account's is not
        assert parse_state_change(approved, group=GROUP, account=registry, region=REGION).account == registry
        with pytest.raises(InvalidEvent, match="is not in account 123456789012"):
            parse(approved)

    def test_an_sqs_envelope_is_named(self, load_event: LoadEvent) -> None:
        with pytest.raises(InvalidEvent) as refused:
            parse(load_event("deployments/registry-approved-in-sqs.json"))
        assert str(refused.value) == (
            "this is an SQS envelope (Records[].body), not an EventBridge event: target the function from the "
            "EventBridge rule directly, or unwrap each body before invoking it"
        )

    def test_records_with_a_body_are_an_sqs_envelope_even_without_their_event_source(
        self, approved: dict[str, Any]
    ) -> None:
        # GIVEN someone copied the SQS records by hand, keeping only each body
        with pytest.raises(InvalidEvent, match=r"^this is an SQS envelope \(Records\[\]\.body\)"):
            parse({"Records": [{"body": json.dumps(approved)}]})

    def test_an_sns_envelope_is_named(self, load_event: LoadEvent) -> None:
        with pytest.raises(InvalidEvent) as refused:
            parse(load_event("deployments/registry-approved-in-sns.json"))
        assert str(refused.value) == (
            "this is an SNS envelope (Records[].Sns.Message), not an EventBridge event: target the function from "
            "the EventBridge rule directly, or unwrap each message before invoking it"
        )

    @pytest.mark.parametrize("encode", [json.dumps, lambda e: json.dumps(e).encode()], ids=["str", "bytes"])
    def test_a_string_body_is_refused_even_when_it_holds_a_valid_event(
        self, approved: dict[str, Any], encode: Callable[[Any], str | bytes]
    ) -> None:
        with pytest.raises(InvalidEvent) as refused:
            parse(encode(approved))
        assert str(refused.value) == (
            "the event is a string, not a JSON object: deliver the EventBridge event itself, not its text"
        )

    def test_a_list_is_refused(self, approved: dict[str, Any]) -> None:
        with pytest.raises(InvalidEvent, match="^the event is a list, not a JSON object$"):
            parse([approved])

    @pytest.mark.parametrize(
        ("path", "problem"),
        [
            (("detail", "ModelPackageArn"), "detail.ModelPackageArn: Field required"),
            (("detail", "ModelPackageVersion"), "detail.ModelPackageVersion: Field required"),
            (("detail", "ModelPackageGroupName"), "detail.ModelPackageGroupName: Field required"),
            (("detail", "ModelApprovalStatus"), "detail.ModelApprovalStatus: Field required"),
            (("detail",), "detail: Field required"),
            (("detail-type",), "detail-type: Field required"),
            (("account",), "account: Field required"),
            (("region",), "region: Field required"),
        ],
    )
    def test_a_missing_field_is_named(self, approved: dict[str, Any], path: tuple[str, ...], problem: str) -> None:
        parent = approved
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]
        with pytest.raises(InvalidEvent) as refused:
            parse(approved)
        assert str(refused.value).startswith("not a SageMaker Model Package State Change event: ")
        assert problem in str(refused.value)

    @pytest.mark.parametrize(
        ("field", "value", "problem"),
        [
            ("source", "aws.events", "source: Input should be 'aws.sagemaker'"),
            ("detail-type", "SageMaker Endpoint State Change", "detail-type: Input should be 'SageMaker Model Package"),
        ],
    )
    def test_another_kind_of_event_is_named(
        self, approved: dict[str, Any], field: str, value: str, problem: str
    ) -> None:
        approved[field] = value
        with pytest.raises(InvalidEvent, match=re.escape(problem)):
            parse(approved)

    def test_a_malformed_arn_is_named(self, approved: dict[str, Any]) -> None:
        approved["detail"]["ModelPackageArn"] = "abalone/2"
        with pytest.raises(InvalidEvent, match=r"detail\.ModelPackageArn: String should match pattern"):
            parse(approved)


# ======================================================================================================================
# events.parse_execution_end: the reconciler's second trigger
# ======================================================================================================================
@pytest.fixture
def ended(load_event: LoadEvent) -> dict[str, Any]:
    return load_event("deployments/deploy-execution-succeeded.json")


class TestParseExecutionEnd:
    def test_a_succeeded_deploy_execution_of_this_stack_is_parsed(self, ended: dict[str, Any]) -> None:
        trigger = parse_trigger(ended, group=GROUP, account=ACCOUNT, region=REGION, state_machine_arn=DEPLOY_MACHINE)

        assert isinstance(trigger, ExecutionStatusChange)
        assert trigger.detail.name == "deploy-v3-433dae17cb47003f6bf6"
        assert trigger.detail.status == "SUCCEEDED"

    def test_a_registry_event_is_still_a_registry_event(self, approved: dict[str, Any]) -> None:
        trigger = parse_trigger(approved, group=GROUP, account=ACCOUNT, region=REGION, state_machine_arn=DEPLOY_MACHINE)
        assert isinstance(trigger, ModelPackageStateChange)

    @pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT", "ABORTED", "RUNNING"])
    def test_an_execution_that_did_not_succeed_is_refused_and_says_why(
        self, ended: dict[str, Any], status: str
    ) -> None:
        ended["detail"]["status"] = status
        with pytest.raises(InvalidEvent, match=f"is {status}: only a succeeded deploy execution"):
            parse_execution_end(ended, state_machine_arn=DEPLOY_MACHINE)

    def test_another_state_machine_is_refused(self, ended: dict[str, Any]) -> None:
        train = DEPLOY_MACHINE.replace("-deploy", "-train")
        ended["detail"]["stateMachineArn"] = train
        with pytest.raises(InvalidEvent, match=f"for state machine {train}; this stack deploys with"):
            parse_execution_end(ended, state_machine_arn=DEPLOY_MACHINE)

    def test_a_missing_field_is_named(self, ended: dict[str, Any]) -> None:
        del ended["detail"]["executionArn"]
        with pytest.raises(InvalidEvent, match=r"not a Step Functions Execution Status Change event: .*executionArn"):
            parse_execution_end(ended, state_machine_arn=DEPLOY_MACHINE)


# --- property: whatever is done to a valid event, the parser says "this package" or InvalidEvent, nothing else --------
# Values a near-miss event would carry: the stack's and other groups, accounts, regions, versions, statuses and ARNs.
NEAR_MISSES = st.sampled_from(
    [
        GROUP,
        "churn",
        ACCOUNT,
        "210987654321",
        REGION,
        "eu-west-1",
        1,
        2,
        "2",
        2.0,
        True,
        0,
        -2,
        "Approved",
        "Rejected",
        "aws.sagemaker",
        "SageMaker Model Package State Change",
        package_arn(1),
        package_arn(2),
        package_arn(2, group="churn"),
        package_arn(2, account="210987654321"),
        package_arn(2, region="eu-west-1"),
        "2026-11-26T08:00:00.123Z",
        [{"body": "{}"}],
        [{"Sns": {"Message": "{}"}}],
        {},
        [],
        "",
    ]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)
NEW_KEYS = st.sampled_from(["Records", "detail_type", "body", "Sns", "ModelPackageName"]) | st.text(max_size=8)


CHECKED = [
    ("source",),
    ("detail-type",),
    ("account",),
    ("region",),
    ("time",),
    ("id",),
    ("detail",),
    ("detail", "ModelPackageGroupName"),
    ("detail", "ModelPackageVersion"),
    ("detail", "ModelPackageArn"),
    ("detail", "ModelApprovalStatus"),
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place inside a JSON value (dict keys and list indexes), parents before children."""
    children: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        children = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value))
    found = []
    for key, child in children:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


@st.composite
def mutation(draw: st.DrawFn, event: dict[str, Any]) -> Any:
    """One change to ``event``: a value deleted or replaced (by a near miss or any JSON), a key added, or the event
    turned into its own text."""
    mutated = copy.deepcopy(event)
    kind = draw(st.sampled_from(["delete", "replace", "add", "text"]))
    if kind == "text":
        return json.dumps(mutated)
    anywhere = _paths(mutated)
    checked = [path for path in CHECKED if path in anywhere]  # half the time, a field the parser reads
    path = draw(st.sampled_from(checked) | st.sampled_from(anywhere) if checked else st.sampled_from(anywhere))
    parent = mutated
    for key in path[:-1]:
        parent = parent[key]
    if kind == "delete":
        del parent[path[-1]]
    elif kind == "replace":
        parent[path[-1]] = draw(NEAR_MISSES | JSON_VALUES)
    else:
        target = parent[path[-1]] if isinstance(parent[path[-1]], dict) else mutated
        target[draw(NEW_KEYS)] = draw(NEAR_MISSES | JSON_VALUES)
    return mutated


APPROVED = json.loads((EVENTS_DIR / "deployments/registry-approved.json").read_text())


def _outcome(event: Any) -> ModelPackageStateChange | InvalidEvent:
    try:
        return parse(event)
    except InvalidEvent as refused:  # anything else propagates and fails the property
        return refused


class TestParseProperties:
    FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

    def test_the_fuzzed_event_is_the_fixture(self, approved: dict[str, Any]) -> None:
        assert approved == APPROVED and _outcome(APPROVED) == parse(approved)

    @FUZZ
    @given(data=st.data())
    def test_one_change_parses_to_the_same_package_or_is_refused(self, data: st.DataObject) -> None:
        result = _outcome(data.draw(mutation(APPROVED)))
        if isinstance(result, ModelPackageStateChange):
            assert result.detail.model_package_arn == package_arn(2)
            assert result.detail.model_package_version == 2
            assert result.detail.model_package_group_name == GROUP
        else:
            assert str(result)  # a sentence, never an empty message

    @FUZZ
    @given(data=st.data())
    def test_several_changes_never_yield_a_package_of_another_stack(self, data: st.DataObject) -> None:
        event: Any = APPROVED
        for _ in range(data.draw(st.integers(2, 4))):
            if not isinstance(event, dict) or not event:
                break
            event = data.draw(mutation(event))
        result = _outcome(event)
        if isinstance(result, ModelPackageStateChange):
            parts = arns.model_package_parts(result.detail.model_package_arn)
            assert (parts["group"], parts["account"], parts["region"]) == (GROUP, ACCOUNT, REGION)
            assert int(parts["version"]) == result.detail.model_package_version
            assert (result.account, result.region, result.detail.model_package_group_name) == (ACCOUNT, REGION, GROUP)


# ======================================================================================================================
# reconcile.reconcile
# ======================================================================================================================
def test_moto_keeps_an_execution_running_until_it_is_ended(world: World) -> None:
    """What the reconciler tests rely on: moto records an execution as RUNNING, and it stays so."""
    started = world.sfn.start_execution(stateMachineArn=DEPLOY_MACHINE, name="probe", input="{}")
    assert world.sfn.describe_execution(executionArn=started["executionArn"])["status"] == "RUNNING"
    world.end_execution(started["executionArn"], "SUCCEEDED")
    assert world.sfn.describe_execution(executionArn=started["executionArn"])["status"] == "SUCCEEDED"


class TestReconcile:
    def test_nothing_approved_and_no_endpoint_changes_nothing(self, world: World, stack: Settings) -> None:
        world.register("PendingManualApproval")
        outcome = reconcile_now(world, stack)
        assert (outcome.status, outcome.package_arn) == ("no-change", None)
        assert outcome.reason == "no Approved version in group abalone and no endpoint serves one"
        assert world.executions() == {}

    def test_the_live_version_being_the_highest_approved_changes_nothing(self, world: World, stack: Settings) -> None:
        # GIVEN v1 and v2 Approved, v2 live, v3 waiting for approval
        world.register("Approved")
        v2 = world.register("Approved")
        world.register("PendingManualApproval")
        world.serve(v2)
        # WHEN the registry sends any event
        outcome = reconcile_now(world, stack)
        # THEN there is nothing to do
        assert outcome == Outcome("no-change", "version 2 is the highest Approved and already live", v2, 2)
        assert world.executions() == {}

    def test_a_failed_endpoint_serves_nothing_so_its_version_is_deployed_again(
        self, world: World, stack: Settings
    ) -> None:
        # GIVEN v1's first deployment left the endpoint Failed (its model did not load)
        v1 = world.register("Approved")
        config = world.serve(v1)
        world.endpoint(endpoint_status="Failed", failure_reason="ModelError: the model did not load")
        # WHEN any registry event is reconciled
        outcome = reconcile_now(world, stack)
        # THEN v1 is not "already live": an execution to deploy it (anew) starts
        assert outcome.status == "started"
        assert outcome.reason == "version 1 is the highest Approved; the endpoint serves nothing"
        assert list(world.executions()) == [f"deploy-v1-{digest(v1, config)}"]

    def test_a_newer_approved_version_starts_one_execution_named_after_the_transition(
        self, world: World, stack: Settings
    ) -> None:
        # GIVEN v1 live and v2 just approved
        v1, v2 = world.register("Approved"), world.register("Approved")
        config = world.serve(v1)
        # WHEN the approval is reconciled
        outcome = reconcile_now(world, stack, trigger="event:e-7 request:r-9")
        # THEN one execution for "v2 over what the endpoint's config serves" starts, with what it expects to deploy
        name = f"deploy-v2-{digest(v2, config)}"
        assert outcome.status == "started"
        assert outcome.reason == "version 2 is the highest Approved; the endpoint serves version 1"
        assert (outcome.package_arn, outcome.version) == (v2, 2)
        assert outcome.execution_arn == f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{PREFIX}-deploy:{name}"
        assert world.executions() == {
            name: {"ModelPackageArn": v2, "Target": "endpoint", "Trigger": "event:e-7 request:r-9"}
        }

    def test_the_first_deployment_is_named_for_no_live_config(self, world: World, stack: Settings) -> None:
        v1 = world.register("Approved")
        outcome = reconcile_now(world, stack)
        assert outcome.status == "started"
        assert outcome.reason == "version 1 is the highest Approved; the endpoint serves nothing"
        assert list(world.executions()) == [f"deploy-v1-{digest(v1, '')}"]

    def test_a_rejected_newest_version_falls_back_to_the_highest_approved(self, world: World, stack: Settings) -> None:
        # GIVEN v2 approved then rejected, v1 still Approved and live
        v1, v2 = world.register("Approved"), world.register("Approved")
        world.serve(v1)
        world.set_status(v2, "Rejected")
        # WHEN the rejection is reconciled: v1 is what should serve, and it does
        outcome = reconcile_now(world, stack)
        assert (outcome.status, outcome.version) == ("no-change", 1)

    def test_a_second_event_while_the_execution_runs_is_already_running(self, world: World, stack: Settings) -> None:
        world.register("Approved")
        first = reconcile_now(world, stack, trigger="event:approval")
        # WHEN a duplicate (or a metadata edit) arrives while the deploy execution runs
        second = reconcile_now(world, stack, trigger="event:duplicate")
        # THEN no second execution starts
        assert (first.status, second.status) == ("started", "already-running")
        assert second.execution_arn == first.execution_arn
        assert second.reason.endswith(f"; {name_of(first)} is running")
        assert len(world.executions()) == 1

    @pytest.mark.parametrize("status", ["FAILED", "ABORTED", "TIMED_OUT", "SUCCEEDED"])
    def test_a_finished_execution_of_the_transition_is_retried_with_a_numbered_name(
        self, world: World, stack: Settings, status: str
    ) -> None:
        # GIVEN the transition's execution ended (failed, or succeeded standing down for a version since rejected)
        world.register("Approved")
        first = reconcile_now(world, stack)
        world.end_execution(arn_of(first), status)
        # WHEN the registry is reconciled again, and again after that one ended too
        second = reconcile_now(world, stack)
        world.end_execution(arn_of(second), status)
        third = reconcile_now(world, stack)
        # THEN each retry gets the next number
        assert (second.status, third.status) == ("started", "started")
        assert second.execution_arn == f"{first.execution_arn}-2"
        assert third.execution_arn == f"{first.execution_arn}-3"

    def test_a_running_retry_is_already_running(self, world: World, stack: Settings) -> None:
        world.register("Approved")
        first = reconcile_now(world, stack)
        world.end_execution(arn_of(first), "FAILED")
        retry = reconcile_now(world, stack)
        again = reconcile_now(world, stack)
        assert (retry.status, again.status) == ("started", "already-running")
        assert again.execution_arn == retry.execution_arn == f"{first.execution_arn}-2"

    def test_a_racing_reconciler_that_started_it_first_makes_this_one_already_running(
        self, world: World, stack: Settings
    ) -> None:
        # GIVEN another reconciler starts the same execution between this one's describe and its start
        v1 = world.register("Approved")
        name = f"deploy-v1-{digest(v1, '')}"
        describe = world.sfn.describe_execution

        def race(**kwargs: Any) -> Any:
            try:
                return describe(**kwargs)  # ExecutionDoesNotExist: nobody has started it yet...
            finally:  # ...and the other reconciler starts it right after this one looked
                world.sfn.start_execution(stateMachineArn=DEPLOY_MACHINE, name=name, input='{"Trigger": "other"}')

        with mock.patch.object(world.sfn, "describe_execution", side_effect=race):
            outcome = reconcile_now(world, stack)
        # THEN it reports the other's execution, and started none of its own
        assert outcome.status == "already-running"
        assert outcome.reason.endswith(f"; another reconciler started {name}")
        assert world.executions() == {name: {"Trigger": "other"}}

    def test_no_approved_version_left_starts_one_retire_execution(self, world: World, stack: Settings) -> None:
        v1 = world.register("Approved")
        config = world.serve(v1)
        world.set_status(v1, "Rejected")
        outcome = reconcile_now(world, stack)
        assert outcome.status == "started"
        assert outcome.reason == (
            f"no Approved version left in group abalone; endpoint {ENDPOINT} serves version 1 (KeepLastModel)"
        )
        assert (outcome.package_arn, outcome.version) == (None, None)
        name = f"retire-v1-{digest('none', config)}"
        assert world.executions() == {
            name: {"ModelPackageArn": "", "Target": "endpoint", "Trigger": "event:e-1 request:r-1"}
        }

    def test_a_succeeded_retire_that_kept_the_last_model_has_handled_it(self, world: World, stack: Settings) -> None:
        # GIVEN the only version rejected, and the retire execution that told the team "kept it" SUCCEEDED
        v1 = world.register("Approved")
        world.serve(v1)
        world.set_status(v1, "Rejected")
        retire = reconcile_now(world, stack)
        world.end_execution(arn_of(retire), "SUCCEEDED")
        # WHEN another event of the group arrives (a metadata edit, a second rejection)
        again = reconcile_now(world, stack)
        # THEN nothing starts: keeping the model changed nothing, and the team was told once
        assert again.status == "no-change"
        assert again.reason.endswith(f"; {name_of(retire)} already handled it")
        assert len(world.executions()) == 1

    def test_a_failed_retire_that_kept_the_last_model_is_retried(self, world: World, stack: Settings) -> None:
        v1 = world.register("Approved")
        world.serve(v1)
        world.set_status(v1, "Rejected")
        retire = reconcile_now(world, stack)
        world.end_execution(arn_of(retire), "FAILED")
        assert reconcile_now(world, stack).execution_arn == f"{retire.execution_arn}-2"

    def test_a_succeeded_retire_is_not_final_when_the_endpoint_should_have_been_deleted(
        self, world: World, stack: Settings
    ) -> None:
        # GIVEN WhenNoApprovedModel=DeleteEndpoint, a retire that SUCCEEDED, and the endpoint still InService
        v1 = world.register("Approved")
        world.serve(v1)
        world.set_status(v1, "Rejected")
        delete = replace(stack, when_no_approved="DeleteEndpoint")
        retire = reconcile_now(world, delete)
        world.end_execution(arn_of(retire), "SUCCEEDED")
        # THEN the endpoint still differs from the desired state ("none"): another attempt starts
        again = reconcile_now(world, delete)
        assert (again.status, again.execution_arn) == ("started", f"{retire.execution_arn}-2")

    def test_an_endpoint_being_deleted_with_nothing_approved_changes_nothing(
        self, world: World, stack: Settings
    ) -> None:
        # GIVEN the retire deleted the endpoint (SUCCEEDED), and SageMaker is still deleting it
        v1 = world.register("Approved")
        world.serve(v1)
        world.set_status(v1, "Rejected")
        world.endpoint(endpoint_status="Deleting")
        # WHEN another event of the group arrives: the endpoint converges to "none" by itself
        outcome = reconcile_now(world, replace(stack, when_no_approved="DeleteEndpoint"))
        assert outcome == Outcome("no-change", f"no Approved version in group abalone; {ENDPOINT} is being deleted")
        assert world.executions() == {}

    def test_an_endpoint_serving_a_model_of_no_package_is_replaced(self, world: World, stack: Settings) -> None:
        v1 = world.register("Approved")
        config = world.serve(None)
        outcome = reconcile_now(world, stack)
        assert outcome.status == "started"
        assert outcome.reason.endswith("the endpoint serves nothing")
        assert list(world.executions()) == [f"deploy-v1-{digest(v1, config)}"]


class TestReconcileBatch:
    @pytest.fixture
    def batch(self, stack: Settings) -> Settings:
        return replace(stack, target="batch")

    def test_a_completed_transform_of_the_version_and_input_changes_nothing(
        self, world: World, batch: Settings
    ) -> None:
        v3 = [world.register("Approved") for _ in range(3)][-1]
        job = f"{job_base(PREFIX, 3, BATCH_INPUT)}-2"
        world.transform_job(f"{job_base(PREFIX, 3, BATCH_INPUT)}-1", "Failed")
        world.transform_job(job, "Completed")
        outcome = reconcile_now(world, batch)
        assert outcome == Outcome("no-change", f"version 3 already transformed {BATCH_INPUT} ({job})", v3, 3)
        assert world.executions() == {}

    @pytest.mark.parametrize(
        "other_job",
        [
            pytest.param(lambda: f"{job_base(PREFIX, 1, BATCH_INPUT)}-1", id="an older version"),
            pytest.param(lambda: f"{job_base(PREFIX, 2, 's3://elsewhere/in/')}-1", id="another input"),
        ],
    )
    def test_a_transform_of_another_version_or_input_does_not_count(
        self, world: World, batch: Settings, other_job: Callable[[], str]
    ) -> None:
        world.register("Approved")
        v2 = world.register("Approved")
        world.transform_job(other_job(), "Completed")
        outcome = reconcile_now(world, batch)
        assert outcome.status == "started"
        assert outcome.reason == f"version 2 is the highest Approved and has not transformed {BATCH_INPUT}"
        assert world.executions() == {
            f"transform-v2-{digest(v2, BATCH_INPUT)}": {
                "ModelPackageArn": v2,
                "Target": "batch",
                "Trigger": "event:e-1 request:r-1",
            }
        }

    @pytest.mark.parametrize("status", ["Failed", "Stopped"])
    def test_a_failed_or_stopped_transform_of_the_version_is_not_a_deployment(
        self, world: World, batch: Settings, status: str
    ) -> None:
        v1 = world.register("Approved")
        world.transform_job(f"{job_base(PREFIX, 1, BATCH_INPUT)}-1", status)
        outcome = reconcile_now(world, batch)
        assert outcome.status == "started"
        assert list(world.executions()) == [f"transform-v1-{digest(v1, BATCH_INPUT)}"]

    def test_nothing_approved_transforms_nothing(self, world: World, batch: Settings) -> None:
        world.register("Rejected")
        outcome = reconcile_now(world, batch)
        assert outcome == Outcome("no-change", "no Approved version in group abalone: nothing to transform")


# ======================================================================================================================
# steps.plan
# ======================================================================================================================
EXECUTION = "deploy-v2-0123456789abcdef0123"


def plan_for(world: World, settings: Settings, execution_input: dict[str, Any] | None = None) -> dict[str, Any]:
    document = steps.plan(execution_input or {}, EXECUTION, settings, clients(world))
    plan: dict[str, Any] = document["Plan"]
    return plan


class TestPlan:
    def test_deploy_names_the_package_the_model_and_the_config(self, world: World, stack: Settings) -> None:
        # GIVEN v1 live and v2 approved; the execution was started for v2
        v1, v2 = world.register("Approved"), world.register("Approved")
        config = world.serve(v1)
        # WHEN the execution plans
        document = steps.plan({"ModelPackageArn": v2}, EXECUTION, stack, clients(world))
        plan = document["Plan"]
        # THEN it deploys v2 over v1 with names of its own, and starts its counters at zero
        name = steps.sagemaker_name(PREFIX, 2, EXECUTION)
        assert plan["Action"] == "Deploy"
        assert plan["Reason"] == "version 2 is the highest Approved version"
        assert plan["Package"] == plan["Desired"] == plan["Expected"] == {"Arn": v2, "Version": 2}
        assert plan["Live"] == {"Config": config, "Status": "InService", "Arn": v1, "Version": 1}
        assert plan["Names"] == {"Model": name, "EndpointConfig": name}
        assert (plan["Target"], plan["Endpoint"], plan["Group"]) == ("endpoint", ENDPOINT, GROUP)
        assert (plan["PollSeconds"], plan["MaxPolls"], plan["ExecutionName"]) == (30, 120, EXECUTION)
        assert (document["Gate"], document["Check"]) == ({"Polls": 0, "Refusals": 0}, {"Polls": 0})

    def test_started_by_hand_it_deploys_what_the_registry_says(self, world: World, stack: Settings) -> None:
        world.register("Approved")
        v2 = world.register("Approved")
        plan = plan_for(world, stack, {"PollSeconds": 0, "MaxPolls": 5})
        assert (plan["Action"], plan["Package"]["Arn"], plan["Expected"], plan["Live"]) == ("Deploy", v2, None, None)
        assert (plan["PollSeconds"], plan["MaxPolls"]) == (0, 5)

    def test_an_execution_for_a_version_no_longer_desired_stands_down(self, world: World, stack: Settings) -> None:
        # GIVEN the execution was started for v2, and v3 was approved since
        world.register("Approved")
        v2 = world.register("Approved")
        world.register("Approved")
        plan = plan_for(world, stack, {"ModelPackageArn": v2})
        assert (plan["Action"], plan["Reason"]) == ("StandDown", "version 3 is now the highest Approved version")
        assert plan["Names"] == {}

    def test_an_execution_whose_version_was_rejected_with_none_left_stands_down(
        self, world: World, stack: Settings
    ) -> None:
        # GIVEN v1 live, an execution started for v2, then v2 and v1 rejected: the rejection's own reconcile starts
        # the retire, so this execution must not retire (or delete) too
        v1, v2 = world.register("Approved"), world.register("Approved")
        world.serve(v1)
        world.set_status(v2, "Rejected")
        world.set_status(v1, "Rejected")
        plan = plan_for(world, replace(stack, when_no_approved="DeleteEndpoint"), {"ModelPackageArn": v2})
        assert (plan["Action"], plan["Reason"]) == ("StandDown", "no Approved version is left in group abalone")

    def test_the_desired_version_already_live_is_already_live(self, world: World, stack: Settings) -> None:
        v1 = world.register("Approved")
        world.serve(v1)
        plan = plan_for(world, stack, {"ModelPackageArn": v1})
        assert (plan["Action"], plan["Reason"]) == ("AlreadyLive", "version 1 is already live")

    def test_nothing_approved_and_no_endpoint_is_no_change(self, world: World, stack: Settings) -> None:
        world.register("PendingManualApproval")
        plan = plan_for(world, stack)
        assert (plan["Action"], plan["Reason"]) == ("NoChange", "no Approved version in group abalone, and no endpoint")

    @pytest.mark.parametrize("policy", ["KeepLastModel", "DeleteEndpoint"])
    def test_nothing_approved_with_an_endpoint_follows_the_template_policy(
        self, world: World, stack: Settings, policy: NoApprovedPolicy
    ) -> None:
        v1 = world.register("Approved")
        config = world.serve(v1)
        world.set_status(v1, "Rejected")
        plan = plan_for(world, replace(stack, when_no_approved=policy))
        assert (plan["Action"], plan["Reason"]) == (policy, "no Approved version is left in group abalone")
        assert plan["Live"] == {"Config": config, "Status": "InService", "Arn": v1, "Version": 1}
        assert plan["Desired"] is None

    def test_an_endpoint_being_deleted_is_not_deleted_again(self, world: World, stack: Settings) -> None:
        v1 = world.register("Approved")
        world.serve(v1)
        world.set_status(v1, "Rejected")
        world.endpoint(endpoint_status="Deleting")
        plan = plan_for(world, replace(stack, when_no_approved="DeleteEndpoint"))
        assert plan["Action"] == "NoChange"
        assert plan["Reason"] == "no Approved version in group abalone, and the endpoint is being deleted"

    def test_a_malformed_input_is_refused_naming_the_field(self, world: World, stack: Settings) -> None:
        with pytest.raises(steps.InvalidInput) as refused:
            plan_for(world, stack, {"Target": "everywhere", "ModelPackageArn": "abalone/1"})
        assert str(refused.value).startswith("invalid input: Target: Input should be 'endpoint' or 'batch' (got ")
        assert "ModelPackageArn: String should match pattern" in str(refused.value)
        with pytest.raises(steps.InvalidInput, match=r"Mode: Extra inputs are not permitted \(got 'deploy'\)"):
            plan_for(world, stack, {"Mode": "deploy"})


class TestSageMakerNames:
    def test_a_30_character_prefix_fits_in_63_characters_with_a_large_version(self) -> None:
        prefix = "a" * 29 + "z"  # the template allows 30 characters
        name = steps.sagemaker_name(prefix, 123_456, "deploy-v123456-0123456789abcdef0123-19")
        assert len(name) <= 63
        assert name.startswith(prefix + "-v123456-")
        assert re.fullmatch(arns.SAGEMAKER_NAME, name)

    @pytest.mark.parametrize("prefix", ["x" * 80, "My_Stack.name--", "___"])
    def test_any_prefix_gives_a_valid_name_of_at_most_63_characters(self, prefix: str) -> None:
        name = steps.sagemaker_name(prefix, 7, EXECUTION)
        assert len(name) <= 63
        assert re.fullmatch(arns.SAGEMAKER_NAME, name), name
        assert name.endswith(f"-v7-{hashlib.sha256(EXECUTION.encode()).hexdigest()[:10]}")

    def test_each_execution_gets_names_of_its_own(self) -> None:
        assert steps.sagemaker_name(PREFIX, 2, EXECUTION) != steps.sagemaker_name(PREFIX, 2, f"{EXECUTION}-2")

    def test_a_planned_name_for_the_templates_longest_prefix_fits(self, world: World, stack: Settings) -> None:
        world.register("Approved")
        long_prefix = replace(stack, resource_prefix="abalone-mlops-staging-eu-west1")
        assert len(long_prefix.resource_prefix) == 30
        plan = plan_for(world, long_prefix)
        assert all(len(name) <= 63 for name in plan["Names"].values())


class TestPlanBatch:
    @pytest.fixture
    def batch(self, stack: Settings) -> Settings:
        return replace(stack, target="batch")

    def test_deploy_names_the_next_job_and_its_output(self, world: World, batch: Settings) -> None:
        world.register("Approved")
        v2 = world.register("Approved")
        world.transform_job(f"{job_base(PREFIX, 2, BATCH_INPUT)}-1", "Failed", "ClientError: no data")
        plan = plan_for(world, batch, {"ModelPackageArn": v2})
        job = f"{job_base(PREFIX, 2, BATCH_INPUT)}-2"  # the failed attempt leaves room for the next
        assert plan["Action"] == "Deploy"
        assert plan["Names"] == {"Model": steps.sagemaker_name(PREFIX, 2, EXECUTION), "Job": job}
        assert plan["Package"] == {"Arn": v2, "Version": 2}
        assert plan["BatchInputS3Uri"] == BATCH_INPUT
        assert plan["BatchOutputS3Uri"] == f"s3://{BUCKET}/batch/output/{job}/"

    def test_the_input_given_replaces_the_default(self, world: World, stack: Settings) -> None:
        world.register("Approved")
        plan = plan_for(world, stack, {"Target": "batch", "BatchInputS3Uri": "s3://other-bucket/scoring/"})
        assert plan["Target"] == "batch"
        assert plan["BatchInputS3Uri"] == "s3://other-bucket/scoring/"
        assert plan["Names"]["Job"] == f"{job_base(PREFIX, 1, 's3://other-bucket/scoring/')}-1"

    @pytest.mark.parametrize("status", ["Completed", "InProgress"])
    def test_a_completed_or_running_job_is_already_live(self, world: World, batch: Settings, status: str) -> None:
        world.register("Approved")
        job = f"{job_base(PREFIX, 1, BATCH_INPUT)}-1"
        world.transform_job(job, status)
        plan = plan_for(world, batch)
        assert (plan["Action"], plan["Reason"]) == (
            "AlreadyLive",
            f"version 1 already has transform job {job} for {BATCH_INPUT}",
        )

    def test_a_version_no_longer_desired_stands_down(self, world: World, batch: Settings) -> None:
        v1 = world.register("Approved")
        world.register("Approved")
        plan = plan_for(world, batch, {"ModelPackageArn": v1})
        assert (plan["Action"], plan["Reason"]) == ("StandDown", "version 2 is now the highest Approved version")

    def test_nothing_approved_is_no_change(self, world: World, batch: Settings) -> None:
        plan = plan_for(world, batch)
        assert (plan["Action"], plan["Reason"]) == ("NoChange", "no Approved version in group abalone")


# ======================================================================================================================
# steps.gate
# ======================================================================================================================
REFUSED = (
    'Cannot update in-progress endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/abalone-mlops-endpoint". '
    "(Service: SageMaker, Status Code: 400, Request ID: 5b3c8e2a-1f0d-4c6b-9a7e-2d4f6b8a0c1e)"
)


def gate_once(world: World, stack: Settings, plan: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    return steps.gate(plan, previous, stack, clients(world))


class TestGate:
    @pytest.fixture
    def plan(self, world: World, stack: Settings) -> dict[str, Any]:
        """v1 live, v2 approved: the plan of the execution deploying v2 (MaxPolls 3)."""
        v1, v2 = world.register("Approved"), world.register("Approved")
        world.serve(v1)
        return plan_for(world, stack, {"ModelPackageArn": v2, "MaxPolls": 3})

    def test_update_carries_the_templates_deployment_config(
        self, world: World, stack: Settings, plan: dict[str, Any]
    ) -> None:
        answer = gate_once(world, stack, plan, {"Polls": 0, "Refusals": 0})
        assert answer == {
            "Polls": 0,
            "Refusals": 0,
            "Action": "Update",
            "Reason": "version 2 is the highest Approved version",
            "DeploymentConfig": {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {
                        "Type": "CANARY",
                        "WaitIntervalInSeconds": 300,
                        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
                    },
                    "TerminationWaitInSeconds": 600,
                },
                "AutoRollbackConfiguration": {
                    "Alarms": [{"AlarmName": f"{ENDPOINT}-5xx"}, {"AlarmName": f"{ENDPOINT}-latency"}]
                },
            },
        }

    def test_a_failed_endpoint_is_replaced_not_updated(self, world: World, stack: Settings) -> None:
        """SageMaker updates only an InService endpoint: a Failed one is deleted (the ASL) and created anew."""
        v1, v2 = world.register("Approved"), world.register("Approved")
        world.serve(v1)
        world.endpoint(endpoint_status="Failed", failure_reason="ModelError: the model did not load")
        plan = plan_for(world, stack, {"ModelPackageArn": v2})

        answer = gate_once(world, stack, plan, {"Polls": 1, "Refusals": 0})

        assert answer == {
            "Polls": 1,
            "Refusals": 0,
            "Action": "Replace",
            "Reason": f"endpoint {ENDPOINT} is Failed (ModelError: the model did not load): it is deleted, then "
            "created anew",
        }
        assert plan["Live"]["Status"] == "Failed"

    def test_a_failed_endpoint_serving_the_same_version_is_replaced_too(self, world: World, stack: Settings) -> None:
        v1 = world.register("Approved")
        world.serve(v1)
        world.endpoint(endpoint_status="Failed", failure_reason="")
        plan = plan_for(world, stack)

        assert plan["Action"] == "Deploy"
        assert gate_once(world, stack, plan, {"Polls": 0, "Refusals": 0})["Action"] == "Replace"

    def test_create_when_there_is_no_endpoint(self, world: World, stack: Settings) -> None:
        world.register("Approved")
        plan = plan_for(world, stack)
        answer = gate_once(world, stack, plan, {"Polls": 2, "Refusals": 1})
        assert (answer["Action"], answer["Polls"], answer["Refusals"]) == ("Create", 2, 1)

    @pytest.mark.parametrize("busy", ["Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"])
    def test_a_busy_endpoint_is_waited_for_then_times_out(
        self, world: World, stack: Settings, plan: dict[str, Any], busy: str
    ) -> None:
        # GIVEN another change keeps the endpoint busy
        world.endpoint(endpoint_status=busy)
        previous: dict[str, Any] = {"Polls": 0, "Refusals": 0}
        # WHEN the gate is asked MaxPolls (3) times, each answer being the next one's Previous
        for expected_polls in (1, 2, 3):
            previous = gate_once(world, stack, plan, previous)
            assert previous == {
                "Polls": expected_polls,
                "Refusals": 0,
                "Action": "Wait",
                "Reason": f"the endpoint is {busy}",
            }
        # THEN the next one gives up, naming the endpoint, its state and the version
        with pytest.raises(steps.EndpointBusyTimedOut) as timed_out:
            gate_once(world, stack, plan, previous)
        assert str(timed_out.value) == f"endpoint {ENDPOINT} stayed {busy} for 3 polls; version 2 was not deployed"

    def test_the_endpoint_free_again_is_updated(self, world: World, stack: Settings, plan: dict[str, Any]) -> None:
        world.endpoint(endpoint_status="Updating")
        waited = gate_once(world, stack, plan, {"Polls": 0, "Refusals": 0})
        world.endpoint(endpoint_status="InService")
        answer = gate_once(world, stack, plan, waited)
        assert (answer["Action"], answer["Polls"]) == ("Update", 1)

    def test_a_version_rejected_meanwhile_stands_down(
        self, world: World, stack: Settings, plan: dict[str, Any]
    ) -> None:
        world.set_status(plan["Package"]["Arn"], "Rejected")
        answer = gate_once(world, stack, plan, {"Polls": 1, "Refusals": 0})
        assert answer == {
            "Polls": 1,
            "Refusals": 0,
            "Action": "StandDown",
            "Reason": "version 1 is now the highest Approved version",
        }

    def test_a_newer_approval_meanwhile_stands_down(self, world: World, stack: Settings, plan: dict[str, Any]) -> None:
        world.register("Approved")
        answer = gate_once(world, stack, plan, {"Polls": 0, "Refusals": 0})
        assert (answer["Action"], answer["Reason"]) == ("StandDown", "version 3 is now the highest Approved version")

    def test_no_approved_version_left_stands_down(self, world: World, stack: Settings, plan: dict[str, Any]) -> None:
        for summary in world.sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]:
            world.set_status(summary["ModelPackageArn"], "Rejected")
        answer = gate_once(world, stack, plan, {"Polls": 0, "Refusals": 0})
        assert (answer["Action"], answer["Reason"]) == ("StandDown", "no Approved version is left in group abalone")

    def test_the_version_live_meanwhile_is_already_live(
        self, world: World, stack: Settings, plan: dict[str, Any]
    ) -> None:
        world.serve(plan["Package"]["Arn"], config=f"{PREFIX}-by-another-execution")
        answer = gate_once(world, stack, plan, {"Polls": 0, "Refusals": 0})
        assert (answer["Action"], answer["Reason"]) == ("AlreadyLive", "version 2 went live meanwhile")

    def test_three_refusals_are_waited_out_and_the_fourth_fails(
        self, world: World, stack: Settings, plan: dict[str, Any]
    ) -> None:
        # GIVEN UpdateEndpoint keeps being refused (the Catch puts the refusal into the gate's Previous)
        previous = gate_once(world, stack, plan, {"Polls": 0, "Refusals": 0})
        assert previous["Action"] == "Update"
        for count in (1, 2, 3):
            refused = {**previous, "Refusal": {"Error": "SageMaker.AmazonSageMakerException", "Cause": REFUSED}}
            previous = gate_once(world, stack, plan, refused)
            # THEN each of the first three is a Wait, counted as a refusal and a poll
            assert previous == {
                "Polls": count,
                "Refusals": count,
                "Action": "Wait",
                "Reason": f"SageMaker refused: {REFUSED}",
            }
        # AND the fourth ends the execution, with SageMaker's last answer
        with pytest.raises(steps.EndpointChangeRefused) as refused_again:
            gate_once(world, stack, plan, {**previous, "Refusal": {"Error": "States.TaskFailed", "Cause": REFUSED}})
        assert str(refused_again.value) == f"SageMaker refused the change 4 times; last answer: {REFUSED}"

    @pytest.mark.parametrize(
        "cause",
        [
            'Cannot create already existing endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/x".',
            "An endpoint with this name is already existing in this account",
        ],
    )
    def test_a_create_refused_by_a_concurrent_first_deployment_is_a_refusal(
        self, world: World, stack: Settings, plan: dict[str, Any], cause: str
    ) -> None:
        answer = gate_once(world, stack, plan, {"Polls": 0, "Refusals": 0, "Refusal": {"Error": "x", "Cause": cause}})
        assert (answer["Action"], answer["Refusals"]) == ("Wait", 1)

    def test_any_other_error_is_re_raised_as_a_failed_deployment(
        self, world: World, stack: Settings, plan: dict[str, Any]
    ) -> None:
        cause = (
            'Could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/abalone-mlops-v2-0123456789". '
            "(Service: SageMaker, Status Code: 400)"
        )
        with pytest.raises(steps.DeploymentFailed) as failed:
            gate_once(
                world,
                stack,
                plan,
                {"Polls": 0, "Refusals": 2, "Refusal": {"Error": "SageMaker.AmazonSageMakerException", "Cause": cause}},
            )
        assert type(failed.value) is steps.DeploymentFailed  # not counted as a refusal
        assert str(failed.value) == f"SageMaker.AmazonSageMakerException: {cause}"


# ======================================================================================================================
# steps.check
# ======================================================================================================================
class TestCheckEndpoint:
    @pytest.fixture
    def plan(self, world: World, stack: Settings) -> dict[str, Any]:
        """v1 live, the execution deploying v2 has asked for its config (MaxPolls 3)."""
        v1, v2 = world.register("Approved"), world.register("Approved")
        world.serve(v1)
        plan = plan_for(world, stack, {"ModelPackageArn": v2, "MaxPolls": 3})
        world.config_for(plan["Names"]["EndpointConfig"], v2)
        return plan

    def check(self, world: World, plan: dict[str, Any], polls: int = 0) -> dict[str, Any]:
        return steps.check(plan, {"Polls": polls}, clients(world))

    def test_the_new_config_in_service_is_deployed(self, world: World, plan: dict[str, Any]) -> None:
        world.endpoint(endpoint_config_name=plan["Names"]["EndpointConfig"])
        assert self.check(world, plan, polls=4) == {"Done": True, "Polls": 5, "Outcome": "Deployed"}

    def test_the_previous_config_back_in_service_is_rolled_back(self, world: World, plan: dict[str, Any]) -> None:
        # GIVEN the update's alarm fired and SageMaker went back to the config that was live
        reason = f"Alarm {ENDPOINT}-5xx went into ALARM during the baking period: the update was rolled back"
        world.endpoint(endpoint_config_name=plan["Live"]["Config"], failure_reason=reason)
        assert self.check(world, plan) == {"Done": True, "Polls": 1, "Outcome": "RolledBack", "Reason": reason}

    def test_a_rollback_without_a_reason_says_so(self, world: World, plan: dict[str, Any]) -> None:
        answer = self.check(world, plan)  # the live config never changed
        assert (answer["Outcome"], answer["Reason"]) == ("RolledBack", "SageMaker rolled the update back")

    def test_a_third_config_in_service_is_superseded(self, world: World, plan: dict[str, Any]) -> None:
        world.endpoint(endpoint_config_name=f"{PREFIX}-v3-by-a-later-execution")
        assert self.check(world, plan) == {
            "Done": True,
            "Polls": 1,
            "Outcome": "Superseded",
            "Reason": f"endpoint config {PREFIX}-v3-by-a-later-execution went live",
        }

    def test_an_endpoint_still_updating_is_polled_again_then_times_out(
        self, world: World, plan: dict[str, Any]
    ) -> None:
        world.endpoint(endpoint_status="Updating", endpoint_config_name=plan["Names"]["EndpointConfig"])
        assert self.check(world, plan, polls=1) == {"Done": False, "Polls": 2, "Status": "Updating"}
        with pytest.raises(steps.EndpointTimedOut) as timed_out:
            self.check(world, plan, polls=2)
        assert str(timed_out.value) == f"endpoint {ENDPOINT} still Updating after 3 polls"

    def test_a_failed_endpoint_fails_with_its_reason(self, world: World, plan: dict[str, Any]) -> None:
        world.endpoint(endpoint_status="Failed", failure_reason="The model container failed the ping health check")
        with pytest.raises(steps.EndpointFailed) as failed:
            self.check(world, plan)
        assert str(failed.value) == f"endpoint {ENDPOINT} failed: The model container failed the ping health check"


class TestCheckTransform:
    @pytest.fixture
    def plan(self, world: World, stack: Settings) -> dict[str, Any]:
        world.register("Approved")
        return plan_for(world, replace(stack, target="batch"), {"MaxPolls": 3})

    def check(self, world: World, plan: dict[str, Any], polls: int) -> dict[str, Any]:
        return steps.check(plan, {"Polls": polls}, clients(world))

    def test_a_completed_job_is_transformed(self, world: World, plan: dict[str, Any]) -> None:
        world.transform_job(plan["Names"]["Job"], "Completed")
        assert self.check(world, plan, polls=0) == {"Done": True, "Polls": 1, "Outcome": "Transformed"}

    def test_a_running_job_is_polled_again_and_not_stopped(self, world: World, plan: dict[str, Any]) -> None:
        world.transform_job(plan["Names"]["Job"], "InProgress")
        with mock.patch.object(world.sagemaker, "stop_transform_job") as stop:
            assert self.check(world, plan, polls=1) == {"Done": False, "Polls": 2, "Status": "InProgress"}
        stop.assert_not_called()

    def test_a_job_outliving_the_polls_is_stopped(self, world: World, plan: dict[str, Any]) -> None:
        # GIVEN the job is still running at the last poll (moto has no StopTransformJob: the call is recorded)
        job = plan["Names"]["Job"]
        world.transform_job(job, "InProgress")
        with (
            mock.patch.object(world.sagemaker, "stop_transform_job") as stop,
            pytest.raises(steps.TransformTimedOut) as timed_out,
        ):
            self.check(world, plan, polls=2)
        # THEN it was stopped, so it bills nothing more, and the error says so
        stop.assert_called_once_with(TransformJobName=job)
        assert str(timed_out.value) == f"transform job {job} still InProgress after 3 polls: stopped"

    @pytest.mark.parametrize("status", ["Failed", "Stopped"])
    def test_a_failed_or_stopped_job_fails_with_its_reason(
        self, world: World, plan: dict[str, Any], status: str
    ) -> None:
        job = plan["Names"]["Job"]
        world.transform_job(job, status, "AlgorithmError: could not parse line 3")
        with pytest.raises(steps.TransformFailed) as failed:
            self.check(world, plan, polls=0)
        assert str(failed.value) == f"transform job {job} {status}: AlgorithmError: could not parse line 3"


# ======================================================================================================================
# steps.finish and steps.describe_outcome
# ======================================================================================================================
V1 = package_arn(1)
V2 = package_arn(2)
EXECUTION_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{PREFIX}-deploy:{EXECUTION}"


def a_plan(action: str = "Deploy", **overrides: Any) -> dict[str, Any]:
    """A plan as steps.plan writes it: deploying v2 over v1 unless told otherwise."""
    plan = {
        "Target": "endpoint",
        "ExecutionName": EXECUTION,
        "Endpoint": ENDPOINT,
        "Group": GROUP,
        "PollSeconds": 30,
        "MaxPolls": 120,
        "Desired": {"Arn": V2, "Version": 2},
        "Expected": {"Arn": V2, "Version": 2},
        "Live": {"Config": f"{PREFIX}-v1-0123456789", "Arn": V1, "Version": 1},
        "Names": {"Model": f"{PREFIX}-v2-abcdef0123", "EndpointConfig": f"{PREFIX}-v2-abcdef0123"},
        "Action": action,
        "Reason": "version 2 is the highest Approved version",
        "Package": {"Arn": V2, "Version": 2},
    }
    return {**plan, **overrides}


def lambda_error(error_type: str, message: str) -> str:
    """A Catch's Cause for a Lambda task: the function's error document, as JSON text."""
    return json.dumps(
        {"errorMessage": message, "errorType": error_type, "requestId": "r-1", "stackTrace": ['  File "x.py"\n']}
    )


@dataclass(frozen=True)
class Case:
    plan: dict[str, Any] | None
    check: dict[str, Any] | None = None
    gate: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None


OUTCOMES = [
    pytest.param(
        Case(a_plan(), check={"Done": True, "Outcome": "Deployed"}),
        ("Deployed", False, "Model version 2 deployed to the endpoint"),
        f"Endpoint {ENDPOINT} now serves version 2 (was: version 1).",
        id="deployed",
    ),
    pytest.param(
        Case(a_plan(Live=None), check={"Done": True, "Outcome": "Deployed"}),
        ("Deployed", False, "Model version 2 deployed to the endpoint"),
        f"Endpoint {ENDPOINT} now serves version 2 (was: no model).",
        id="first-deployment",
    ),
    pytest.param(
        Case(
            a_plan(
                Target="batch",
                Live=None,
                Names={"Model": "m", "Job": f"{PREFIX}-v2-1a2b3c4d-1"},
                BatchInputS3Uri=BATCH_INPUT,
                BatchOutputS3Uri=f"s3://{BUCKET}/batch/output/{PREFIX}-v2-1a2b3c4d-1/",
            ),
            check={"Done": True, "Outcome": "Transformed"},
        ),
        ("Transformed", False, "Batch transform of version 2 completed"),
        f"Transform job {PREFIX}-v2-1a2b3c4d-1 scored {BATCH_INPUT} with version 2; output at "
        f"s3://{BUCKET}/batch/output/{PREFIX}-v2-1a2b3c4d-1/.",
        id="transformed",
    ),
    pytest.param(
        Case(a_plan(), check={"Done": True, "Outcome": "RolledBack", "Reason": "alarm 5xx fired"}),
        ("Failed", True, "Deployment failed"),
        f"Deployment of version 2 was rolled back by SageMaker: alarm 5xx fired. {ENDPOINT} still serves version 1.",
        id="rolled-back",
    ),
    pytest.param(
        Case(a_plan(), check={"Done": True, "Outcome": "Superseded", "Reason": "endpoint config c3 went live"}),
        ("NoChange", False, "No change by this deployment of version 2"),
        "Nothing changed by this execution: endpoint config c3 went live.",
        id="superseded",
    ),
    pytest.param(
        Case(a_plan(), gate={"Action": "StandDown", "Reason": "version 3 is now the highest Approved version"}),
        ("StoodDown", False, "No change: version 2 not deployed by this execution"),
        f"Nothing changed on {ENDPOINT} (it serves version 1): version 3 is now the highest Approved version.",
        id="gate-stood-down",
    ),
    pytest.param(
        Case(a_plan(), gate={"Action": "AlreadyLive", "Reason": "version 2 went live meanwhile"}),
        ("NoChange", False, "No change: version 2 not deployed by this execution"),
        f"Nothing changed on {ENDPOINT} (it serves version 1): version 2 went live meanwhile.",
        id="gate-already-live",
    ),
    pytest.param(
        Case(
            a_plan(
                "KeepLastModel",
                Desired=None,
                Expected=None,
                Package=None,
                Names={},
                Reason="no Approved version is left in group abalone",
            )
        ),
        ("KeptLastModel", False, "No Approved model left: the endpoint keeps its model"),
        f"No Approved version is left in group abalone: {ENDPOINT} keeps serving version 1 "
        "(WhenNoApprovedModel=KeepLastModel). Approve a version to replace it.",
        id="kept-last-model",
    ),
    pytest.param(
        Case(
            a_plan(
                "DeleteEndpoint",
                Desired=None,
                Expected=None,
                Package=None,
                Names={},
                Reason="no Approved version is left in group abalone",
            )
        ),
        ("EndpointDeleted", False, "No Approved model left: the endpoint was deleted"),
        f"No Approved version is left in group abalone: endpoint {ENDPOINT} was deleted (it served version 1; "
        "WhenNoApprovedModel=DeleteEndpoint).",
        id="endpoint-deleted",
    ),
    pytest.param(
        Case(a_plan("StandDown", Names={}, Package=None, Reason="version 3 is now the highest Approved version")),
        ("StoodDown", False, "No change: version 3 is now the highest Approved version"),
        "Nothing changed: version 3 is now the highest Approved version.",
        id="plan-stood-down",
    ),
    pytest.param(
        Case(a_plan("AlreadyLive", Names={}, Package=None, Reason="version 2 is already live")),
        ("NoChange", False, "No change: version 2 is already live"),
        "Nothing changed: version 2 is already live.",
        id="plan-already-live",
    ),
    pytest.param(
        Case(
            a_plan(),
            gate={"Action": "Update", "Polls": 0},
            failure={
                "Error": "EndpointChangeRefused",
                "Cause": lambda_error("EndpointChangeRefused", "SageMaker refused the change 4 times; last answer: x"),
            },
        ),
        ("Failed", True, "Deployment failed"),
        "Deployment of version 2 failed: EndpointChangeRefused: SageMaker refused the change 4 times; last answer: "
        f"x. {ENDPOINT} still serves version 1.",
        id="lambda-error",
    ),
    pytest.param(
        Case(
            a_plan(),
            failure={"Error": "SageMaker.AmazonSageMakerException", "Cause": "Quota exceeded for ml.m5.large"},
        ),
        ("Failed", True, "Deployment failed"),
        "Deployment of version 2 failed: SageMaker.AmazonSageMakerException: Quota exceeded for ml.m5.large. "
        f"{ENDPOINT} still serves version 1.",
        id="service-error",
    ),
    pytest.param(
        Case(None, failure={"Error": "ValidationError", "Cause": lambda_error("ValidationError", "bad Target")}),
        ("Failed", True, "Deployment failed"),
        "Deployment failed before it planned anything: ValidationError: bad Target. Nothing was changed.",
        id="plan-failed",
    ),
    pytest.param(
        Case(
            a_plan(),
            check={"Done": True, "Outcome": "Deployed"},
            failure={"Error": "ApplicationAutoScaling.ValidationException", "Cause": "MaxCapacity must be >= 1"},
        ),
        ("Failed", True, "Deployment failed"),
        f"Endpoint {ENDPOINT} now serves version 2 (was: version 1), but a later step failed: "
        "ApplicationAutoScaling.ValidationException: MaxCapacity must be >= 1.",
        id="failed-after-going-live",
    ),
    pytest.param(
        Case(
            a_plan("DeleteEndpoint", Desired=None, Expected=None, Package=None, Names={}, Reason="none left"),
            failure={"Error": "SageMaker.SageMakerException", "Cause": "Rate exceeded"},
        ),
        ("Failed", True, "Deployment failed"),
        f"Deleting endpoint {ENDPOINT} failed: SageMaker.SageMakerException: Rate exceeded. It still serves version 1.",
        id="delete-failed",
    ),
    pytest.param(
        Case(
            a_plan(Target="batch", Live=None, Names={"Model": "m", "Job": "j-1"}),
            failure={"Error": "TransformFailed", "Cause": lambda_error("TransformFailed", "transform job j-1 Failed")},
        ),
        ("Failed", True, "Deployment failed"),
        "Batch transform of version 2 failed: TransformFailed: transform job j-1 Failed.",
        id="transform-failed",
    ),
]


class TestDescribeOutcome:
    @pytest.mark.parametrize(("case", "expected", "message"), OUTCOMES)
    def test_subject_message_and_outcome(self, case: Case, expected: tuple[str, bool, str], message: str) -> None:
        outcome = steps.describe_outcome(case.plan, case.check, case.gate, case.failure)
        assert (outcome["Outcome"], outcome["Failed"], outcome["Subject"]) == expected
        assert outcome["Message"] == message

    def test_a_failure_carries_its_error_and_readable_cause_for_the_fail_state(self) -> None:
        cause = lambda_error("EndpointFailed", "endpoint e failed: ping health check")
        outcome = steps.describe_outcome(a_plan(), None, None, {"Error": "EndpointFailed", "Cause": cause})
        assert (outcome["Error"], outcome["Cause"]) == ("EndpointFailed", "endpoint e failed: ping health check")

    def test_a_cause_that_is_json_but_no_lambda_error_is_kept_as_it_is(self) -> None:
        outcome = steps.describe_outcome(a_plan(), None, None, {"Error": "X", "Cause": '{"code": 7}'})
        assert outcome["Cause"] == '{"code": 7}'

    def test_success_has_no_error_for_the_fail_state(self) -> None:
        outcome = steps.describe_outcome(a_plan(), {"Done": True, "Outcome": "Deployed"}, None, None)
        assert (outcome["Error"], outcome["Cause"]) == ("", "")


class TestFinish:
    def test_the_team_is_told_what_changed_from_which_version_to_which(self, world: World) -> None:
        # GIVEN an execution's state document: it updated the endpoint from v1 to v2
        state = {
            "Plan": a_plan(),
            "Gate": {"Polls": 1, "Refusals": 0, "Action": "Update"},
            "Check": {"Done": True, "Polls": 9, "Outcome": "Deployed"},
        }
        # WHEN it finishes
        result = steps.finish(EXECUTION_ARN, state, TOPIC, REGION, clients(world))
        # THEN the topic carries the subject and the message, with links to the execution and the package
        (notification,) = world.notifications()
        assert notification["Subject"] == "Model version 2 deployed to the endpoint"
        assert notification["Message"] == (
            f"Endpoint {ENDPOINT} now serves version 2 (was: version 1).\n\n"
            f"Execution: https://{REGION}.console.aws.amazon.com/states/home?region={REGION}#/v2/executions/details/"
            f"{EXECUTION_ARN}\nModel package: {V2}"
        )
        assert result["Message"] == notification["Message"]
        assert (result["Outcome"], result["Failed"]) == ("Deployed", False)

    def test_a_counter_only_gate_and_an_unfinished_check_are_not_outcomes(self, world: World) -> None:
        # GIVEN the plan's initial counters, and a check that was still polling when the failure came
        state = {
            "Plan": a_plan(),
            "Gate": {"Polls": 0, "Refusals": 0},
            "Check": {"Done": False, "Polls": 120, "Status": "Updating"},
            "Failure": {"Error": "EndpointTimedOut", "Cause": lambda_error("EndpointTimedOut", "still Updating")},
        }
        result = steps.finish(EXECUTION_ARN, state, TOPIC, REGION, clients(world))
        assert result["Outcome"] == "Failed"
        assert result["Message"].startswith(
            f"Deployment of version 2 failed: EndpointTimedOut: still Updating. {ENDPOINT} still serves version 1."
        )
        (notification,) = world.notifications()
        assert notification["Subject"] == "Deployment failed"

    def test_a_retire_links_no_package(self, world: World) -> None:
        plan = a_plan("KeepLastModel", Desired=None, Expected=None, Package=None, Names={}, Reason="none left")
        result = steps.finish(EXECUTION_ARN, {"Plan": plan}, TOPIC, REGION, clients(world))
        assert "Model package:" not in result["Message"]
        assert result["Message"].endswith(EXECUTION_ARN)

    def test_a_long_subject_is_cut_to_what_sns_accepts(self, world: World) -> None:
        plan = a_plan("NoChange", Names={}, Package=None, Reason="x" * 150)
        result = steps.finish(EXECUTION_ARN, {"Plan": plan}, TOPIC, REGION, clients(world))
        (notification,) = world.notifications()
        assert notification["Subject"] == result["Subject"][:100]
        assert len(notification["Subject"]) == 100

    def test_without_a_topic_client_nothing_is_published(self, world: World) -> None:
        result = steps.finish(
            EXECUTION_ARN, {"Plan": a_plan("AlreadyLive")}, TOPIC, REGION, steps.Clients(world.sagemaker)
        )
        assert result["Outcome"] == "NoChange"
        assert world.notifications() == []


# ======================================================================================================================
# settings
# ======================================================================================================================
class TestSettings:
    def test_the_template_environment_gives_the_settings(self) -> None:
        assert Settings.from_env(TEMPLATE_ENV) == Settings(
            group=GROUP,
            endpoint_name=ENDPOINT,
            resource_prefix=PREFIX,
            target="endpoint",
            when_no_approved="KeepLastModel",
            artifacts_bucket=BUCKET,
            batch_input_prefix=BATCH_INPUT,
            poll_seconds=30,
            max_polls=120,
            stage="single",
            registry_account="",
            region=REGION,
        )

    def test_a_target_reads_the_registry_accounts_group_by_its_arn(self) -> None:
        settings = Settings.from_env(
            {**TEMPLATE_ENV, "DEPLOYMENT_STAGE": "production", "REGISTRY_ACCOUNT_ID": "111122223333"}
        )
        assert (settings.stage, settings.registry_account) == ("production", "111122223333")
        assert settings.group_ref == f"arn:aws:sagemaker:{REGION}:111122223333:model-package-group/{GROUP}"
        assert Settings.from_env(TEMPLATE_ENV).group_ref == GROUP  # single account: the group's name

    def test_a_target_without_its_registry_is_refused_by_name(self) -> None:
        with pytest.raises(ConfigurationError, match="REGISTRY_ACCOUNT_ID must be set for DEPLOYMENT_STAGE staging"):
            Settings.from_env({**TEMPLATE_ENV, "DEPLOYMENT_STAGE": "staging"})
        with pytest.raises(ConfigurationError, match="DEPLOYMENT_STAGE must be one of single, staging, production"):
            Settings.from_env({**TEMPLATE_ENV, "DEPLOYMENT_STAGE": "qa"})

    def test_it_reads_the_process_environment_by_default(self, template_env: dict[str, str]) -> None:
        assert Settings.from_env().endpoint_name == ENDPOINT

    def test_every_missing_variable_is_named_in_one_error(self) -> None:
        environ = {**TEMPLATE_ENV, "ENDPOINT_NAME": "  "}
        for name in ("MODEL_PACKAGE_GROUP_NAME", "ARTIFACTS_BUCKET", "POLL_SECONDS", "MAX_POLLS"):
            del environ[name]
        with pytest.raises(ConfigurationError) as missing:
            Settings.from_env(environ)
        assert str(missing.value) == (
            "environment variables not set: MODEL_PACKAGE_GROUP_NAME, ENDPOINT_NAME, ARTIFACTS_BUCKET, POLL_SECONDS, "
            "MAX_POLLS"
        )

    def test_every_bad_value_is_named_in_one_error(self) -> None:
        environ = {
            **TEMPLATE_ENV,
            "DEFAULT_DEPLOYMENT_TARGET": "lambda",
            "WHEN_NO_APPROVED_MODEL": "Delete",
            "POLL_SECONDS": "thirty",
            "MAX_POLLS": "0",
        }
        with pytest.raises(ConfigurationError) as bad:
            Settings.from_env(environ)
        assert str(bad.value) == (
            "DEFAULT_DEPLOYMENT_TARGET must be endpoint or batch, got 'lambda'; "
            "WHEN_NO_APPROVED_MODEL must be KeepLastModel or DeleteEndpoint, got 'Delete'; "
            "environment variable POLL_SECONDS must be an integer, got 'thirty'; "
            "environment variable MAX_POLLS must be between 1 and 10000, got 0"
        )

    @pytest.mark.parametrize(
        ("name", "value", "problem"),
        [
            ("DEFAULT_DEPLOYMENT_TARGET", "Endpoint", "DEFAULT_DEPLOYMENT_TARGET must be endpoint or batch, got"),
            ("POLL_SECONDS", "3601", "POLL_SECONDS must be between 0 and 3600, got 3601"),
            ("MAX_POLLS", "10001", "MAX_POLLS must be between 1 and 10000, got 10001"),
        ],
    )
    def test_a_bad_value_is_named(self, name: str, value: str, problem: str) -> None:
        with pytest.raises(ConfigurationError, match=re.escape(problem)):
            Settings.from_env({**TEMPLATE_ENV, name: value})

    def test_values_are_stripped(self) -> None:
        settings_ = Settings.from_env({**TEMPLATE_ENV, "DEFAULT_DEPLOYMENT_TARGET": " batch ", "MAX_POLLS": " 5"})
        assert (settings_.target, settings_.max_polls) == ("batch", 5)


class TestDeploymentConfig:
    @pytest.mark.parametrize(
        ("mode", "step"),
        [
            ("CANARY", {"CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}}),
            ("linear", {"LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 10}}),
            ("ALL_AT_ONCE", {}),
        ],
    )
    def test_the_traffic_shifting_mode_shapes_the_routing(self, mode: str, step: dict[str, Any]) -> None:
        config = deployment_config({**TEMPLATE_ENV, "TRAFFIC_SHIFTING_MODE": mode})
        assert config["BlueGreenUpdatePolicy"] == {
            "TrafficRoutingConfiguration": {"Type": mode.upper(), "WaitIntervalInSeconds": 300, **step},
            "TerminationWaitInSeconds": 600,
        }
        assert config["AutoRollbackConfiguration"] == {
            "Alarms": [{"AlarmName": f"{ENDPOINT}-5xx"}, {"AlarmName": f"{ENDPOINT}-latency"}]
        }

    def test_every_missing_variable_is_named_in_one_error(self) -> None:
        environ = {**TEMPLATE_ENV}
        for name in ("TRAFFIC_SHIFTING_MODE", "BAKING_PERIOD_SECONDS", "ROLLBACK_ALARM_NAMES"):
            del environ[name]
        with pytest.raises(ConfigurationError) as missing:
            deployment_config(environ)
        assert str(missing.value) == (
            "environment variables not set: TRAFFIC_SHIFTING_MODE, BAKING_PERIOD_SECONDS, ROLLBACK_ALARM_NAMES"
        )

    @pytest.mark.parametrize(
        ("name", "value", "problem"),
        [
            ("TRAFFIC_SHIFTING_MODE", "BLUE_GREEN", "TRAFFIC_SHIFTING_MODE must be one of CANARY, LINEAR, ALL_AT_ONCE"),
            ("TRAFFIC_STEP_PERCENT", "0", "TRAFFIC_STEP_PERCENT must be between 1 and 100, got 0"),
            ("TRAFFIC_WAIT_SECONDS", "soon", "TRAFFIC_WAIT_SECONDS must be an integer, got 'soon'"),
            ("BAKING_PERIOD_SECONDS", "7200", "BAKING_PERIOD_SECONDS must be between 0 and 3600, got 7200"),
            ("ROLLBACK_ALARM_NAMES", f"{ENDPOINT}-5xx,", "ROLLBACK_ALARM_NAMES has a blank entry"),
        ],
    )
    def test_a_bad_value_is_named(self, name: str, value: str, problem: str) -> None:
        with pytest.raises(ConfigurationError, match=re.escape(problem)):
            deployment_config({**TEMPLATE_ENV, name: value})


# ======================================================================================================================
# the handlers, through Powertools' parsing
# ======================================================================================================================
@pytest.mark.filterwarnings("ignore:No application metrics to publish")  # a step that counts none
class TestHandlers:
    def test_reconcile_handler_starts_the_deployment_of_the_approved_version(
        self, world: World, load_event: LoadEvent, lambda_context: Any
    ) -> None:
        # GIVEN v1 live, and the registry event of v2's approval
        v1, v2 = world.register("Approved"), world.register("Approved")
        config = world.serve(v1)
        event = load_event("deployments/registry-approved.json")
        assert event["detail"]["ModelPackageArn"] == v2
        # WHEN EventBridge invokes the reconciler
        result = app.reconcile_handler(event, lambda_context)
        # THEN it started the transition's execution, with the event and the request as its trigger
        name = f"deploy-v2-{digest(v2, config)}"
        assert result == {
            "Status": "started",
            "Reason": "version 2 is the highest Approved; the endpoint serves version 1",
            "ModelPackageArn": v2,
            "Version": 2,
            "ExecutionArn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{PREFIX}-deploy:{name}",
        }
        assert world.executions()[name]["Trigger"] == (f"event:{event['id']} request:{lambda_context.aws_request_id}")

    def test_reconcile_handler_deploys_after_an_execution_stood_down_for_a_version_since_rejected(
        self, world: World, load_event: LoadEvent, lambda_context: Any
    ) -> None:
        # GIVEN v3 Approved and nothing live: deploy-v3 ran, stood down for v4 (then Approved, since rejected) and
        # SUCCEEDED -- the registry event of v4's rejection found it running and left the work to it
        v3 = package_arn(3)
        statuses: tuple[ModelApprovalStatusType, ...] = ("Approved", "Approved", "Approved", "Rejected")
        for status in statuses:
            world.register(status)
        stood_down = f"deploy-v3-{digest(v3, '')}"
        started = world.sfn.start_execution(stateMachineArn=DEPLOY_MACHINE, name=stood_down, input="{}")
        world.end_execution(started["executionArn"], "SUCCEEDED")
        event = load_event("deployments/deploy-execution-succeeded.json")
        assert event["detail"]["name"] == stood_down
        # WHEN EventBridge invokes the reconciler with that execution's end
        result = app.reconcile_handler(event, lambda_context)
        # THEN the transition runs again, under its next name, and its trigger says what ended
        assert (result["Status"], result["Version"]) == ("started", 3)
        retry = f"{stood_down}-2"
        assert world.executions()[retry]["Trigger"] == (
            f"ended:{stood_down} event:{event['id']} request:{lambda_context.aws_request_id}"
        )

    def test_reconcile_handler_changes_nothing_after_a_deployment_that_converged(
        self, world: World, load_event: LoadEvent, lambda_context: Any
    ) -> None:
        world.register("Approved")
        world.serve(world.register("Approved"))
        result = app.reconcile_handler(load_event("deployments/deploy-execution-succeeded.json"), lambda_context)
        assert result["Status"] == "no-change"
        assert world.executions() == {}

    def test_reconcile_handler_raises_for_an_envelope_so_lambda_keeps_the_event(
        self, world: World, load_event: LoadEvent, lambda_context: Any
    ) -> None:
        world.register("Approved")
        with pytest.raises(InvalidEvent, match="SQS envelope"):
            app.reconcile_handler(load_event("deployments/registry-approved-in-sqs.json"), lambda_context)
        assert world.executions() == {}

    def test_reconcile_handler_checks_the_registry_account_when_it_is_another(
        self,
        world: World,
        load_event: LoadEvent,
        lambda_context: Any,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("REGISTRY_ACCOUNT_ID", "210987654321")
        with pytest.raises(InvalidEvent, match="is not in account 210987654321"):
            app.reconcile_handler(load_event("deployments/registry-approved.json"), lambda_context)

    def test_step_handler_plans_the_execution(self, world: World, load_event: LoadEvent, lambda_context: Any) -> None:
        world.register("Approved")
        v2 = world.register("Approved")
        event = load_event("deployments/step-plan.json")
        result = app.step_handler(event, lambda_context)
        assert result["Plan"]["Action"] == "Deploy"
        assert result["Plan"]["Package"] == {"Arn": v2, "Version": 2}
        assert result["Plan"]["Names"]["EndpointConfig"] == steps.sagemaker_name(PREFIX, 2, event["ExecutionName"])
        assert (result["Gate"], result["Check"]) == ({"Polls": 0, "Refusals": 0}, {"Polls": 0})

    def test_step_handler_finishes_and_tells_the_team(
        self, world: World, load_event: LoadEvent, lambda_context: Any
    ) -> None:
        result = app.step_handler(load_event("deployments/step-finish.json"), lambda_context)
        assert (result["Outcome"], result["Failed"]) == ("Deployed", False)
        (notification,) = world.notifications()
        assert notification["Subject"] == "Model version 2 deployed to the endpoint"
        assert notification["Message"].startswith(f"Endpoint {ENDPOINT} now serves version 2 (was: version 1).")

    def test_step_handler_refuses_an_unknown_operation(self, world: World, lambda_context: Any) -> None:
        with pytest.raises(ValidationError, match="Operation"):
            app.step_handler({"Operation": "deploy", "Plan": {}}, lambda_context)
