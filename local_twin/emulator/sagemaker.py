"""SageMaker as the flow needs it: what moto 5.2.5 lacks or stands in for, filled in after AWS's documentation.

=============================== ===================================================================================
moto (5.2.5)                    with the emulator
=============================== ===================================================================================
UpdateEndpoint,                 implemented (UpdateEndpoint switches the endpoint's config; refused with
ListPipelineExecutionSteps,     ValidationException while the endpoint is Creating/Updating, as in AWS);
StopPipelineExecution,          StopTransformJob stops a job that is still InProgress
StopTransformJob missing
StartPipelineExecution is       a pluggable pipeline runner is called; it reports status, failure reason and steps
always "Succeeded", no steps    (DescribePipelineExecution and ListPipelineExecutionSteps read them back);
                                ClientRequestToken is idempotent as in AWS
CreateEndpoint, UpdateEndpoint  with runners plugged in (the local twin's endpoint server and batch transform):
InService at once,              Creating / Updating / InProgress until the runner reports InService, Failed (or a
CreateTransformJob Completed    rolled-back update) or Completed / Failed with a reason
at once
CreateModel drops               recorded and returned by DescribeModel
EnableNetworkIsolation
UpdateModelPackage sets the     an absent field is left as it is; CustomerMetadataProperties are merged (the API's
status (and description) to     ...ToRemove removes keys); ModelLifeCycle (Stage, StageStatus, StageDescription) is
None when absent; Create- and   validated (botocore's model: Stage and StageStatus required, each
UpdateModelPackage ignore       ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``; StageDescription up to 1024 characters; else
ModelLifeCycle                  ValidationException), stored and described, on create and on update
no EventBridge events           "SageMaker Model Package State Change" is sent to the account's default bus on every
                                CreateModelPackage and UpdateModelPackage (a metadata-only update too), with the
                                detail DescribeModelPackage returns (times as ISO 8601 strings, as in the
                                documented example). "SageMaker AI may send multiple events to EventBridge for each
                                state change" (SageMaker developer guide, "Automating SageMaker with EventBridge"):
                                ``model_package_events.copies`` sends each one several times, with different ids
no resource policies, no        PutModelPackageGroupPolicy / Get / Delete, and requests from another account by ARN
cross-account access            checked against the group's policy: :mod:`~local_twin.emulator.registry_sharing`
=============================== ===================================================================================
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.events.models import events_backends
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import (
    FakeEndpoint,
    FakePipelineExecution,
    FakeTransformJob,
    ModelPackage,
    SageMakerModelBackend,
)
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemaker.utils import get_pipeline_execution_from_arn

from local_twin.emulator import core, registry_sharing
from local_twin.emulator.account import ACCOUNT_ID
from local_twin.emulator.faults import HOLD

TERMINAL_PIPELINE_STATUSES = ("Succeeded", "Failed", "Stopped")
STATE_CHANGE_DETAIL_TYPE = "SageMaker Model Package State Change"
# Added by this module; if moto ever implements one of them, compatibility_problems() says so.
ADDED_ACTIONS = ("update_endpoint", "list_pipeline_execution_steps", "stop_pipeline_execution", "stop_transform_job")
LIFE_CYCLE_NAME = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"  # botocore: ModelLifeCycle.Stage / StageStatus (EntityName)


# --- pipeline executions -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PipelineStart:
    """What a pipeline runner is told when StartPipelineExecution is called."""

    execution_arn: str
    pipeline_name: str
    parameters: dict[str, str]
    definition: str
    region: str
    account_id: str


PipelineRunner = Callable[[PipelineStart], None]


@dataclass
class _ExecutionRecord:
    execution: Any  # moto's FakePipelineExecution
    steps: list[dict[str, Any]] = field(default_factory=list)


class PipelineExecutions:
    """The registry between moto's SageMaker and whoever really runs pipelines (the local runner, or a test).

    Set ``runner``: it is called on every StartPipelineExecution, may run the pipeline at once or in a thread, and
    calls :meth:`report` as the execution progresses. Without a runner, executions stay moto's instant "Succeeded".
    """

    def __init__(self) -> None:
        self.runner: PipelineRunner | None = None
        self.stop_requested: set[str] = set()
        self._records: dict[str, _ExecutionRecord] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self.runner = None
            self.stop_requested.clear()
            self._records.clear()

    def _started(self, execution: Any, start: PipelineStart) -> None:
        with self._lock:
            self._records[start.execution_arn] = _ExecutionRecord(execution)
        if self.runner is not None:
            execution.pipeline_execution_status = "Executing"
            self.runner(start)

    def report(
        self,
        execution_arn: str,
        status: str,
        failure_reason: str = "",
        steps: list[dict[str, Any]] | None = None,
    ) -> None:
        """Set an execution's status (Executing, Stopping, Succeeded, Failed, Stopped), reason and steps."""
        if status not in ("Executing", "Stopping", *TERMINAL_PIPELINE_STATUSES):
            raise ValueError(f"not a pipeline execution status: {status!r}")
        with self._lock:
            record = self._records.get(execution_arn)
            if record is None:
                raise KeyError(f"no pipeline execution {execution_arn} was started in this emulator")
            record.execution.pipeline_execution_status = status
            record.execution.pipeline_execution_failure_reason = failure_reason or None
            record.execution.last_modified_time = utcnow()
            if steps is not None:
                record.steps = [dict(step) for step in steps]

    def steps(self, execution_arn: str) -> list[dict[str, Any]]:
        with self._lock:
            record = self._records.get(execution_arn)
            return [dict(step) for step in record.steps] if record else []

    def status(self, execution_arn: str) -> str:
        with self._lock:
            return str(self._records[execution_arn].execution.pipeline_execution_status)


# --- endpoints and transform jobs --------------------------------------------------------------------------------
EndpointRunner = Callable[[str, str, str], None]  # (endpoint name, endpoint config name, the endpoint's account)
TransformRunner = Callable[[dict[str, Any], str], None]  # (the job as DescribeTransformJob returns it, its account)


class Deployments:
    """The registry between moto's endpoints / transform jobs and whoever really serves or transforms (the local twin).

    Set ``endpoint_runner`` / ``transform_runner``: they are called on CreateEndpoint / UpdateEndpoint and on
    CreateTransformJob, with the account the endpoint or job lives in, must return at once (work in a thread), and
    call :meth:`report_endpoint` / :meth:`report_transform_job` when done. Until then the endpoint is ``Creating`` /
    ``Updating`` and the job ``InProgress``, as in AWS, so the state machine's poll loops wait for the real work.
    Without runners moto's instant ``InService`` / ``Completed`` stays.
    """

    def __init__(self) -> None:
        self.endpoint_runner: EndpointRunner | None = None
        self.transform_runner: TransformRunner | None = None
        # (account, endpoint name) → the endpoint, its previous config and variants (endpoint names are per account)
        self._endpoints: dict[tuple[str, str], tuple[Any, str | None, list[Any]]] = {}
        # Every CreateEndpoint / UpdateEndpoint accepted, in order: endpoint, config, DeploymentConfig, and when the
        # change started and ended (``Finished``: its report, or at once without a runner).
        self.endpoint_requests: list[dict[str, Any]] = []
        self._jobs: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def update_requests(self) -> list[dict[str, Any]]:
        """The UpdateEndpoint calls among :attr:`endpoint_requests`."""
        return [request for request in self.endpoint_requests if request["Action"] == "UpdateEndpoint"]

    def clear(self) -> None:
        with self._lock:
            self.endpoint_runner = self.transform_runner = None
            self._endpoints.clear()
            self.endpoint_requests.clear()
            self._jobs.clear()

    def _endpoint_changed(self, endpoint: Any, previous_config: str | None, previous_variants: list[Any]) -> None:
        fault = core.active().faults._take_endpoint()
        account = _account_of(endpoint.arn)
        if self.endpoint_runner is None and fault is None:
            self._finished(endpoint.endpoint_name)
            return
        with self._lock:
            self._endpoints[(account, endpoint.endpoint_name)] = (endpoint, previous_config, previous_variants)
            endpoint.endpoint_status = "Updating" if previous_config else "Creating"
        if fault == HOLD:
            return
        if fault is not None:
            self.report_endpoint(endpoint.endpoint_name, fault, account_id=account)
            return
        assert self.endpoint_runner is not None
        self.endpoint_runner(endpoint.endpoint_name, endpoint.endpoint_config_name, account)

    def _job_created(self, job: Any) -> None:
        fault = core.active().faults._take_transform()
        if self.transform_runner is None and fault is None:
            return
        with self._lock:
            self._jobs[job.transform_job_name] = job
            job.transform_job_status = "InProgress"
        if fault is not None:
            self.report_transform_job(job.transform_job_name, fault)
            return
        assert self.transform_runner is not None
        self.transform_runner(dict(job.response_object), _account_of(job.arn))

    def changing(self) -> list[str]:
        """Endpoints being created or updated (held by a fault or a runner) that no report has finished yet."""
        with self._lock:
            return sorted(name for _, name in self._endpoints)

    def _finished(self, endpoint_name: str) -> None:
        for request in reversed(self.endpoint_requests):
            if request["EndpointName"] == endpoint_name and request.get("Finished") is None:
                request["Finished"] = time.monotonic()
                return

    def report_endpoint(self, endpoint_name: str, failure_reason: str = "", account_id: str = ACCOUNT_ID) -> None:
        """The endpoint (of ``account_id``) serves its new config (no reason), or failed: a new endpoint is
        ``Failed``, an update rolls back to the previous config and stays ``InService`` with the reason, as SageMaker
        does."""
        self._finished(endpoint_name)
        with self._lock:
            endpoint, previous_config, previous_variants = self._endpoints.pop((account_id, endpoint_name))
            endpoint.failure_reason = failure_reason or None
            endpoint.last_modified_time = utcnow()
            if not failure_reason:
                endpoint.endpoint_status = "InService"
            elif previous_config:
                endpoint.endpoint_config_name = previous_config
                endpoint.production_variants = previous_variants
                endpoint.endpoint_status = "InService"
            else:
                endpoint.endpoint_status = "Failed"

    def report_transform_job(self, job_name: str, failure_reason: str = "") -> None:
        """The job ``Completed`` (no reason) or ``Failed`` with the reason."""
        with self._lock:
            job = self._jobs.pop(job_name)
            job.transform_job_status = "Failed" if failure_reason else "Completed"
            job.failure_reason = failure_reason
            job.transform_end_time = job.last_modified_time = utcnow()


def _account_of(arn: str) -> str:
    return str(arn).split(":")[4]


# --- model package events ------------------------------------------------------------------------------------------
@dataclass
class ModelPackageEvents:
    """How the emulated SageMaker sends "Model Package State Change" events, and what it sent.

    ``copies``: events per change (each with its own id), because SageMaker may send several; tests set 2 to prove
    the deployment path does not care.
    """

    copies: int = 1
    sent: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def clear(self) -> None:
        with self._lock:
            self.copies = 1
            self.sent.clear()

    def _send(self, backend: SageMakerModelBackend, package: ModelPackage) -> None:
        detail = _iso_times(_described(package))
        entry = {
            "Source": "aws.sagemaker",
            "DetailType": STATE_CHANGE_DETAIL_TYPE,
            "Detail": json.dumps(detail),
            "Resources": [package.arn],
            "EventBusName": "default",
        }
        bus = events_backends[backend.account_id][backend.region_name]
        for _ in range(max(1, self.copies)):
            answer = bus.put_events([dict(entry)])
            with self._lock:
                self.sent.append({"id": answer[0].get("EventId"), "detail": detail})


def _described(package: ModelPackage) -> dict[str, Any]:
    """DescribeModelPackage's answer for the package, ModelLifeCycle included."""
    described = dict(package.gen_response_object())
    life_cycle = getattr(package, "model_life_cycle", None)
    if life_cycle:
        described["ModelLifeCycle"] = dict(life_cycle)
    return described


def _iso_times(node: Any) -> Any:
    """Datetimes as in the documented event example: ISO 8601 in UTC with milliseconds (2026-11-26T08:00:00.123Z)."""
    if isinstance(node, dict):
        return {key: _iso_times(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_iso_times(value) for value in node]
    if isinstance(node, datetime):
        moment = node if node.tzinfo else node.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return node


def _package(backend: SageMakerModelBackend, arn_or_name: str) -> ModelPackage:
    name = backend.model_package_name_mapping.get(arn_or_name, arn_or_name)
    package = backend.model_packages.get(name)
    if package is None:
        raise ValidationError(message=f"Model package {arn_or_name} not found")
    return package


def _update_model_package(
    self: SageMakerModelBackend,
    model_package_arn: str,
    model_approval_status: str | None,
    approval_description: str | None,
    customer_metadata_properties: dict[str, str] | None,
    customer_metadata_properties_to_remove: list[str] | None,
    additional_inference_specifications_to_add: list[Any] | None,
    model_life_cycle: dict[str, str] | None = None,
) -> str:
    """UpdateModelPackage as the API reference describes it: only what the request names changes."""
    package = _package(self, model_package_arn)
    if model_life_cycle is not None:
        _check_life_cycle(model_life_cycle)
    if model_approval_status is not None:
        package.set_model_approval_status(model_approval_status)
    if approval_description is not None:
        package.approval_description = approval_description
    if customer_metadata_properties:
        package.customer_metadata_properties = {
            **(package.customer_metadata_properties or {}),
            **customer_metadata_properties,
        }
    for key in customer_metadata_properties_to_remove or []:
        (package.customer_metadata_properties or {}).pop(key, None)
    if additional_inference_specifications_to_add:
        package.add_additional_inference_specifications(additional_inference_specifications_to_add)
    if model_life_cycle is not None:
        package.model_life_cycle = dict(model_life_cycle)  # type: ignore[attr-defined]
    package.modifications_done()
    core.active().model_package_events._send(self, package)
    return str(package.arn)


def _check_life_cycle(life_cycle: dict[str, str]) -> None:
    """ModelLifeCycle's constraints in botocore's model, refused with the wording of AWS's validation errors."""
    for key in ("Stage", "StageStatus"):
        value = life_cycle.get(key)
        field_path = f"modelLifeCycle.{key[0].lower()}{key[1:]}"
        if value is None:
            raise ValidationError(
                message=f"1 validation error detected: Value null at '{field_path}' failed to satisfy constraint: "
                "Member must not be null"
            )
        if not re.fullmatch(LIFE_CYCLE_NAME, str(value)):
            raise ValidationError(
                message=f"1 validation error detected: Value '{value}' at '{field_path}' failed to satisfy "
                f"constraint: Member must satisfy regular expression pattern: {LIFE_CYCLE_NAME}"
            )
    if len(str(life_cycle.get("StageDescription", ""))) > 1024:
        raise ValidationError(
            message="1 validation error detected: Value at 'modelLifeCycle.stageDescription' failed to satisfy "
            "constraint: Member must have length less than or equal to 1024"
        )


def _response_update_model_package(self: SageMakerResponse) -> ActionResult:
    arn = _update_model_package(
        self.sagemaker_backend,
        self._get_param("ModelPackageArn"),
        self._get_param("ModelApprovalStatus"),
        self._get_param("ApprovalDescription"),
        self._get_param("CustomerMetadataProperties"),
        self._get_param("CustomerMetadataPropertiesToRemove"),
        self._get_param("AdditionalInferenceSpecificationsToAdd"),
        self._get_param("ModelLifeCycle"),
    )
    return ActionResult({"ModelPackageArn": arn})


def _wrap_create_model_package(original: Callable[..., ActionResult]) -> Callable[..., ActionResult]:
    """CreateModelPackage: its ModelLifeCycle checked and kept (moto drops it), then the state-change event sent."""

    def create_model_package(self: SageMakerResponse) -> ActionResult:
        life_cycle = self._get_param("ModelLifeCycle")
        if life_cycle is not None:
            _check_life_cycle(life_cycle)  # before anything is created, as a refused request creates nothing
        result = original(self)
        backend = self.sagemaker_backend
        package = _package(backend, str(cast(dict[str, Any], result.result)["ModelPackageArn"]))
        if life_cycle is not None:
            package.model_life_cycle = dict(life_cycle)  # type: ignore[attr-defined]
        core.active().model_package_events._send(backend, package)
        return result

    return create_model_package


def _response_describe_model_package(self: SageMakerResponse) -> ActionResult:
    package = self.sagemaker_backend.describe_model_package(model_package_name=self._get_param("ModelPackageName"))
    return ActionResult(_described(package))


# --- endpoints, transforms, models, pipelines ----------------------------------------------------------------------
def _update_endpoint(
    self: SageMakerModelBackend,
    endpoint_name: str,
    endpoint_config_name: str,
    deployment_config: dict[str, Any] | None = None,
) -> dict[str, str]:
    endpoint = self.endpoints.get(endpoint_name)
    if endpoint is None:
        arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
        raise ValidationError(message=f"Could not find endpoint '{arn}'.")
    if endpoint.endpoint_status in ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"):
        arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
        raise ValidationError(message=f'Cannot update in-progress endpoint "{arn}".')
    config = self.endpoint_configs.get(endpoint_config_name)
    if config is None:
        raise ValidationError(message=f"Could not find endpoint configuration '{endpoint_config_name}'.")
    previous_config, previous_variants = endpoint.endpoint_config_name, endpoint.production_variants
    core.active().deployments.endpoint_requests.append(
        {
            "Action": "UpdateEndpoint",
            "EndpointName": endpoint_name,
            "EndpointConfigName": endpoint_config_name,
            "DeploymentConfig": deployment_config,
            "Started": time.monotonic(),
            "Finished": None,
        }
    )
    endpoint.endpoint_config_name = endpoint_config_name
    endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
    endpoint.endpoint_status = "InService"
    endpoint.last_modified_time = utcnow()
    core.active().deployments._endpoint_changed(endpoint, previous_config, previous_variants)
    return {"EndpointArn": endpoint.arn}


def _wrap_create_endpoint(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_endpoint(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> Any:
        endpoint = original(self, *args, **kwargs)
        core.active().deployments.endpoint_requests.append(
            {
                "Action": "CreateEndpoint",
                "EndpointName": endpoint.endpoint_name,
                "EndpointConfigName": endpoint.endpoint_config_name,
                "DeploymentConfig": None,
                "Started": time.monotonic(),
                "Finished": None,
            }
        )
        core.active().deployments._endpoint_changed(endpoint, None, [])
        return endpoint

    return create_endpoint


def _wrap_create_transform_job(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_transform_job(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> Any:
        job = original(self, *args, **kwargs)
        core.active().deployments._job_created(job)
        return job

    return create_transform_job


def _response_update_endpoint(self: SageMakerResponse) -> ActionResult:
    return ActionResult(
        _update_endpoint(
            self.sagemaker_backend,
            self._get_param("EndpointName"),
            self._get_param("EndpointConfigName"),
            self._get_param("DeploymentConfig"),
        )
    )


def _response_list_pipeline_execution_steps(self: SageMakerResponse) -> ActionResult:
    arn = self._get_param("PipelineExecutionArn")
    get_pipeline_execution_from_arn(self.sagemaker_backend.pipelines, arn)  # raises ResourceNotFound like AWS
    return ActionResult({"PipelineExecutionSteps": core.active().pipelines.steps(arn)})


def _response_stop_pipeline_execution(self: SageMakerResponse) -> ActionResult:
    arn = self._get_param("PipelineExecutionArn")
    execution = get_pipeline_execution_from_arn(self.sagemaker_backend.pipelines, arn)
    pipelines = core.active().pipelines
    pipelines.stop_requested.add(arn)
    if execution.pipeline_execution_status == "Executing":
        # With a runner the runner finishes the stop (reports Stopped); without one nothing is running.
        execution.pipeline_execution_status = "Stopping" if pipelines.runner else "Stopped"
    return ActionResult({"PipelineExecutionArn": arn})


def _response_stop_transform_job(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("TransformJobName")
    job = self.sagemaker_backend.transform_jobs.get(name)
    if job is None:
        raise ValidationError(message=f"Could not find transform job '{name}'.")
    if job.transform_job_status == "InProgress":
        job.transform_job_status = "Stopped"
    return ActionResult({})


def _wrap_start_pipeline_execution(original: Callable[..., dict[str, str]]) -> Callable[..., dict[str, str]]:
    def start_pipeline_execution(
        self: SageMakerModelBackend,
        pipeline_name: str,
        pipeline_execution_display_name: str,
        pipeline_parameters: list[dict[str, Any]],
        pipeline_execution_description: str,
        parallelism_configuration: dict[str, int],
        client_request_token: str,
    ) -> dict[str, str]:
        if client_request_token and pipeline_name in self.pipelines:
            for arn, execution in self.pipelines[pipeline_name].pipeline_executions.items():
                if execution.client_request_token == client_request_token:
                    return {"PipelineExecutionArn": arn}  # idempotent retry, as in AWS
        result = original(
            self,
            pipeline_name,
            pipeline_execution_display_name,
            pipeline_parameters,
            pipeline_execution_description,
            parallelism_configuration,
            client_request_token,
        )
        arn = result["PipelineExecutionArn"]
        execution = get_pipeline_execution_from_arn(self.pipelines, arn)
        start = PipelineStart(
            execution_arn=arn,
            pipeline_name=pipeline_name,
            parameters={p["Name"]: str(p["Value"]) for p in pipeline_parameters or []},
            definition=str(execution.pipeline_definition_for_execution),
            region=self.region_name,
            account_id=self.account_id,
        )
        core.active().pipelines._started(execution, start)
        return result

    return start_pipeline_execution


def _wrap_describe_pipeline_execution(original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def describe_pipeline_execution(self: SageMakerModelBackend, pipeline_execution_arn: str) -> dict[str, Any]:
        described = dict(original(self, pipeline_execution_arn))
        execution = get_pipeline_execution_from_arn(self.pipelines, pipeline_execution_arn)
        described.pop("FailureReason", None)  # moto always sends ""; AWS sends it only for a failure
        if execution.pipeline_execution_failure_reason:
            described["FailureReason"] = execution.pipeline_execution_failure_reason
        return described

    return describe_pipeline_execution


def _wrap_create_model(original: Callable[..., ActionResult]) -> Callable[..., ActionResult]:
    def create_model(self: SageMakerResponse) -> ActionResult:
        result = original(self)
        model = self.sagemaker_backend._models[self._get_param("ModelName")]
        model.enable_network_isolation = bool(self._get_param("EnableNetworkIsolation", False))
        return result

    return create_model


# --- installing --------------------------------------------------------------------------------------------------
def patches() -> list[tuple[Any, str, Any]]:
    """(class, attribute, replacement) for every extension above; installed by local_twin.emulator.start."""
    backend = SageMakerModelBackend
    return [
        (backend, "update_endpoint", _update_endpoint),
        (SageMakerResponse, "update_endpoint", _response_update_endpoint),
        (SageMakerResponse, "list_pipeline_execution_steps", _response_list_pipeline_execution_steps),
        (SageMakerResponse, "stop_pipeline_execution", _response_stop_pipeline_execution),
        (SageMakerResponse, "stop_transform_job", _response_stop_transform_job),
        (backend, "start_pipeline_execution", _wrap_start_pipeline_execution(backend.start_pipeline_execution)),
        (
            backend,
            "describe_pipeline_execution",
            _wrap_describe_pipeline_execution(backend.describe_pipeline_execution),
        ),
        (
            SageMakerResponse,
            "create_model",
            registry_sharing.create_model(_wrap_create_model(SageMakerResponse.create_model)),
        ),
        (backend, "create_endpoint", _wrap_create_endpoint(backend.create_endpoint)),
        (backend, "create_transform_job", _wrap_create_transform_job(backend.create_transform_job)),
        (backend, "update_model_package", _update_model_package),
        (
            SageMakerResponse,
            "update_model_package",
            registry_sharing.update_model_package(_response_update_model_package),
        ),
        (
            SageMakerResponse,
            "describe_model_package",
            registry_sharing.describe_model_package(_response_describe_model_package),
        ),
        (
            SageMakerResponse,
            "create_model_package",
            _wrap_create_model_package(SageMakerResponse.create_model_package),
        ),
    ]


def compatibility_problems() -> list[str]:
    """What this module relies on in moto and does not find as expected (empty: all is as checked)."""
    problems = [
        f"moto now implements SageMaker {name}: remove the emulator's version"
        for name in ADDED_ACTIONS
        if name in vars(SageMakerResponse)
    ]
    expected = {
        SageMakerModelBackend: (
            "start_pipeline_execution",
            "describe_pipeline_execution",
            "create_endpoint",
            "create_transform_job",
            "create_model_package",
            "update_model_package",
            "model_package_name_mapping",
        ),
        SageMakerResponse: (
            "create_model",
            "_get_param",
            "create_model_package",
            "update_model_package",
            "describe_model_package",
        ),
        FakeEndpoint: ("_process_production_variants", "arn_formatter"),
        ModelPackage: ("gen_response_object", "modifications_done", "set_model_approval_status"),
    }
    for cls, attributes in expected.items():
        problems.extend(
            f"{cls.__name__}.{a} is gone" for a in attributes if not hasattr(cls, a) and a not in _assigned_by(cls)
        )
    for attribute in ("pipeline_execution_status", "pipeline_execution_failure_reason", "client_request_token"):
        if attribute not in _assigned_by(FakePipelineExecution):
            problems.append(f"FakePipelineExecution no longer sets {attribute}")
    for cls, names in (
        (FakeEndpoint, ("endpoint_status", "failure_reason", "endpoint_config_name", "production_variants")),
        (FakeTransformJob, ("transform_job_status", "failure_reason", "transform_end_time", "last_modified_time")),
    ):
        problems.extend(f"{cls.__name__} no longer sets {name}" for name in names if name not in _assigned_by(cls))
    return problems


def _assigned_by(cls: type) -> tuple[str, ...]:
    """The names a class's ``__init__`` uses (its attributes among them)."""
    init: Any = vars(cls).get("__init__") or getattr(cls, "__init__")  # noqa: B009 - mypy refuses cls.__init__
    return tuple(init.__code__.co_names)
