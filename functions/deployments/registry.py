"""The desired state, read from the Model Registry alone.

- **single account, staging**: the highest-numbered package of the group that is Approved;
- **production**: the highest-numbered Approved package *promoted to production* -- its ModelLifeCycle is Stage
  ``Production`` and StageStatus ``Approved`` (set by the production approver) -- *and verified in staging* (the
  staging stack's smoke test recorded ``staging-verification: verified`` on it). A promoted version that staging has
  not verified is refused, and the team is told why (:class:`Desired.refused`).

Every registry event (approval, rejection, a metadata edit, a promotion, a package registered already Approved) is
only a reason to read this again; what the event says is never trusted over what the registry says now. A target
account reads the registry account's group by its ARN (the group's resource policy lets it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deployments.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

PRODUCTION_STAGE = "Production"
PROMOTED_STATUS = "Approved"
# What the staging stack's smoke test records on the package (CustomerMetadataProperties; deployments/verification.py).
VERIFICATION_KEY = "staging-verification"
VERIFIED = "verified"


@dataclass(frozen=True)
class Package:
    """A model package version as the deployment decision needs it."""

    arn: str
    version: int
    status: str


@dataclass(frozen=True)
class Desired:
    """What should serve (``package``; None: nothing), and a promoted version refused for production with why."""

    package: Package | None
    refused: Package | None = None
    refusal: str = ""


def approved(group_ref: str, sagemaker: SageMakerClient) -> list[Package]:
    """The group's Approved packages, highest version first."""
    found: list[Package] = []
    paginator = sagemaker.get_paginator("list_model_packages")
    for page in paginator.paginate(ModelPackageGroupName=group_ref, ModelApprovalStatus="Approved"):
        for summary in page.get("ModelPackageSummaryList", []):
            if summary.get("ModelApprovalStatus") != "Approved":
                continue
            version = int(summary.get("ModelPackageVersion") or version_of(summary["ModelPackageArn"]))
            found.append(Package(summary["ModelPackageArn"], version, "Approved"))
    return sorted(found, key=lambda package: package.version, reverse=True)


def highest_approved(group_ref: str, sagemaker: SageMakerClient) -> Package | None:
    """The Approved package of the group with the highest version number, or None if none is Approved."""
    packages = approved(group_ref, sagemaker)
    return packages[0] if packages else None


def desired(settings: Settings, sagemaker: SageMakerClient) -> Desired:
    """What should serve under this stack's rule (see the module docstring)."""
    if settings.stage != "production":
        return Desired(highest_approved(settings.group_ref, sagemaker))
    refused: tuple[Package, str] | None = None
    for package in approved(settings.group_ref, sagemaker):
        described: dict[str, Any] = dict(sagemaker.describe_model_package(ModelPackageName=package.arn))
        life_cycle = described.get("ModelLifeCycle") or {}
        if (life_cycle.get("Stage"), life_cycle.get("StageStatus")) != (PRODUCTION_STAGE, PROMOTED_STATUS):
            continue
        metadata = described.get("CustomerMetadataProperties") or {}
        if metadata.get(VERIFICATION_KEY) == VERIFIED:
            return Desired(package, *(refused or (None, "")))
        if refused is None:  # the highest promoted version; lower unverified ones are not news
            refused = (package, _refusal(package.version, metadata))
    return Desired(None, *(refused or (None, "")))


def _refusal(version: int, metadata: dict[str, str]) -> str:
    status = metadata.get(VERIFICATION_KEY)
    if status is None:
        return f"version {version} was promoted to production but staging has not verified it"
    details = ", ".join(f"{key} {value}" for key, value in sorted(metadata.items()) if key.startswith("staging-"))
    return f"version {version} was promoted to production but staging's smoke test did not verify it ({details})"


def version_of(package_arn: str) -> int:
    """The version in a model-package version ARN (``.../model-package/<group>/<version>``)."""
    return int(package_arn.rsplit("/", 1)[1])
