"""Prune old deployments (state machine) and clean up on stack deletion (CloudFormation custom resource)."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import ValidationError, event_parser, parse
from aws_lambda_powertools.utilities.typing import LambdaContext

import mlops_shared.cloudformation as custom_resource
from deployment_janitor.janitor import clean_up, prune
from deployment_janitor.models import CleanupRequest, PruneRequest
from mlops_shared import settings
from mlops_shared.problems import describe

logger = Logger()
PHYSICAL_ID_PREFIX = "deployment-cleanup/"


@logger.inject_lambda_context
@event_parser(model=PruneRequest)
def prune_handler(event: PruneRequest, context: LambdaContext) -> dict[str, Any]:
    env = settings.required("STACK_NAME", "ENDPOINT_NAME", "RESOURCE_PREFIX")
    keep_last = settings.integer("KEEP_LAST_DEPLOYMENTS", 1, 50)
    deleted = prune(
        env["STACK_NAME"],
        env["ENDPOINT_NAME"],
        keep_last,
        event.Protect,
        boto3.client("sagemaker"),
        resource_prefix=env["RESOURCE_PREFIX"],
    )
    logger.info("pruned old deployments", extra=deleted.as_dict())
    return {"Deleted": deleted.as_dict()}


@logger.inject_lambda_context
def cleanup_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    """Always answer CloudFormation, also on failure: an unanswered request hangs the stack for an hour."""
    try:
        request = parse(event=event, model=CleanupRequest)
    except ValidationError as error:
        raise ValueError(f"not a CloudFormation custom resource request: {describe(error.errors())}") from None
    physical_id = PHYSICAL_ID_PREFIX + os.environ.get("STACK_NAME", "")
    try:
        data: dict[str, str] = {}
        if request.request_type == "Delete":
            env = settings.required("STACK_NAME", "PIPELINE_NAME", "RESOURCE_PREFIX")
            deleted = clean_up(
                env["STACK_NAME"],
                env["PIPELINE_NAME"],
                settings.id_list("STATE_MACHINE_ARNS"),
                boto3.client("sagemaker"),
                boto3.client("application-autoscaling"),
                boto3.client("stepfunctions"),
                resource_prefix=env["RESOURCE_PREFIX"],
            )
            logger.info("deployments cleaned up", extra=deleted.as_dict())
            data = {kind: str(len(names)) for kind, names in deleted.as_dict().items()}
        body = custom_resource.response_body(request, "SUCCESS", request.physical_resource_id or physical_id, data=data)
    except Exception as error:  # noqa: BLE001 - any failure must be reported to CloudFormation, then re-raised
        logger.exception("clean-up failed")
        body = custom_resource.response_body(
            request, "FAILED", request.physical_resource_id or physical_id, reason=f"{type(error).__name__}: {error}"
        )
        custom_resource.send(str(request.response_url), body)
        raise
    custom_resource.send(str(request.response_url), body)
    return {"Status": body["Status"], "PhysicalResourceId": body["PhysicalResourceId"]}
