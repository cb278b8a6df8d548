"""A rejected package that the endpoint serves is replaced by the newest remaining Approved package of the group.

Rejecting the live model is how a team says "take this off the endpoint". The handler finds which package the
endpoint serves (endpoint → live config → model → ModelPackageName). If the rejected package is live, the newest
Approved package of the group (ListModelPackages sorted by CreationTime, *descending*: the default order is
ascending) is deployed by a normal deploy execution; if none is left, the team is notified and the endpoint is left
as it is (taking it down would be an outage nobody asked for). Exactly once per rejection: the execution name is
derived from the rejected package and the time it was rejected, so a duplicate event starts nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from on_model_approved.deployment import EXECUTION_NAME_LIMIT, WrongModelPackageGroup, describe_package

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_stepfunctions import SFNClient

RejectionStatus = Literal["redeploying", "duplicate", "none-left", "not-live", "no-endpoint", "not-rejected"]


@dataclass(frozen=True)
class RejectionOutcome:
    status: RejectionStatus
    detail: str
    replacement_arn: str | None = None
    execution_arn: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "Status": self.status,
            "Detail": self.detail,
            "ReplacementArn": self.replacement_arn,
            "ExecutionArn": self.execution_arn,
        }


def live_package(endpoint_name: str, sagemaker: SageMakerClient) -> str | None:
    """The model package the endpoint serves now, or None without an endpoint."""
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    except sagemaker.exceptions.ClientError as error:
        if "Could not find endpoint" in str(error.response.get("Error", {}).get("Message", "")):
            return None
        raise
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    return container.get("ModelPackageName")


def newest_approved(group: str, excluding: str, sagemaker: SageMakerClient) -> str | None:
    """The most recently created Approved package of the group other than ``excluding``."""
    paginator = sagemaker.get_paginator("list_model_packages")
    pages = paginator.paginate(
        ModelPackageGroupName=group, ModelApprovalStatus="Approved", SortBy="CreationTime", SortOrder="Descending"
    )
    for page in pages:
        for summary in page.get("ModelPackageSummaryList", []):
            if summary["ModelPackageArn"] != excluding:
                return summary["ModelPackageArn"]
    return None


def redeploy_execution_name(rejected_arn: str, version: int, rejected_at: str) -> str:
    digest = hashlib.sha256(f"{rejected_arn}|{rejected_at}|rejected".encode()).hexdigest()[:20]
    name = f"redeploy-after-v{version}-{digest}"
    if len(name) > EXECUTION_NAME_LIMIT:  # pragma: no cover - version would need 40 digits
        raise ValueError(f"execution name {name!r} exceeds {EXECUTION_NAME_LIMIT} characters")
    return name


def handle_rejection(
    package_arn: str,
    *,
    trigger: str,
    expected_group: str,
    endpoint_name: str,
    state_machine_arn: str,
    topic_arn: str,
    sagemaker: SageMakerClient,
    sfn: SFNClient,
    sns: SNSClient,
) -> RejectionOutcome:
    package = describe_package(package_arn, sagemaker)
    group = package.get("ModelPackageGroupName", "")
    if group != expected_group:
        raise WrongModelPackageGroup(
            f"model package {package_arn} belongs to group {group!r}, not this stack's group {expected_group!r}"
        )
    if package.get("ModelApprovalStatus") != "Rejected":
        return RejectionOutcome("not-rejected", f"model package is {package.get('ModelApprovalStatus')} now")
    live = live_package(endpoint_name, sagemaker)
    if live is None:
        return RejectionOutcome("no-endpoint", f"endpoint {endpoint_name} does not exist; nothing to replace")
    if live != package_arn:
        return RejectionOutcome("not-live", f"endpoint {endpoint_name} serves {live}, not the rejected package")
    replacement = newest_approved(group, package_arn, sagemaker)
    version = package["ModelPackageVersion"]
    if replacement is None:
        sns.publish(
            TopicArn=topic_arn,
            Subject="Live model rejected: no approved model left",
            Message=(
                f"Outcome: nothing deployed. Model package {package_arn} (version {version}) was rejected while "
                f"endpoint {endpoint_name} serves it, and group {group} has no other Approved package. The endpoint "
                "is left as it is: approve a package to replace the model, or delete the endpoint to take it down."
            ),
        )
        return RejectionOutcome("none-left", "no other Approved package; the team was notified")
    rejected_at = (package.get("LastModifiedTime") or package["CreationTime"]).isoformat()
    name = redeploy_execution_name(package_arn, version, rejected_at)
    payload = json.dumps(
        {"Mode": "deploy", "ModelPackageArn": replacement, "Target": "endpoint", "Trigger": trigger[:256]}
    )
    try:
        started = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=payload)
    except sfn.exceptions.ExecutionAlreadyExists:
        return RejectionOutcome("duplicate", "this rejection already has a redeploy execution", replacement)
    return RejectionOutcome("redeploying", "newest remaining Approved package", replacement, started["executionArn"])
