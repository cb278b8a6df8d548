"""The desired state, read from the Model Registry alone: the highest-numbered package of the group that is Approved.

Every registry event (approval, rejection, a metadata edit, a package registered already Approved) is only a reason
to read this again; what the event says is never trusted over what the registry says now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient


@dataclass(frozen=True)
class Package:
    """A model package version as the deployment decision needs it."""

    arn: str
    version: int
    status: str


def highest_approved(group: str, sagemaker: SageMakerClient) -> Package | None:
    """The Approved package of ``group`` with the highest version number, or None if none is Approved."""
    best: Package | None = None
    paginator = sagemaker.get_paginator("list_model_packages")
    for page in paginator.paginate(ModelPackageGroupName=group, ModelApprovalStatus="Approved"):
        for summary in page.get("ModelPackageSummaryList", []):
            if summary.get("ModelApprovalStatus") != "Approved":
                continue
            version = int(summary.get("ModelPackageVersion") or summary["ModelPackageArn"].rsplit("/", 1)[1])
            if best is None or version > best.version:
                best = Package(summary["ModelPackageArn"], version, "Approved")
    return best


def version_of(package_arn: str) -> int:
    """The version in a model-package version ARN (``.../model-package/<group>/<version>``)."""
    return int(package_arn.rsplit("/", 1)[1])
