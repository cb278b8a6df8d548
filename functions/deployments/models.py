"""Typed inputs: SageMaker's registry event, the deploy state machine's input and its steps' requests."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlops_shared import arns


class ModelPackageDetail(BaseModel):
    """The fields of a "SageMaker Model Package State Change" detail that name the package; the rest is not read
    (the registry is, instead: see deployments.registry)."""

    model_config = ConfigDict(extra="ignore")

    model_package_group_name: str = Field(..., alias="ModelPackageGroupName", min_length=1, max_length=63)
    model_package_arn: str = Field(..., alias="ModelPackageArn", pattern=arns.MODEL_PACKAGE_ARN)
    model_package_version: int = Field(..., alias="ModelPackageVersion", ge=1)
    model_approval_status: Literal["Approved", "Rejected", "PendingManualApproval"] = Field(
        ..., alias="ModelApprovalStatus"
    )

    @model_validator(mode="after")
    def _version_and_group_match_the_arn(self) -> ModelPackageDetail:
        parts = arns.model_package_parts(self.model_package_arn)
        if int(parts["version"]) != self.model_package_version:
            raise ValueError(
                f"ModelPackageVersion {self.model_package_version} does not match the ARN "
                f"{self.model_package_arn} (version {parts['version']})"
            )
        if parts["group"] != self.model_package_group_name:
            raise ValueError(
                f"ModelPackageGroupName {self.model_package_group_name!r} does not match the ARN "
                f"{self.model_package_arn} (group {parts['group']!r})"
            )
        return self


class ModelPackageStateChange(EventBridgeModel):
    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker Model Package State Change"] = Field(..., alias="detail-type")
    detail: ModelPackageDetail


class ExecutionStatusDetail(BaseModel):
    """The fields of a "Step Functions Execution Status Change" detail that say which execution ended, and how."""

    model_config = ConfigDict(extra="ignore")

    execution_arn: str = Field(
        ..., alias="executionArn", pattern=r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:"
    )
    state_machine_arn: str = Field(
        ..., alias="stateMachineArn", pattern=r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:"
    )
    name: str = Field(..., min_length=1, max_length=80)
    status: Literal["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]


class ExecutionStatusChange(EventBridgeModel):
    source: Literal["aws.states"]
    detail_type: Literal["Step Functions Execution Status Change"] = Field(..., alias="detail-type")
    detail: ExecutionStatusDetail


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeployInput(_Strict):
    """The deploy state machine's input: started by the reconciler, or by hand ("deploy what the registry says")."""

    Target: Literal["endpoint", "batch"] | None = None
    ModelPackageArn: str = Field(
        "", pattern=rf"^$|{arns.MODEL_PACKAGE_ARN}", description="what the starter expected to deploy ('' = none)"
    )
    BatchInputS3Uri: str | None = Field(None, pattern=arns.S3_URI)
    Trigger: str | None = Field(None, max_length=256, description="who asked: event:<id>, or a person")
    PollSeconds: int | None = Field(None, ge=0, le=3600)
    MaxPolls: int | None = Field(None, ge=1, le=10_000)
    Refuse: bool = Field(False, description="production: only tell the team why ModelPackageArn is refused")


class PlanRequest(_Strict):
    Operation: Literal["plan"]
    Input: dict[str, Any]
    ExecutionName: str = Field(..., min_length=1, max_length=80)


class GateRequest(_Strict):
    """Before CreateEndpoint / UpdateEndpoint, and after a refusal: may this execution change the endpoint now?"""

    Operation: Literal["gate"]
    Plan: dict[str, Any]
    Previous: dict[str, Any]  # the last gate answer (its counters), with the Catch of a refused change as Refusal


class CheckRequest(_Strict):
    """One poll of the endpoint or transform job this execution is waiting for."""

    Operation: Literal["check"]
    Plan: dict[str, Any]
    Previous: dict[str, Any]


class MonitorRequest(_Strict):
    """After a version went live on the endpoint: point the data-quality schedule at its baseline."""

    Operation: Literal["monitor"]
    Plan: dict[str, Any]


class VerifyRequest(_Strict):
    """After a version went live (staging): the smoke test, recorded on the package."""

    Operation: Literal["verify"]
    Plan: dict[str, Any]


class UnmonitorRequest(_Strict):
    """Before the endpoint is deleted: its schedule goes first."""

    Operation: Literal["unmonitor"]


class FinishRequest(_Strict):
    """The end of every deploy execution: its whole state (Plan, Gate, Check, Failure as far as it got)."""

    Operation: Literal["finish"]
    ExecutionArn: str = Field(..., min_length=1)
    State: dict[str, Any]


StepRequest = Annotated[
    PlanRequest | GateRequest | CheckRequest | MonitorRequest | VerifyRequest | UnmonitorRequest | FinishRequest,
    Field(discriminator="Operation"),
]
