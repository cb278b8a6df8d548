"""The train state machine's steps (one function, an ``Operation`` per request)."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops_shared import settings
from training import steps
from training.models import CheckRequest, FinishRequest, StartRequest, StepRequest

logger = Logger()
metrics = Metrics(namespace="AbaloneMLOps")  # fixed in code: Metrics reads its namespace at import


@logger.inject_lambda_context
@metrics.log_metrics
def step_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request: StepRequest = parse(event=event, model=StepRequest)  # type: ignore[call-overload]
    if isinstance(request, StartRequest):
        return steps.start(request.Input)
    sagemaker = boto3.client("sagemaker")
    if isinstance(request, CheckRequest):
        return steps.check(request.Run, request.PipelineExecutionArn, request.Previous, steps.Clients(sagemaker))
    if isinstance(request, FinishRequest):
        result = steps.finish(
            request.ExecutionArn,
            request.State,
            settings.text("NOTIFICATION_TOPIC_ARN"),
            os.environ["AWS_REGION"],
            steps.Clients(sagemaker, boto3.client("s3"), boto3.client("sns")),
        )
        metrics.add_metric(name=f"Training-{result['Outcome']}", unit=MetricUnit.Count, value=1)
        logger.info(result["Message"], extra={"outcome": result["Outcome"]})
        return result
    raise AssertionError(f"unhandled operation {request!r}")  # pragma: no cover - the union is exhaustive
