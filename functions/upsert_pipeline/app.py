"""Upsert the SageMaker pipeline: as a CloudFormation custom resource, and as the first state of a training run."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops_shared.problems import describe
from upsert_pipeline import custom_resource
from upsert_pipeline.models import UpsertRequest
from upsert_pipeline.pipeline import PipelineSettings, upsert_pipeline


class InvalidInput(ValueError):
    """Neither a CloudFormation custom-resource request nor an upsert request; the message names each wrong field."""


logger = Logger()
# Namespace fixed in code, not from POWERTOOLS_METRICS_NAMESPACE: Metrics reads it when the module is imported,
# and a warm sandbox imports the handler once for many invocations.
metrics = Metrics(namespace="AbaloneMLOps")


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    sagemaker, s3 = boto3.client("sagemaker"), boto3.client("s3")
    if custom_resource.is_custom_resource_request(event):
        request = custom_resource.parse_request(event)
        metrics.add_metric(name=f"PipelineCustomResource-{request.request_type}", unit=MetricUnit.Count, value=1)
        return custom_resource.handle(request, sagemaker, s3)
    try:
        direct = parse(event=event, model=UpsertRequest)
    except ValidationError as error:
        raise InvalidInput(f"not an upsert request: {describe(error.errors())}") from None
    settings = PipelineSettings.from_env()
    arn = upsert_pipeline(settings, sagemaker, s3)
    metrics.add_metric(name="PipelineUpserts", unit=MetricUnit.Count, value=1)
    logger.info("pipeline upserted", extra={"pipeline_arn": arn, "reason": direct.reason})
    return {"PipelineName": settings.pipeline_name, "PipelineArn": arn}
