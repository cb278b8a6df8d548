"""Start exactly one deploy execution per approval.

EventBridge delivers at least once and SageMaker may emit several events (with different ids) for one state change,
and the train path may also see the same Approved package. So the key of a deployment is not the event but the
approval itself: the package ARN plus the package's LastModifiedTime as DescribeModelPackage reports it *now*
(CreationTime for a package registered already Approved and never modified). Every caller derives the same
execution name from it, and Step Functions refuses a second execution with that name (ExecutionAlreadyExists), so a
duplicate starts nothing. A later re-approval changes LastModifiedTime, hence a new name and a new deployment.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_stepfunctions import SFNClient

EXECUTION_NAME_LIMIT = 80


class WrongModelPackageGroup(ValueError):
    """The package belongs to another group than this stack's."""


class UnknownModelPackage(ValueError):
    """The event names a package SageMaker does not know (a forged or mistyped event): nothing to deploy."""


def check_state_change(group: str, status: str, expected_group: str, expected_status: str) -> None:
    """Refuse an event for another group or status: the rules filter on both, this check stops a mis-wired rule."""
    if group != expected_group:
        raise WrongModelPackageGroup(f"event for group {group!r}, this stack deploys group {expected_group!r}")
    if status != expected_status:
        action = (
            "only Approved packages are deployed"
            if expected_status == "Approved"
            else (f"this handler acts on {expected_status} packages")
        )
        raise ValueError(f"event status is {status}, {action}")


def describe_package(package_arn: str, sagemaker: SageMakerClient) -> dict[str, Any]:
    """DescribeModelPackage; a package that does not exist is a validation error naming it, not a service error."""
    try:
        return dict(sagemaker.describe_model_package(ModelPackageName=package_arn))
    except sagemaker.exceptions.ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        message = str(error.response.get("Error", {}).get("Message", ""))
        if code in ("ValidationException", "ResourceNotFound") and (
            "does not exist" in message or "not found" in message
        ):
            raise UnknownModelPackage(f"model package {package_arn} does not exist") from None
        raise


@dataclass(frozen=True)
class DeploymentOutcome:
    status: Literal["started", "duplicate", "not-approved"]
    execution_arn: str | None
    execution_name: str | None
    detail: str

    def as_dict(self) -> dict[str, str | None]:
        return {
            "Status": self.status,
            "ExecutionArn": self.execution_arn,
            "ExecutionName": self.execution_name,
            "Detail": self.detail,
        }


def execution_name(package_arn: str, version: int, approval_time: datetime) -> str:
    """Deterministic, ≤ 80 characters, only [A-Za-z0-9-_]: the same approval always gives the same name."""
    digest = hashlib.sha256(f"{package_arn}|{approval_time.isoformat()}".encode()).hexdigest()[:20]
    name = f"deploy-v{version}-{digest}"
    if len(name) > EXECUTION_NAME_LIMIT:  # pragma: no cover - version would need 50 digits
        raise ValueError(f"execution name {name!r} exceeds {EXECUTION_NAME_LIMIT} characters")
    return name


def start_deployment(
    package_arn: str,
    target: str,
    *,
    trigger: str,
    expected_group: str,
    state_machine_arn: str,
    sagemaker: SageMakerClient,
    sfn: SFNClient,
) -> DeploymentOutcome:
    package = describe_package(package_arn, sagemaker)
    group = package.get("ModelPackageGroupName", "")
    if group != expected_group:
        raise WrongModelPackageGroup(
            f"model package {package_arn} belongs to group {group!r}, not this stack's group {expected_group!r}"
        )
    status = package.get("ModelApprovalStatus", "")
    if status != "Approved":
        # The event is stale (the package was rejected again since) or the caller was wrong: deploy nothing.
        return DeploymentOutcome("not-approved", None, None, f"model package is {status or 'without status'} now")
    approval_time = package.get("LastModifiedTime") or package["CreationTime"]
    name = execution_name(package_arn, package["ModelPackageVersion"], approval_time)
    arn = f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"
    # The trigger (event id, or the training execution) is part of the input, for the audit trail. Step Functions
    # treats a repeated StartExecution with the same name and input as the same call (the same event delivered
    # twice), and refuses the same name with another input (another event, or the train path) as a duplicate.
    payload = json.dumps({"Mode": "deploy", "ModelPackageArn": package_arn, "Target": target, "Trigger": trigger})
    try:
        started = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=payload)
    except sfn.exceptions.ExecutionAlreadyExists:
        return DeploymentOutcome("duplicate", arn, name, "this approval already has a deploy execution")
    return DeploymentOutcome("started", started["executionArn"], name, "deploy execution started")


def settings_from_env() -> dict[str, str]:
    names = ("MODEL_PACKAGE_GROUP_NAME", "STATE_MACHINE_ARN", "DEFAULT_DEPLOYMENT_TARGET")
    missing = [name for name in names if not os.environ.get(name, "").strip()]
    if missing:
        raise ValueError(f"environment variables not set: {', '.join(missing)}")
    return {name: os.environ[name].strip() for name in names}
