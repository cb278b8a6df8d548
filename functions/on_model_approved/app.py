"""Deploy an approved model: from the EventBridge approval event, or from the train path of the state machine."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from on_model_approved.deployment import check_state_change, settings_from_env, start_deployment
from on_model_approved.models import ModelPackageStateChange, StartDeploymentRequest
from on_model_approved.rejection import handle_rejection

logger = Logger()
# Namespace fixed in code, not from POWERTOOLS_METRICS_NAMESPACE: Metrics reads it when the module is imported,
# and the local twin imports handlers once for many invocations.
metrics = Metrics(namespace="AbaloneMLOps")


def _count(outcome_status: str) -> None:
    """One metric per outcome (started / duplicate / not-approved): duplicates show how often dedup was needed."""
    metrics.add_metric(name=f"Deployments-{outcome_status}", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics
@event_parser(model=ModelPackageStateChange)
def lambda_handler(event: ModelPackageStateChange, context: LambdaContext) -> dict[str, Any]:
    settings = settings_from_env()
    detail = event.detail
    check_state_change(
        detail.model_package_group_name, detail.model_approval_status, settings["MODEL_PACKAGE_GROUP_NAME"], "Approved"
    )
    outcome = start_deployment(
        detail.model_package_arn,
        settings["DEFAULT_DEPLOYMENT_TARGET"],
        trigger=f"event:{event.id}",
        expected_group=settings["MODEL_PACKAGE_GROUP_NAME"],
        state_machine_arn=settings["STATE_MACHINE_ARN"],
        sagemaker=boto3.client("sagemaker"),
        sfn=boto3.client("stepfunctions"),
    )
    logger.info("approval handled", extra=outcome.as_dict())
    _count(outcome.status)
    return outcome.as_dict()


@logger.inject_lambda_context
@metrics.log_metrics
@event_parser(model=StartDeploymentRequest)
def start_deployment_handler(event: StartDeploymentRequest, context: LambdaContext) -> dict[str, Any]:
    settings = settings_from_env()
    outcome = start_deployment(
        event.ModelPackageArn,
        event.Target,
        trigger=f"train:{event.TrainingExecution}",
        expected_group=settings["MODEL_PACKAGE_GROUP_NAME"],
        state_machine_arn=settings["STATE_MACHINE_ARN"],
        sagemaker=boto3.client("sagemaker"),
        sfn=boto3.client("stepfunctions"),
    )
    logger.info("deployment requested by the train path", extra=outcome.as_dict())
    _count(outcome.status)
    return outcome.as_dict()


def _required_env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ValueError(f"environment variable {name} is not set")
    return value


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics
@event_parser(model=ModelPackageStateChange)
def rejected_handler(event: ModelPackageStateChange, context: LambdaContext) -> dict[str, Any]:
    """A package was rejected: if the endpoint serves it, redeploy the newest remaining Approved package."""
    settings = settings_from_env()
    detail = event.detail
    check_state_change(
        detail.model_package_group_name, detail.model_approval_status, settings["MODEL_PACKAGE_GROUP_NAME"], "Rejected"
    )
    outcome = handle_rejection(
        detail.model_package_arn,
        trigger=f"rejected:{event.id}",
        expected_group=settings["MODEL_PACKAGE_GROUP_NAME"],
        endpoint_name=_required_env("ENDPOINT_NAME"),
        state_machine_arn=settings["STATE_MACHINE_ARN"],
        topic_arn=_required_env("NOTIFICATION_TOPIC_ARN"),
        sagemaker=boto3.client("sagemaker"),
        sfn=boto3.client("stepfunctions"),
        sns=boto3.client("sns"),
    )
    logger.info("rejection handled", extra=outcome.as_dict())
    metrics.add_metric(name=f"Rejections-{outcome.status}", unit=MetricUnit.Count, value=1)
    return outcome.as_dict()
