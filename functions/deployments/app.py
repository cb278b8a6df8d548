"""The deployment functions: the reconciler (EventBridge: any model-registry event of the stack's group, and the end
of each succeeded deploy execution) and the deploy state machine's steps (plan, gate, check, finish)."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from deployments import steps
from deployments.events import InvalidEvent, parse_trigger
from deployments.models import (
    CheckRequest,
    ExecutionStatusChange,
    FinishRequest,
    GateRequest,
    MonitorRequest,
    PlanRequest,
    StepRequest,
    UnmonitorRequest,
    VerifyRequest,
)
from deployments.reconcile import Outcome, reconcile
from deployments.settings import Settings, monitoring_settings
from mlops_shared import settings as shared_settings

logger = Logger()
# Namespace fixed in code: Metrics reads POWERTOOLS_METRICS_NAMESPACE when the module is imported.
metrics = Metrics(namespace="AbaloneMLOps")


def _record(outcome: Outcome) -> None:
    metrics.add_metric(name=f"Reconcile-{outcome.status}", unit=MetricUnit.Count, value=1)
    logger.info(f"reconcile: {outcome.status}: {outcome.reason}", extra=outcome.as_dict())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics
def reconcile_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A registry event, or a deploy execution that ended, is a reason to compare the registry with what is
    deployed; it is trusted for nothing else."""
    settings = Settings.from_env()
    state_machine_arn = shared_settings.text("DEPLOY_STATE_MACHINE_ARN")
    # The registry's account: this stack's own, or (a staging / production stack) the registry account's.
    account = os.environ.get("REGISTRY_ACCOUNT_ID") or context.invoked_function_arn.split(":")[4]
    try:
        trigger = parse_trigger(
            event,
            group=settings.group,
            account=account,
            region=os.environ["AWS_REGION"],
            state_machine_arn=state_machine_arn,
        )
    except InvalidEvent as error:
        _record(Outcome("rejected-input", str(error)))
        raise  # after Lambda's retries, the event is kept in the function's dead-letter queue
    after = f"ended:{trigger.detail.name} " if isinstance(trigger, ExecutionStatusChange) else ""
    outcome = reconcile(
        settings,
        state_machine_arn=state_machine_arn,
        trigger=f"{after}event:{trigger.id} request:{context.aws_request_id}",
        sagemaker=boto3.client("sagemaker"),
        sfn=boto3.client("stepfunctions"),
    )
    _record(outcome)
    return outcome.as_dict()


@logger.inject_lambda_context
@metrics.log_metrics
def step_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """One decision of the deploy state machine (its Operation)."""
    request: StepRequest = parse(event=event, model=StepRequest)  # type: ignore[call-overload]
    settings = Settings.from_env()
    clients = steps.Clients(sagemaker=boto3.client("sagemaker"))
    if isinstance(request, PlanRequest):
        result = steps.plan(request.Input, request.ExecutionName, settings, clients)
        metrics.add_metric(name=f"Deploy-plan-{result['Plan']['Action']}", unit=MetricUnit.Count, value=1)
        return result
    if isinstance(request, GateRequest):
        return steps.gate(request.Plan, request.Previous, settings, clients)
    if isinstance(request, CheckRequest):
        return steps.check(request.Plan, request.Previous, clients)
    if isinstance(request, MonitorRequest):
        return steps.monitor(request.Plan, settings, monitoring_settings(), clients)
    if isinstance(request, VerifyRequest):
        account = context.invoked_function_arn.split(":")[4]
        runtime_clients = steps.Clients(
            sagemaker=clients.sagemaker, runtime=boto3.client("sagemaker-runtime"), s3=boto3.client("s3")
        )
        return steps.verify(request.Plan, settings, account, runtime_clients)
    if isinstance(request, UnmonitorRequest):
        return steps.unmonitor(monitoring_settings(), clients)
    if isinstance(request, FinishRequest):
        outcome = steps.finish(
            request.ExecutionArn,
            request.State,
            shared_settings.text("NOTIFICATION_TOPIC_ARN"),
            os.environ["AWS_REGION"],
            steps.Clients(sagemaker=clients.sagemaker, sns=boto3.client("sns")),
        )
        metrics.add_metric(name=f"Deploy-{outcome['Outcome']}", unit=MetricUnit.Count, value=1)
        version = ((request.State.get("Plan") or {}).get("Package") or {}).get("Version")
        if outcome["Outcome"] == "Deployed" and version:  # the dashboard's "which version is live"
            metrics.add_metric(name="LiveModelVersion", unit=MetricUnit.NoUnit, value=int(version))
        logger.info(outcome["Message"], extra={"outcome": outcome["Outcome"]})
        return outcome
    raise AssertionError(f"unhandled operation {request!r}")  # pragma: no cover - the union is exhaustive
