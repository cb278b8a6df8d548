"""Helper operations for the train-and-deploy state machine (one function, an ``Operation`` per request)."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline_helpers.helpers import pipeline_outcome, prepare_deployment, validate_input
from pipeline_helpers.models import (
    EndpointStateRequest,
    HelperRequest,
    PipelineOutcomeRequest,
    PrepareDeploymentRequest,
    ValidateInputRequest,
)
from pipeline_helpers.rollout import endpoint_state

logger = Logger()
# Namespace fixed in code, not from POWERTOOLS_METRICS_NAMESPACE: Metrics reads it when the module is imported,
# and the local twin imports handlers once for many invocations (same as on_model_approved).
metrics = Metrics(namespace="AbaloneMLOps")


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
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # parse(), not @event_parser: a bad input must become one InvalidInput naming every wrong field (_describe).
    try:
        # HelperRequest is an Annotated union: parse() adapts any type, its stubs only say type[T].
        request: HelperRequest = parse(event=event, model=HelperRequest)  # type: ignore[call-overload]
    except ValidationError as error:
        problems = "; ".join(_describe(problem) for problem in error.errors())
        raise InvalidInput(f"invalid request: {problems}") from None
    metrics.add_metric(name=f"Helper-{request.Operation}", unit=MetricUnit.Count, value=1)
    if isinstance(request, ValidateInputRequest):
        return validate_input(request.Input)
    if isinstance(request, PipelineOutcomeRequest):
        return pipeline_outcome(request.PipelineExecutionArn, boto3.client("sagemaker"))
    if isinstance(request, PrepareDeploymentRequest):
        return prepare_deployment(request.ModelPackageVersion, request.ExecutionId, boto3.client("sagemaker"))
    if isinstance(request, EndpointStateRequest):
        return endpoint_state(request.DeploymentName, request.StartedAt, boto3.client("sagemaker"))
    raise AssertionError(f"unhandled operation {request!r}")  # pragma: no cover - the union is exhaustive
