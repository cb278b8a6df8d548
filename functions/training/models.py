"""Typed inputs of the train state machine and its steps."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlops_shared import arns
from mlops_shared.pipeline_names import PARAMETER_DEFAULTS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrainInput(_Strict):
    """A training run: upsert the pipeline, run it, tell the team what it registered."""

    PipelineParameters: dict[Annotated[str, Field(pattern=arns.PARAMETER_NAME)], str | int | float] = Field(
        default_factory=dict
    )
    PollSeconds: int | None = Field(None, ge=0, le=3600)
    MaxPolls: int | None = Field(None, ge=1, le=10_000)

    @field_validator("PipelineParameters")
    @classmethod
    def _known_parameters(cls, value: dict[str, str | int | float]) -> dict[str, str | int | float]:
        """StartPipelineExecution would refuse an unknown name only after the pipeline was upserted: refuse it first."""
        unknown = sorted(set(value) - set(PARAMETER_DEFAULTS))
        if unknown:
            raise ValueError(
                f"unknown pipeline parameter(s): {', '.join(unknown)}; "
                f"the pipeline's parameters are: {', '.join(PARAMETER_DEFAULTS)}"
            )
        return value


class StartRequest(_Strict):
    Operation: Literal["start"]
    Input: dict[str, Any]


class CheckRequest(_Strict):
    Operation: Literal["check"]
    Run: dict[str, Any]
    PipelineExecutionArn: str = Field(..., pattern=arns.PIPELINE_EXECUTION_ARN)
    Previous: dict[str, Any]


class FinishRequest(_Strict):
    Operation: Literal["finish"]
    ExecutionArn: str = Field(..., min_length=1)
    State: dict[str, Any]


class AlarmState(BaseModel):
    value: str
    reason: str = ""


class AlarmStateChangeDetail(BaseModel):
    """The detail of EventBridge's "CloudWatch Alarm State Change" event (the fields the loop back reads)."""

    alarmName: str = Field(..., min_length=1)
    state: AlarmState


class AlarmStateChange(EventBridgeModel):
    """EventBridge's "CloudWatch Alarm State Change" event."""

    detail: AlarmStateChangeDetail


StepRequest = Annotated[StartRequest | CheckRequest | FinishRequest, Field(discriminator="Operation")]
