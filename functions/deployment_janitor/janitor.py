"""Find and delete what deploy executions created outside CloudFormation, by the stack tag the deploy path sets.

The state machine tags every model, endpoint config, endpoint and transform job it creates with
``sagemaker-secure-mlops:stack=<stack name>``, and names each ``<ResourceNamePrefix>-...``. Only resources with both
are this stack's: the functions' roles may read the tags of (and delete) names with the prefix alone, so any other
name is skipped before its tags are read (reading them would be denied). Two uses:

- :func:`prune` after a successful deployment: endpoint configs and models beyond the newest ``keep_last`` are
  deleted; the live config, its models, the one just deployed and models of running transform jobs never are;
- :func:`clean_up` on stack deletion: running deploy executions are stopped (so nothing new appears), then the
  scalable targets, endpoints, endpoint configs and models with the stack's tag, the serving-check models of the
  pipeline's executions (a training run deletes its own; one started outside the train state machine may not
  have), and the pipeline, are deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlops_shared.pipeline_names import SERVING_MODEL_STEP

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
    monitoring_schedules: list[str] = field(default_factory=list)
    job_definitions: list[str] = field(default_factory=list)
    stopped_executions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "Endpoints": self.endpoints,
            "EndpointConfigs": self.endpoint_configs,
            "Models": self.models,
            "ScalableTargets": self.scalable_targets,
            "Pipelines": self.pipelines,
            "MonitoringSchedules": self.monitoring_schedules,
            "JobDefinitions": self.job_definitions,
            "StoppedExecutions": self.stopped_executions,
            "Errors": self.errors,
        }


def _missing(error: Exception) -> bool:
    message = str(getattr(error, "response", {}).get("Error", {}).get("Message", ""))
    return any(marker in message for marker in NOT_FOUND_MARKERS)


def _has_stack_tag(sagemaker: SageMakerClient, arn: str, stack: str) -> bool:
    tags = sagemaker.list_tags(ResourceArn=arn).get("Tags", [])
    return any(t["Key"] == STACK_TAG and t["Value"] == stack for t in tags)


def _named(name: str, resource_prefix: str) -> bool:
    return name.startswith(f"{resource_prefix}-")


def _listed(sagemaker: SageMakerClient, kind: str, resource_prefix: str) -> Iterator[dict[str, Any]]:
    operation, key = {
        "endpoint": ("list_endpoints", "Endpoints"),
        "endpoint-config": ("list_endpoint_configs", "EndpointConfigs"),
        "model": ("list_models", "Models"),
    }[kind]
    for page in sagemaker.get_paginator(operation).paginate(NameContains=resource_prefix):  # type: ignore[call-overload]
        yield from page.get(key, [])


def tagged(sagemaker: SageMakerClient, kind: str, stack: str, resource_prefix: str) -> list[Tagged]:
    """Resources of one kind (endpoint, endpoint-config, model) named ``<resource_prefix>-...`` and tagged with this
    stack, newest first."""
    if not resource_prefix:
        raise ValueError("resource_prefix must not be empty")
    field_prefix = {"endpoint": "Endpoint", "endpoint-config": "EndpointConfig", "model": "Model"}[kind]
    found = [
        Tagged(item[f"{field_prefix}Name"], item[f"{field_prefix}Arn"], item["CreationTime"])
        for item in _listed(sagemaker, kind, resource_prefix)
        if _named(item[f"{field_prefix}Name"], resource_prefix)
        and _has_stack_tag(sagemaker, item[f"{field_prefix}Arn"], stack)
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


def _running_transform_models(sagemaker: SageMakerClient, resource_prefix: str) -> set[str]:
    """The models of this stack's transform jobs in progress (named with the prefix, like the models)."""
    models: set[str] = set()
    pages = sagemaker.get_paginator("list_transform_jobs").paginate(
        StatusEquals="InProgress", NameContains=resource_prefix
    )
    for page in pages:
        for job in page.get("TransformJobSummaries", []):
            if _named(job["TransformJobName"], resource_prefix):
                models.add(sagemaker.describe_transform_job(TransformJobName=job["TransformJobName"])["ModelName"])
    return models


def prune(
    stack: str,
    endpoint_name: str,
    keep_last: int,
    protect: Iterable[str],
    sagemaker: SageMakerClient,
    *,
    resource_prefix: str,
) -> Deleted:
    """Delete this stack's endpoint configs and models beyond the newest ``keep_last`` (see the module docstring)."""
    if keep_last < 1:
        raise ValueError(f"keep_last must be at least 1, got {keep_last}")
    protected = set(protect)
    live = _live_config(sagemaker, endpoint_name)
    if live:
        protected.add(live)
    configs = tagged(sagemaker, "endpoint-config", stack, resource_prefix)
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
    models = tagged(sagemaker, "model", stack, resource_prefix)
    kept_models = (
        {m.name for m in models[:keep_last]} | protected | _running_transform_models(sagemaker, resource_prefix)
    )
    # The live config's models too when the config is not one of this stack's (made by hand, say): the endpoint
    # needs them to replace or add an instance.
    for config_name in kept_configs | ({live} if live else set()):
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
    *,
    resource_prefix: str,
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
    _delete_monitoring(sagemaker, stack, resource_prefix, deleted)  # schedules go before their endpoint
    for endpoint in tagged(sagemaker, "endpoint", stack, resource_prefix):
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
    for config in tagged(sagemaker, "endpoint-config", stack, resource_prefix):
        if _ignore_missing(sagemaker.delete_endpoint_config, EndpointConfigName=config.name):
            deleted.endpoint_configs.append(config.name)
    for model in tagged(sagemaker, "model", stack, resource_prefix):
        if _ignore_missing(sagemaker.delete_model, ModelName=model.name):
            deleted.models.append(model.name)
    if pipeline_name:
        _delete_pipeline(sagemaker, pipeline_name, deleted)
    return deleted


def _delete_monitoring(sagemaker: SageMakerClient, stack: str, resource_prefix: str, deleted: Deleted) -> None:
    """The stack's data-quality schedules, then their job definitions (both carry the stack tag)."""
    for schedules in sagemaker.get_paginator("list_monitoring_schedules").paginate(NameContains=resource_prefix):
        for schedule in schedules.get("MonitoringScheduleSummaries", []):
            name = schedule["MonitoringScheduleName"]
            ours = _named(name, resource_prefix) and _has_stack_tag(sagemaker, schedule["MonitoringScheduleArn"], stack)
            if ours and _ignore_missing(sagemaker.delete_monitoring_schedule, MonitoringScheduleName=name):
                deleted.monitoring_schedules.append(name)
    paginator = sagemaker.get_paginator("list_data_quality_job_definitions")
    for definitions in paginator.paginate(NameContains=resource_prefix):
        for definition in definitions.get("JobDefinitionSummaries", []):
            name = definition["MonitoringJobDefinitionName"]
            arn = definition["MonitoringJobDefinitionArn"]
            ours = _named(name, resource_prefix) and _has_stack_tag(sagemaker, arn, stack)
            if ours and _ignore_missing(sagemaker.delete_data_quality_job_definition, JobDefinitionName=name):
                deleted.job_definitions.append(name)


def _delete_pipeline(sagemaker: SageMakerClient, pipeline_name: str, deleted: Deleted) -> None:
    """The pipeline's serving-check models, then the pipeline (whose executions list them)."""
    for model_name in serving_check_models(sagemaker, pipeline_name):
        if _ignore_missing(sagemaker.delete_model, ModelName=model_name):
            deleted.models.append(model_name)
    if _ignore_missing(sagemaker.delete_pipeline, PipelineName=pipeline_name):
        deleted.pipelines.append(pipeline_name)


def serving_check_models(sagemaker: SageMakerClient, pipeline_name: str) -> list[str]:
    """The models the pipeline's executions made to score their test split (step SERVING_MODEL_STEP)."""
    names: list[str] = []
    try:
        for page in sagemaker.get_paginator("list_pipeline_executions").paginate(PipelineName=pipeline_name):
            for execution in page.get("PipelineExecutionSummaries", []):
                for steps in sagemaker.get_paginator("list_pipeline_execution_steps").paginate(
                    PipelineExecutionArn=execution["PipelineExecutionArn"]
                ):
                    names.extend(
                        step["Metadata"]["Model"]["Arn"].rsplit("/", 1)[-1]
                        for step in steps.get("PipelineExecutionSteps", [])
                        if step.get("StepName") == SERVING_MODEL_STEP
                        and step.get("Metadata", {}).get("Model", {}).get("Arn")
                    )
    except sagemaker.exceptions.ClientError as error:
        if _missing(error):
            return names  # no pipeline: nothing it made is left
        raise
    return names
