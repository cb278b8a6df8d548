"""Typed requests of the state machine's helper function, one model per operation."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlops_shared.pipeline_names import PARAMETER_DEFAULTS

MODEL_PACKAGE_ARN_PATTERN = r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[A-Za-z0-9-]{1,63}/\d+$"
PIPELINE_EXECUTION_ARN_PATTERN = (
    r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:pipeline/[A-Za-z0-9-]{1,256}/execution/\S+$"
)
S3_URI_PATTERN = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$"
PARAMETER_NAME_PATTERN = r"^[A-Za-z0-9\-_]{1,256}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrainInput(_Strict):
    """Start a training run: upsert the pipeline, run it, deploy what it registers if it is Approved."""

    Mode: Literal["train"]
    PipelineParameters: dict[Annotated[str, Field(pattern=PARAMETER_NAME_PATTERN)], str | int | float] = Field(
        default_factory=dict
    )
    Target: Literal["endpoint", "batch"] | None = None
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


class DeployInput(_Strict):
    """Deploy one registered model package to the endpoint or as a batch transform."""

    Mode: Literal["deploy"]
    ModelPackageArn: str = Field(..., pattern=MODEL_PACKAGE_ARN_PATTERN)
    Target: Literal["endpoint", "batch"] | None = None
    BatchInputS3Uri: str | None = Field(None, pattern=S3_URI_PATTERN)
    Trigger: str | None = Field(None, max_length=256, description="who asked: event:<id> or train:<execution>")
    PollSeconds: int | None = Field(None, ge=0, le=3600)
    MaxPolls: int | None = Field(None, ge=1, le=10_000)


class ValidateInputRequest(_Strict):
    Operation: Literal["validate_input"]
    Input: TrainInput | DeployInput = Field(..., discriminator="Mode")

    @field_validator("Input", mode="before")
    @classmethod
    def _mode_named(cls, value: object) -> object:
        if isinstance(value, dict) and value.get("Mode") not in ("train", "deploy"):
            raise ValueError(f"Mode must be 'train' or 'deploy', got {value.get('Mode')!r}")
        return value


class PipelineOutcomeRequest(_Strict):
    Operation: Literal["pipeline_outcome"]
    PipelineExecutionArn: str = Field(..., pattern=PIPELINE_EXECUTION_ARN_PATTERN)


class PrepareDeploymentRequest(_Strict):
    Operation: Literal["prepare_deployment"]
    ModelPackageArn: str = Field(..., pattern=MODEL_PACKAGE_ARN_PATTERN)
    ModelPackageVersion: int = Field(..., ge=1)
    ExecutionId: str = Field(..., min_length=1)


class EndpointStateRequest(_Strict):
    """May this execution create or update the endpoint now (see pipeline_helpers.rollout)?"""

    Operation: Literal["endpoint_state"]
    DeploymentName: str = Field(..., pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    StartedAt: str = Field(..., min_length=10, max_length=40, description="$$.Execution.StartTime")


HelperRequest = Annotated[
    ValidateInputRequest | PipelineOutcomeRequest | PrepareDeploymentRequest | EndpointStateRequest,
    Field(discriminator="Operation"),
]
