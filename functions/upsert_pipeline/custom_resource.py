"""The pipeline as a CloudFormation custom resource: Create/Update upsert it, Delete deletes it; always answer.

Answering CloudFormation is the shared ``mlops_shared.cloudformation`` package (why it is hand-written: see there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import ValidationError, parse

from mlops_shared.cloudformation import response_body, send
from mlops_shared.problems import describe
from upsert_pipeline.models import CustomResourceRequest
from upsert_pipeline.pipeline import PipelineSettings, delete_pipeline, upsert_pipeline

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient

logger = Logger(child=True)

PHYSICAL_ID_PREFIX = "sagemaker-pipeline/"
# The physical id of a Create that failed: it names no pipeline, so the rollback's Delete deletes nothing (a failed
# Create may have found someone else's pipeline of the same name).
FAILED_CREATE_PREFIX = "sagemaker-pipeline-not-created/"


def is_custom_resource_request(event: dict[str, Any]) -> bool:
    return "RequestType" in event and "ResponseURL" in event


def parse_request(event: dict[str, Any]) -> CustomResourceRequest:
    try:
        return parse(event=event, model=CustomResourceRequest)
    except ValidationError as error:
        raise ValueError(f"not a CloudFormation custom resource request: {describe(error.errors())}") from None


def physical_id(pipeline_name: str) -> str:
    return PHYSICAL_ID_PREFIX + pipeline_name


def pipeline_name_of(physical_resource_id: str | None) -> str:
    """The pipeline a physical id names; "" for one that names none (a failed Create, or not ours)."""
    resource_id = physical_resource_id or ""
    return resource_id.removeprefix(PHYSICAL_ID_PREFIX) if resource_id.startswith(PHYSICAL_ID_PREFIX) else ""


def handle(request: CustomResourceRequest, sagemaker: SageMakerClient, s3: S3Client) -> dict[str, str]:
    """Do what CloudFormation asks and answer it, also on failure: an unanswered request hangs the stack for an hour."""
    try:
        body = _apply(request, sagemaker, s3)
    except Exception as error:  # noqa: BLE001 - any failure must be reported to CloudFormation, then re-raised
        logger.exception("custom resource request failed")
        failed_id = request.physical_resource_id or FAILED_CREATE_PREFIX + request.request_id
        body = response_body(request, "FAILED", failed_id, reason=f"{type(error).__name__}: {error}")
        send(str(request.response_url), body)
        raise
    send(str(request.response_url), body)
    return {"Status": body["Status"], "PhysicalResourceId": body["PhysicalResourceId"]}


def _apply(request: CustomResourceRequest, sagemaker: SageMakerClient, s3: S3Client) -> dict[str, Any]:
    if request.request_type == "Delete":
        # Delete the pipeline this resource created (its physical id), not the one the environment names now:
        # after a rename CloudFormation deletes the old resource once the new one exists.
        old_name = pipeline_name_of(request.physical_resource_id)
        deleted = delete_pipeline(old_name, sagemaker, stack_id=request.stack_id) if old_name else False
        logger.info("pipeline delete", extra={"pipeline": old_name, "deleted": deleted})
        return response_body(request, "SUCCESS", request.physical_resource_id or FAILED_CREATE_PREFIX)
    settings = PipelineSettings.from_env()
    arn = upsert_pipeline(
        settings, sagemaker, s3, stack_id=request.stack_id, adopt_existing=request.request_type != "Create"
    )
    logger.info("pipeline upserted", extra={"pipeline_arn": arn, "request_type": request.request_type})
    return response_body(
        request,
        "SUCCESS",
        physical_id(settings.pipeline_name),
        data={"PipelineName": settings.pipeline_name, "PipelineArn": arn},
    )
