"""Find and delete what deploy executions created outside CloudFormation, by the stack tag the deploy path sets.

The state machine tags every model, endpoint config, endpoint and transform job it creates with
``sagemaker-secure-mlops:stack=<stack name>``. Two uses:

- :func:`prune` after a successful deployment: endpoint configs and models beyond the newest ``keep_last`` are
  deleted; the live config, its models, the one just deployed and models of running transform jobs never are;
- :func:`clean_up` on stack deletion: running deploy executions are stopped (so nothing new appears), then the
  scalable targets, endpoints, endpoint configs and models with the stack's tag, and the pipeline, are deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_stepfunctions import SFNClient

STACK_TAG = "sagemaker-secure-mlops:stack"
NOT_FOUND_MARKERS = ("Could not find", "does not exist", "not found")


@dataclass(frozen=True)
class Tagged:
    name: str
    arn: str
    created: datetime


@dataclass
class Deleted:
    endpoints: list[str] = field(default_factory=list)
    endpoint_configs: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    scalable_targets: list[str] = field(default_factory=list)
    pipelines: list[str] = field(default_factory=list)
    stopped_executions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "Endpoints": self.endpoints,
            "EndpointConfigs": self.endpoint_configs,
            "Models": self.models,
            "ScalableTargets": self.scalable_targets,
            "Pipelines": self.pipelines,
            "StoppedExecutions": self.stopped_executions,
            "Errors": self.errors,
        }


def _missing(error: Exception) -> bool:
    message = str(getattr(error, "response", {}).get("Error", {}).get("Message", ""))
    return any(marker in message for marker in NOT_FOUND_MARKERS)


def _has_stack_tag(sagemaker: SageMakerClient, arn: str, stack: str) -> bool:
    tags = sagemaker.list_tags(ResourceArn=arn).get("Tags", [])
    return any(t["Key"] == STACK_TAG and t["Value"] == stack for t in tags)


def _listed(sagemaker: SageMakerClient, kind: str) -> Iterator[dict[str, Any]]:
    operation, key = {
        "endpoint": ("list_endpoints", "Endpoints"),
        "endpoint-config": ("list_endpoint_configs", "EndpointConfigs"),
        "model": ("list_models", "Models"),
    }[kind]
    for page in sagemaker.get_paginator(operation).paginate():  # type: ignore[call-overload]
        yield from page.get(key, [])


def tagged(sagemaker: SageMakerClient, kind: str, stack: str) -> list[Tagged]:
    """Resources of one kind (endpoint, endpoint-config, model) tagged with this stack, newest first."""
    prefix = {"endpoint": "Endpoint", "endpoint-config": "EndpointConfig", "model": "Model"}[kind]
    found = [
        Tagged(item[f"{prefix}Name"], item[f"{prefix}Arn"], item["CreationTime"])
        for item in _listed(sagemaker, kind)
        if _has_stack_tag(sagemaker, item[f"{prefix}Arn"], stack)
    ]
    return sorted(found, key=lambda t: t.created, reverse=True)


def _models_of(sagemaker: SageMakerClient, config_name: str) -> set[str]:
    try:
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    except sagemaker.exceptions.ClientError as error:
        if _missing(error):
            return set()
        raise
    return {variant["ModelName"] for variant in config.get("ProductionVariants", [])}


def _live_config(sagemaker: SageMakerClient, endpoint_name: str) -> str | None:
    try:
        return sagemaker.describe_endpoint(EndpointName=endpoint_name)["EndpointConfigName"]
    except sagemaker.exceptions.ClientError as error:
        if _missing(error):
            return None
        raise


def _running_transform_models(sagemaker: SageMakerClient) -> set[str]:
    models: set[str] = set()
    for page in sagemaker.get_paginator("list_transform_jobs").paginate(StatusEquals="InProgress"):
        for job in page.get("TransformJobSummaries", []):
            models.add(sagemaker.describe_transform_job(TransformJobName=job["TransformJobName"])["ModelName"])
    return models


def prune(
    stack: str, endpoint_name: str, keep_last: int, protect: Iterable[str], sagemaker: SageMakerClient
) -> Deleted:
    """Delete this stack's endpoint configs and models beyond the newest ``keep_last`` (see the module docstring)."""
    if keep_last < 1:
        raise ValueError(f"keep_last must be at least 1, got {keep_last}")
    protected = set(protect)
    live = _live_config(sagemaker, endpoint_name)
    if live:
        protected.add(live)
    configs = tagged(sagemaker, "endpoint-config", stack)
    kept_configs = {c.name for c in configs[:keep_last]} | (protected & {c.name for c in configs})
    deleted = Deleted()
    # A config or model that cannot be deleted (in use by a transform job started meanwhile, throttled...) is
    # reported, not raised: pruning runs after the deployment is live and must not turn it into a failure.
    for config in configs:
        if config.name not in kept_configs:
            try:
                sagemaker.delete_endpoint_config(EndpointConfigName=config.name)
                deleted.endpoint_configs.append(config.name)
            except sagemaker.exceptions.ClientError as error:
                deleted.errors.append(f"endpoint config {config.name}: {error}")
    models = tagged(sagemaker, "model", stack)
    kept_models = {m.name for m in models[:keep_last]} | protected | _running_transform_models(sagemaker)
    for config_name in kept_configs:
        kept_models |= _models_of(sagemaker, config_name)
    for model in models:
        if model.name not in kept_models:
            try:
                sagemaker.delete_model(ModelName=model.name)
                deleted.models.append(model.name)
            except sagemaker.exceptions.ClientError as error:
                deleted.errors.append(f"model {model.name}: {error}")
    return deleted


def _ignore_missing(call: Any, **kwargs: Any) -> bool:
    """Call a delete; False if the resource is already gone (clean-up is idempotent: CloudFormation may retry)."""
    try:
        call(**kwargs)
    except Exception as error:  # noqa: BLE001 - botocore raises per-service classes; only "not found" is swallowed
        if _missing(error) or "No scalable target" in str(error):
            return False
        raise
    return True


def clean_up(
    stack: str,
    pipeline_name: str,
    state_machine_arns: Iterable[str],
    sagemaker: SageMakerClient,
    autoscaling: ApplicationAutoScalingClient,
    sfn: SFNClient,
) -> Deleted:
    """Stop the stack's running executions, then delete every tagged endpoint (with its scaling), config and model,
    and the pipeline."""
    deleted = Deleted()
    for state_machine_arn in state_machine_arns:
        try:
            for page in sfn.get_paginator("list_executions").paginate(
                stateMachineArn=state_machine_arn, statusFilter="RUNNING"
            ):
                for execution in page.get("executions", []):
                    sfn.stop_execution(executionArn=execution["executionArn"], cause=f"stack {stack} is being deleted")
                    deleted.stopped_executions.append(execution["name"])
        except sfn.exceptions.StateMachineDoesNotExist:
            pass  # deleted already: nothing runs
    for endpoint in tagged(sagemaker, "endpoint", stack):
        variants = sagemaker.describe_endpoint(EndpointName=endpoint.name).get("ProductionVariants", [])
        for variant in variants:
            resource_id = f"endpoint/{endpoint.name}/variant/{variant['VariantName']}"
            if _ignore_missing(
                autoscaling.deregister_scalable_target,
                ServiceNamespace="sagemaker",
                ResourceId=resource_id,
                ScalableDimension="sagemaker:variant:DesiredInstanceCount",
            ):
                deleted.scalable_targets.append(resource_id)
        if _ignore_missing(sagemaker.delete_endpoint, EndpointName=endpoint.name):
            deleted.endpoints.append(endpoint.name)
    for config in tagged(sagemaker, "endpoint-config", stack):
        if _ignore_missing(sagemaker.delete_endpoint_config, EndpointConfigName=config.name):
            deleted.endpoint_configs.append(config.name)
    for model in tagged(sagemaker, "model", stack):
        if _ignore_missing(sagemaker.delete_model, ModelName=model.name):
            deleted.models.append(model.name)
    if pipeline_name and _ignore_missing(sagemaker.delete_pipeline, PipelineName=pipeline_name):
        deleted.pipelines.append(pipeline_name)
    return deleted
