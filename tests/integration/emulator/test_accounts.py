"""Three accounts side by side: the template's registry, staging and production stacks, each provisioned in its own
emulated account, and what AWS lets them do to each other -- the group's resource policy, the event-bus policy and
the forwarding rule, the bucket policy, each function's own credentials, and the production rule refusing a
promoted version staging never verified."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local_twin.emulator import (
    ACCOUNT_ID,
    PRODUCTION_ACCOUNT_ID,
    REGION,
    STAGING_ACCOUNT_ID,
    Emulator,
    Stack,
    provision,
)
from local_twin.emulator.eventbridge import DELIVERIES
from local_twin.three_accounts import PRODUCTION, REGISTRY, STAGING, promote, stack_parameters
from tests.integration.account import BASE_PARAMETERS, XGBOOST_IMAGE
from tests.integration.emulator.conftest import poll

UNLISTED_ACCOUNT_ID = "444455556666"  # neither registry nor target: the policies name it nowhere
ACCOUNTS = {REGISTRY: ACCOUNT_ID, STAGING: STAGING_ACCOUNT_ID, PRODUCTION: PRODUCTION_ACCOUNT_ID}


@dataclass
class Accounts:
    aws: Emulator
    stacks: dict[str, Stack]
    group: str

    def client(self, role: str, service: str) -> Any:
        return self.aws.client(service, ACCOUNTS.get(role, role))

    @property
    def group_arn(self) -> str:
        return f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:model-package-group/{self.group}"

    def register(self, status: str = "PendingManualApproval", **extra: Any) -> str:
        arn: str = self.client(REGISTRY, "sagemaker").create_model_package(
            ModelPackageGroupName=self.group,
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [{"Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://{self.bucket}/models/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            **extra,
        )["ModelPackageArn"]
        return arn

    @property
    def bucket(self) -> str:
        return self.stacks[REGISTRY].ref("ArtifactsBucket")

    def function(self, role: str, logical_id: str) -> str:
        return self.stacks[role].function_names[logical_id]

    def invocations(self, role: str, logical_id: str) -> list[Any]:
        name = self.function(role, logical_id)
        return [record for record in self.aws.lambdas.records if record.function == name]

    def deploy_executions(self, role: str) -> list[dict[str, Any]]:
        sfn = self.client(role, "stepfunctions")
        listed = sfn.list_executions(stateMachineArn=self.stacks[role].ref("DeployStateMachine"))["executions"]
        return sorted(listed, key=lambda e: e["startDate"])

    def settle(self) -> None:
        def settled() -> bool:
            self.aws.lambdas.wait_for_async()
            if self.aws.executions.running():
                return False
            self.aws.lambdas.wait_for_async()  # what the last executions' end events started
            return not self.aws.executions.running()

        poll(settled, "the target accounts' events and executions")


@pytest.fixture(scope="module")
def accounts(aws: Emulator) -> Iterator[Accounts]:
    """The three stacks, with names of their own (the session's default-account stacks are left alone)."""
    suffix = uuid.uuid4().hex[:6]
    parameters = {
        **BASE_PARAMETERS,
        "ModelPackageGroupName": f"accounts-{suffix}",
        "ResourceNamePrefix": f"acct-{suffix}",
    }
    stacks = {
        role: provision(
            aws,
            parameters={**parameters, **stack_parameters(role, *ACCOUNTS.values())},
            stack_name=f"acct-{suffix}-{role}",
            account_id=account,
        )
        for role, account in ACCOUNTS.items()
    }
    yield Accounts(aws, stacks, f"accounts-{suffix}")
    aws.lambdas.wait_for_async()
    for stack in stacks.values():
        for name in stack.function_names.values():
            aws.lambdas.unregister(name)


def denied(error: pytest.ExceptionInfo[ClientError]) -> str:
    assert error.value.response["Error"]["Code"] == "AccessDeniedException"
    return str(error.value.response["Error"]["Message"])


# --- accounts and credentials ----------------------------------------------------------------------------------------
def test_a_client_of_another_account_acts_in_that_account(aws: Emulator) -> None:
    identity = aws.client("sts", STAGING_ACCOUNT_ID).get_caller_identity()
    bucket = f"accounts-{uuid.uuid4().hex[:8]}"
    aws.client("s3", STAGING_ACCOUNT_ID).create_bucket(Bucket=bucket)

    assert identity["Account"] == STAGING_ACCOUNT_ID
    assert identity["Arn"].startswith(f"arn:aws:sts::{STAGING_ACCOUNT_ID}:assumed-role/OrganizationAccountAccessRole/")
    assert bucket not in {b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]}
    assert aws.client("sts").get_caller_identity()["Account"] == ACCOUNT_ID


def test_each_function_runs_with_its_own_accounts_role(accounts: Accounts) -> None:
    spec = accounts.aws.lambdas.spec(accounts.function(STAGING, "ReconcileDeploymentsFunction"))
    registry_spec = accounts.aws.lambdas.spec(accounts.function(REGISTRY, "TrainStepsFunction"))
    assert spec.credentials is not None and registry_spec.credentials is None

    caller = boto3.client(  # as the function's SDK uses them
        "sts",
        region_name=REGION,
        endpoint_url=accounts.aws.url,
        aws_access_key_id=spec.credentials["AccessKeyId"],
        aws_secret_access_key=spec.credentials["SecretAccessKey"],
        aws_session_token=spec.credentials["SessionToken"],
    ).get_caller_identity()
    role = accounts.stacks[STAGING].attribute("ReconcileDeploymentsFunctionRole", "Arn").rsplit("/", 1)[-1]
    assert caller["Account"] == STAGING_ACCOUNT_ID
    assert caller["Arn"] == f"arn:aws:sts::{STAGING_ACCOUNT_ID}:assumed-role/{role}/{spec.name}"


def test_a_target_accounts_state_machine_invokes_that_accounts_functions(accounts: Accounts) -> None:
    before = len(accounts.invocations(PRODUCTION, "DeployStepsFunction"))
    sfn = accounts.client(PRODUCTION, "stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=accounts.stacks[PRODUCTION].ref("DeployStateMachine"), name=f"by-hand-{uuid.uuid4().hex[:8]}"
    )["executionArn"]

    ended = poll(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d, "execution")

    assert ended["status"] == "SUCCEEDED", ended
    assert len(accounts.invocations(PRODUCTION, "DeployStepsFunction")) > before


# --- the group's resource policy -------------------------------------------------------------------------------------
def test_provisioning_puts_the_templates_group_policy(accounts: Accounts) -> None:
    policy = json.loads(
        accounts.client(REGISTRY, "sagemaker").get_model_package_group_policy(ModelPackageGroupName=accounts.group)[
            "ResourcePolicy"
        ]
    )
    sids = {statement["Sid"]: statement for statement in policy["Statement"]}

    assert set(sids) == {"TargetAccountsSeeTheGroup", "TargetAccountsDeployItsPackages", "StagingRecordsItsSmokeTest"}
    assert sids["StagingRecordsItsSmokeTest"]["Principal"] == {"AWS": f"arn:aws:iam::{STAGING_ACCOUNT_ID}:root"}


def test_the_policy_apis_put_get_and_delete(accounts: Accounts) -> None:
    sagemaker = accounts.client(UNLISTED_ACCOUNT_ID, "sagemaker")
    name = f"accounts-own-{uuid.uuid4().hex[:6]}"
    sagemaker.create_model_package_group(ModelPackageGroupName=name)
    policy = {"Version": "2012-10-17", "Statement": []}

    arn = sagemaker.put_model_package_group_policy(ModelPackageGroupName=name, ResourcePolicy=json.dumps(policy))
    got = sagemaker.get_model_package_group_policy(ModelPackageGroupName=name)["ResourcePolicy"]
    sagemaker.delete_model_package_group_policy(ModelPackageGroupName=name)

    assert arn["ModelPackageGroupArn"] == f"arn:aws:sagemaker:{REGION}:{UNLISTED_ACCOUNT_ID}:model-package-group/{name}"
    assert json.loads(got) == policy
    with pytest.raises(ClientError):
        sagemaker.get_model_package_group_policy(ModelPackageGroupName=name)
    with pytest.raises(ClientError, match="does not exist"):
        sagemaker.put_model_package_group_policy(ModelPackageGroupName=f"{name}-x", ResourcePolicy="{}")


@pytest.mark.parametrize("role", [STAGING, PRODUCTION])
def test_the_target_accounts_see_the_group_and_its_packages(accounts: Accounts, role: str) -> None:
    package = accounts.register()
    sagemaker = accounts.client(role, "sagemaker")

    group = sagemaker.describe_model_package_group(ModelPackageGroupName=accounts.group_arn)
    described = sagemaker.describe_model_package(ModelPackageName=package)
    listed = sagemaker.list_model_packages(ModelPackageGroupName=accounts.group_arn)["ModelPackageSummaryList"]

    assert group["ModelPackageGroupArn"] == accounts.group_arn
    assert described["ModelPackageArn"] == package
    assert package in {summary["ModelPackageArn"] for summary in listed}


def test_an_unlisted_account_is_denied_every_registry_call(accounts: Accounts) -> None:
    package = accounts.register()
    sagemaker = accounts.client(UNLISTED_ACCOUNT_ID, "sagemaker")
    calls: dict[str, tuple[Callable[[], Any], str]] = {
        "DescribeModelPackageGroup": (
            lambda: sagemaker.describe_model_package_group(ModelPackageGroupName=accounts.group_arn),
            accounts.group_arn,
        ),
        "DescribeModelPackage": (lambda: sagemaker.describe_model_package(ModelPackageName=package), package),
        "ListModelPackages": (
            lambda: sagemaker.list_model_packages(ModelPackageGroupName=accounts.group_arn),
            f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:model-package/{accounts.group}/*",
        ),
        "UpdateModelPackage": (
            lambda: sagemaker.update_model_package(ModelPackageArn=package, CustomerMetadataProperties={"a": "b"}),
            package,
        ),
        "CreateModel": (
            lambda: sagemaker.create_model(
                ModelName=f"m-{uuid.uuid4().hex[:6]}",
                ExecutionRoleArn=f"arn:aws:iam::{UNLISTED_ACCOUNT_ID}:role/r",
                PrimaryContainer={"ModelPackageName": package},
            ),
            package,
        ),
    }
    for action, (call, resource) in calls.items():
        with pytest.raises(ClientError) as error:
            call()
        message = denied(error)
        assert message == (
            f"User: arn:aws:sts::{UNLISTED_ACCOUNT_ID}:assumed-role/OrganizationAccountAccessRole/local-twin is not "
            f"authorized to perform: sagemaker:{action} on resource: {resource} because no resource-based policy "
            f"allows the sagemaker:{action} action"
        ), action


def test_staging_may_record_metadata_but_never_approve_or_promote(accounts: Accounts) -> None:
    package = accounts.register()
    staging = accounts.client(STAGING, "sagemaker")

    staging.update_model_package(ModelPackageArn=package, CustomerMetadataProperties={"staging-note": "seen"})
    with pytest.raises(ClientError) as approving:
        staging.update_model_package(ModelPackageArn=package, ModelApprovalStatus="Approved")
    with pytest.raises(ClientError) as promoting:
        staging.update_model_package(
            ModelPackageArn=package, ModelLifeCycle={"Stage": "Production", "StageStatus": "Approved"}
        )

    described = accounts.client(REGISTRY, "sagemaker").describe_model_package(ModelPackageName=package)
    assert described["CustomerMetadataProperties"]["staging-note"] == "seen"
    assert described["ModelApprovalStatus"] == "PendingManualApproval" and "ModelLifeCycle" not in described
    assert "sagemaker:UpdateModelPackage" in denied(approving) and "sagemaker:UpdateModelPackage" in denied(promoting)
    accounts.settle()


def test_production_may_create_a_model_from_a_package_but_not_update_it(accounts: Accounts) -> None:
    package = accounts.register()
    production = accounts.client(PRODUCTION, "sagemaker")
    name = f"from-registry-{uuid.uuid4().hex[:6]}"

    production.create_model(
        ModelName=name,
        ExecutionRoleArn=accounts.stacks[PRODUCTION].attribute("SageMakerExecutionRole", "Arn"),
        PrimaryContainer={"ModelPackageName": package},
    )
    with pytest.raises(ClientError) as updating:
        production.update_model_package(ModelPackageArn=package, CustomerMetadataProperties={"a": "b"})

    assert production.describe_model(ModelName=name)["PrimaryContainer"]["ModelPackageName"] == package
    assert "sagemaker:UpdateModelPackage" in denied(updating)
    with pytest.raises(ClientError):
        accounts.client(REGISTRY, "sagemaker").describe_model(ModelName=name)  # the model is production's


# --- events across accounts ------------------------------------------------------------------------------------------
def test_the_registrys_events_reach_both_targets_keeping_their_account(accounts: Accounts) -> None:
    before = {role: len(accounts.invocations(role, "ReconcileDeploymentsFunction")) for role in (STAGING, PRODUCTION)}
    package = accounts.register()
    accounts.settle()

    for role in (STAGING, PRODUCTION):
        received = [
            r.event
            for r in accounts.invocations(role, "ReconcileDeploymentsFunction")[before[role] :]
            if r.event.get("detail", {}).get("ModelPackageArn") == package
        ]
        assert received, role
        assert received[0]["account"] == ACCOUNT_ID and received[0]["source"] == "aws.sagemaker"
        assert received[0]["resources"] == [package]
    delivered = [
        record for record in DELIVERIES.records if record["from"] == ACCOUNT_ID and record["to"] == STAGING_ACCOUNT_ID
    ]
    assert delivered and delivered[-1]["delivered"] is True


def test_a_target_bus_refuses_events_its_policy_does_not_allow(accounts: Accounts) -> None:
    events = accounts.client(REGISTRY, "events")
    name = f"accounts-custom-{uuid.uuid4().hex[:6]}"
    source = f"local.{name}"
    events.put_rule(Name=name, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(
        Rule=name,
        Targets=[
            {
                "Id": "staging",
                "Arn": f"arn:aws:events:{REGION}:{STAGING_ACCOUNT_ID}:event-bus/default",
                "RoleArn": accounts.stacks[REGISTRY].attribute("RegistryEventsForwardingRole", "Arn"),
            },
            {
                "Id": "unlisted",
                "Arn": f"arn:aws:events:{REGION}:{UNLISTED_ACCOUNT_ID}:event-bus/default",
                "RoleArn": accounts.stacks[REGISTRY].attribute("RegistryEventsForwardingRole", "Arn"),
            },
        ],
    )
    try:
        events.put_events(Entries=[{"Source": source, "DetailType": "custom", "Detail": "{}"}])
    finally:
        events.remove_targets(Rule=name, Ids=["staging", "unlisted"])
        events.delete_rule(Name=name)

    records = {r["to"]: r for r in DELIVERIES.records if r["source"] == source}
    assert records[STAGING_ACCOUNT_ID]["delivered"] is False  # the policy allows aws.sagemaker state changes only
    assert records[UNLISTED_ACCOUNT_ID]["delivered"] is False  # no policy at all
    assert "does not allow account" in records[STAGING_ACCOUNT_ID]["reason"]


def test_a_targets_rule_ignores_sagemaker_events_of_an_unlisted_account(accounts: Accounts) -> None:
    # GIVEN an unlisted account with a group of the same name, whose events the staging bus would accept
    unlisted = accounts.client(UNLISTED_ACCOUNT_ID, "sagemaker")
    unlisted.create_model_package_group(ModelPackageGroupName=accounts.group)
    accounts.client(STAGING, "events").put_permission(
        EventBusName="default", Action="events:PutEvents", Principal=UNLISTED_ACCOUNT_ID, StatementId="unlisted"
    )
    forward = accounts.client(UNLISTED_ACCOUNT_ID, "events")
    forward.put_rule(Name="forward", EventPattern=json.dumps({"source": ["aws.sagemaker"]}))
    forward.put_targets(
        Rule="forward",
        Targets=[{"Id": "staging", "Arn": f"arn:aws:events:{REGION}:{STAGING_ACCOUNT_ID}:event-bus/default"}],
    )
    before = len(accounts.invocations(STAGING, "ReconcileDeploymentsFunction"))
    try:
        # WHEN it registers a package there
        arn = unlisted.create_model_package(
            ModelPackageGroupName=accounts.group,
            ModelApprovalStatus="Approved",
            InferenceSpecification={
                "Containers": [{"Image": XGBOOST_IMAGE}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
        accounts.settle()
    finally:
        forward.remove_targets(Rule="forward", Ids=["staging"])
        forward.delete_rule(Name="forward")
        accounts.client(STAGING, "events").remove_permission(EventBusName="default", StatementId="unlisted")

    # THEN the event reached the staging bus, and the staging rule (account: the registry) did not match it
    record = next(r for r in reversed(DELIVERIES.records) if r["from"] == UNLISTED_ACCOUNT_ID)
    assert record["delivered"] is True
    assert not [
        r
        for r in accounts.invocations(STAGING, "ReconcileDeploymentsFunction")[before:]
        if r.event.get("detail", {}).get("ModelPackageArn") == arn
    ]


# --- S3 across accounts ----------------------------------------------------------------------------------------------
def test_the_bucket_policy_decides_what_the_targets_read(accounts: Accounts) -> None:
    registry_s3 = accounts.client(REGISTRY, "s3")
    artefact = "pipeline-runs/training/job-1/output/model.tar.gz"
    private = "data/abalone-private.csv"
    for key in (artefact, private):
        registry_s3.put_object(Bucket=accounts.bucket, Key=key, Body=b"x")

    assert accounts.client(PRODUCTION, "s3").get_object(Bucket=accounts.bucket, Key=artefact)["Body"].read() == b"x"
    for role, key in ((PRODUCTION, private), (UNLISTED_ACCOUNT_ID, artefact)):
        with pytest.raises(ClientError) as error:
            accounts.client(role, "s3").get_object(Bucket=accounts.bucket, Key=key)
        assert error.value.response["Error"]["Code"] == "AccessDenied"


# --- the production rule ---------------------------------------------------------------------------------------------
def test_promoting_a_version_staging_has_not_verified_is_refused(accounts: Accounts) -> None:
    package = accounts.register("Approved")
    accounts.settle()
    before = {e["executionArn"] for e in accounts.deploy_executions(PRODUCTION)}

    promote(accounts.client(REGISTRY, "sagemaker"), package, "promoted without a staging verification")
    accounts.settle()

    started = [e for e in accounts.deploy_executions(PRODUCTION) if e["executionArn"] not in before]
    assert started, "the promotion started no production execution"
    sfn = accounts.client(PRODUCTION, "stepfunctions")
    output = json.loads(sfn.describe_execution(executionArn=started[-1]["executionArn"])["output"])
    assert output["Finish"]["Outcome"] == "Refused", output
    version = package.rsplit("/", 1)[1]
    assert output["Finish"]["Subject"].startswith(f"Promotion of version {version} to production refused")
    assert f"Version {version} was promoted to production but staging" in output["Finish"]["Message"]
    assert accounts.aws.client("sagemaker", PRODUCTION_ACCOUNT_ID).list_endpoints()["Endpoints"] == [], "nothing served"
