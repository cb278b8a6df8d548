"""Upsert the SageMaker pipeline: as a CloudFormation custom resource, and as the first state of a training run."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from upsert_pipeline import custom_resource
from upsert_pipeline.models import CustomResourceRequest, UpsertRequest
from upsert_pipeline.pipeline import PipelineSettings, delete_pipeline, upsert_pipeline

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    if "RequestType" in event and "ResponseURL" in event:
        return handle_custom_resource(event)
    request = parse(event=event, model=UpsertRequest)
    arn = upsert_pipeline(PipelineSettings.from_env(), boto3.client("sagemaker"), boto3.client("s3"))
    logger.info("pipeline upserted", extra={"pipeline_arn": arn, "reason": request.reason})
    return {"PipelineName": os.environ["PIPELINE_NAME"], "PipelineArn": arn}


def handle_custom_resource(event: dict[str, Any]) -> dict[str, str]:
    """Always answer CloudFormation, also on failure: an unanswered request hangs the stack for an hour."""
    try:
        request = parse(event=event, model=CustomResourceRequest)
    except ValidationError as error:
        logger.exception("malformed custom resource request")
        raise ValueError(f"not a CloudFormation custom resource request: {error}") from error
    name = os.environ.get("PIPELINE_NAME", "")
    physical_id = custom_resource.PHYSICAL_ID_PREFIX + name
    try:
        if request.request_type == "Delete":
            # Delete the pipeline this resource created (its physical id), not the one the environment names now:
            # after a rename CloudFormation deletes the old resource once the new one exists.
            old_id = request.physical_resource_id or ""
            old_name = (
                old_id.removeprefix(custom_resource.PHYSICAL_ID_PREFIX)
                if old_id.startswith(custom_resource.PHYSICAL_ID_PREFIX)
                else ""
            )
            deleted = delete_pipeline(old_name, boto3.client("sagemaker")) if old_name else False
            body = custom_resource.response_body(request, "SUCCESS", old_id or physical_id)
            logger.info("pipeline delete", extra={"pipeline": old_name, "deleted": deleted})
        else:
            arn = upsert_pipeline(PipelineSettings.from_env(), boto3.client("sagemaker"), boto3.client("s3"))
            body = custom_resource.response_body(
                request, "SUCCESS", physical_id, data={"PipelineName": name, "PipelineArn": arn}
            )
    except Exception as error:  # noqa: BLE001 - any failure must be reported to CloudFormation, then re-raised
        logger.exception("custom resource request failed")
        body = custom_resource.response_body(
            request, "FAILED", request.physical_resource_id or physical_id, reason=f"{type(error).__name__}: {error}"
        )
        custom_resource.send(str(request.response_url), body)
        raise
    custom_resource.send(str(request.response_url), body)
    return {"Status": body["Status"], "PhysicalResourceId": body["PhysicalResourceId"]}
