"""Helper operations for the train-and-deploy state machine (one function, an ``Operation`` per request)."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import TypeAdapter, ValidationError

from pipeline_helpers.helpers import pipeline_outcome, prepare_deployment, validate_input
from pipeline_helpers.models import (
    HelperRequest,
    PipelineOutcomeRequest,
    PrepareDeploymentRequest,
    ValidateInputRequest,
)

logger = Logger()
tracer = Tracer()
_REQUEST: TypeAdapter[HelperRequest] = TypeAdapter(HelperRequest)


class InvalidInput(ValueError):
    """The execution input is not what the state machine accepts; the message names each wrong field."""


def _describe(problem: Any) -> str:
    """One readable line per problem: the field path without pydantic's union tags, and what is wrong."""
    where = ".".join(str(p) for p in problem["loc"][1:] if p not in ("train", "deploy")) or "input"
    if problem["type"] == "string_pattern_mismatch":
        what = {"ModelPackageArn": "model package ARN", "PipelineExecutionArn": "pipeline execution ARN"}.get(
            str(problem["loc"][-1]), "value of this field"
        )
        return f"{where}: {problem['input']!r} is not a valid {what}"
    return f"{where}: {problem['msg']}"


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = _REQUEST.validate_python(event)
    except ValidationError as error:
        problems = "; ".join(_describe(problem) for problem in error.errors())
        raise InvalidInput(f"invalid request: {problems}") from None
    if isinstance(request, ValidateInputRequest):
        return validate_input(request.Input)
    if isinstance(request, PipelineOutcomeRequest):
        return pipeline_outcome(request.PipelineExecutionArn, boto3.client("sagemaker"))
    if isinstance(request, PrepareDeploymentRequest):
        return prepare_deployment(request.ModelPackageVersion, request.ExecutionId, boto3.client("sagemaker"))
    raise AssertionError(f"unhandled operation {request!r}")  # pragma: no cover - the union is exhaustive
