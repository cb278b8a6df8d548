"""The train state machine's steps (one function, an ``Operation`` per request)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops_shared import settings
from mlops_shared.problems import describe
from training import retrain, steps
from training.models import AlarmStateChange, CheckRequest, FinishRequest, StartRequest, StepRequest

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
        if result.get("Mse") is not None:  # the dashboard's "training runs and their MSE"
            metrics.add_metric(name="TestMse", unit=MetricUnit.NoUnit, value=float(result["Mse"]))
        logger.info(result["Message"], extra={"outcome": result["Outcome"]})
        return result
    raise AssertionError(f"unhandled operation {request!r}")  # pragma: no cover - the union is exhaustive


@logger.inject_lambda_context(correlation_id_path="id")
@metrics.log_metrics
def retrain_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The drift alarm's state change (EventBridge): start today's training run, at most one."""
    try:
        change: AlarmStateChange = parse(event=event, model=AlarmStateChange)
    except ValidationError as error:
        raise retrain.InvalidEvent(
            f"not a CloudWatch Alarm State Change event: {describe(error.errors(), 'event')}"
        ) from None
    outcome = retrain.retrain(
        change.detail.alarmName,
        change.detail.state.value,
        datetime.now(UTC),
        settings.text("TRAIN_STATE_MACHINE_ARN"),
        boto3.client("stepfunctions"),
    )
    metrics.add_metric(name=f"Retrain-{outcome.status}", unit=MetricUnit.Count, value=1)
    logger.info(outcome.reason, extra=outcome.as_dict())
    return outcome.as_dict()
