"""Typed inputs: the EventBridge model-package state change, and the state machine's direct request."""

from __future__ import annotations

from typing import Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field

MODEL_PACKAGE_ARN_PATTERN = r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[A-Za-z0-9-]{1,63}/\d+$"
DeploymentTarget = Literal["endpoint", "batch"]


class ModelPackageDetail(BaseModel):
    """The fields of a "SageMaker Model Package State Change" detail the deployment decision reads."""

    model_config = ConfigDict(extra="ignore")

    model_package_group_name: str = Field(..., alias="ModelPackageGroupName", min_length=1, max_length=63)
    model_package_arn: str = Field(..., alias="ModelPackageArn", pattern=MODEL_PACKAGE_ARN_PATTERN)
    model_package_version: int = Field(..., alias="ModelPackageVersion", ge=1)
    model_approval_status: Literal["Approved", "Rejected", "PendingManualApproval"] = Field(
        ..., alias="ModelApprovalStatus"
    )


class ModelPackageStateChange(EventBridgeModel):
    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker Model Package State Change"] = Field(..., alias="detail-type")
    detail: ModelPackageDetail


class StartDeploymentRequest(BaseModel):
    """Sent by the state machine's train path when the pipeline registered an already-Approved package."""

    model_config = ConfigDict(extra="forbid")

    ModelPackageArn: str = Field(..., pattern=MODEL_PACKAGE_ARN_PATTERN)
    Target: DeploymentTarget
    TrainingExecution: str = Field(..., min_length=1, max_length=80)
