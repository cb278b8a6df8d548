"""The one place where moto's gaps are filled, shared by the tests and ``make local``.

moto 5.2 executes state machines for real, but a few things the train-and-deploy flow needs are missing or are
stand-ins. Each extension below is installed only inside :func:`emulate` and removed on exit:

=============================== ===================================================================================
moto (5.2.5)                    with the emulator
=============================== ===================================================================================
Lambda invoke echoes the        dispatched in-process to the function's own ``Handler`` with its own environment
payload (without Docker)        variables (as created from template.yaml); an exception becomes ``FunctionError``
SageMaker UpdateEndpoint,       implemented (UpdateEndpoint switches the endpoint's config at once, as moto's
ListPipelineExecutionSteps,     CreateEndpoint is InService at once); StopTransformJob stops a job that is still
StopPipelineExecution,          InProgress (a transform the state machine gave up on)
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
StartExecution without a name   a UUID name, as in AWS (moto's parser backend names it "None")
$$.Execution.StartTime is a     the ISO 8601 string AWS gives (``2026-11-26T08:00:00.123Z``)
datetime (breaks Tags, Format)
UpdateEndpoint of an endpoint   refused with ValidationException, as in AWS; DeploymentConfig recorded
that is Creating / Updating
aws-sdk:applicationautoscaling  mapped to boto3's ``application-autoscaling`` (moto knows no "applicationautoscaling")
SageMaker errors in a Task are  named as Step Functions names them: ``SageMaker.<Code>Exception`` for modelled
``States.Runtime`` (optimised)  errors (ResourceLimitExceeded...), ``SageMaker.AmazonSageMakerException`` for the
or ``sagemaker.sagemaker...``   others (ValidationException, ThrottlingException), ``ApplicationAutoScaling.<Code>``
=============================== ===================================================================================

Fault injection (:class:`Faults`, ``emulator.faults``) is the one way tests make AWS misbehave: an API error for the
next N calls of one action of one service, an endpoint create/update that fails (a new endpoint ``Failed``, an update
rolled back to the previous config, as SageMaker does) or is held ``Creating`` / ``Updating`` until released, and a
transform job that fails.

:func:`moto_compatibility_problems` lists what of moto this module relies on and no longer finds (or finds newly
implemented, so an extension should go); a test fails loudly on any entry.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import moto
from botocore.exceptions import ClientError
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, BaseResponse
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, FakePipelineExecution, FakeTransformJob, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemaker.utils import get_pipeline_execution_from_arn
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import StateTaskService
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_unsupported import (
    StateTaskServiceUnsupported,
)
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

MOTO_VERSION_CHECKED = "5.2.5"
FUNCTIONS_ROOT = Path(__file__).resolve().parent.parent / "functions"
# Added by this module; if moto ever implements one of them, moto_compatibility_problems() says so.
ADDED_SAGEMAKER_ACTIONS = (
    "update_endpoint",
    "list_pipeline_execution_steps",
    "stop_pipeline_execution",
    "stop_transform_job",
)
TERMINAL_PIPELINE_STATUSES = ("Succeeded", "Failed", "Stopped")


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


# --- endpoints and transform jobs (local twin) -----------------------------------------------------------------
EndpointRunner = Callable[[str, str], None]  # (endpoint name, endpoint config name)
TransformRunner = Callable[[dict[str, Any]], None]  # the job as DescribeTransformJob returns it


class Deployments:
    """The registry between moto's endpoints / transform jobs and whoever really serves or transforms (the local twin).

    Set ``endpoint_runner`` / ``transform_runner``: they are called on CreateEndpoint / UpdateEndpoint and on
    CreateTransformJob, must return at once (work in a thread), and call :meth:`report_endpoint` /
    :meth:`report_transform_job` when done. Until then the endpoint is ``Creating`` / ``Updating`` and the job
    ``InProgress``, as in AWS, so the state machine's poll loops wait for the real work. Without runners moto's
    instant ``InService`` / ``Completed`` stays.
    """

    def __init__(self) -> None:
        self.endpoint_runner: EndpointRunner | None = None
        self.transform_runner: TransformRunner | None = None
        self._endpoints: dict[str, tuple[Any, str | None, list[dict[str, Any]]]] = {}
        # Every UpdateEndpoint accepted, in order: endpoint, config and DeploymentConfig (blue/green, rollback alarms).
        self.update_requests: list[dict[str, Any]] = []
        self._jobs: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _endpoint_changed(self, endpoint: Any, previous_config: str | None, previous_variants: list[Any]) -> None:
        fault = _active().faults._take_endpoint()
        if self.endpoint_runner is None and fault is None:
            return
        with self._lock:
            self._endpoints[endpoint.endpoint_name] = (endpoint, previous_config, previous_variants)
            endpoint.endpoint_status = "Updating" if previous_config else "Creating"
        if fault == HOLD:
            return
        if fault is not None:
            self.report_endpoint(endpoint.endpoint_name, fault)
            return
        assert self.endpoint_runner is not None
        self.endpoint_runner(endpoint.endpoint_name, endpoint.endpoint_config_name)

    def _job_created(self, job: Any) -> None:
        fault = _active().faults._take_transform()
        if self.transform_runner is None and fault is None:
            return
        with self._lock:
            self._jobs[job.transform_job_name] = job
            job.transform_job_status = "InProgress"
        if fault is not None:
            self.report_transform_job(job.transform_job_name, fault)
            return
        assert self.transform_runner is not None
        self.transform_runner(dict(job.response_object))

    def changing(self) -> list[str]:
        """Endpoints being created or updated (held by a fault or a runner) that no report has finished yet."""
        with self._lock:
            return sorted(self._endpoints)

    def report_endpoint(self, endpoint_name: str, failure_reason: str = "") -> None:
        """The endpoint serves its new config (no reason), or failed: a new endpoint is ``Failed``, an update rolls
        back to the previous config and stays ``InService`` with the reason, as SageMaker does."""
        with self._lock:
            endpoint, previous_config, previous_variants = self._endpoints.pop(endpoint_name)
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


# --- fault injection ---------------------------------------------------------------------------------------------
HOLD = "__hold__"  # an endpoint change that stays Creating / Updating until Deployments.report_endpoint releases it


@dataclass
class InjectedFault:
    """An API error answered instead of the real call, ``remaining`` more times (``None``: every time)."""

    service: str  # moto's service name: "sagemaker", "application-autoscaling", "sns", ...
    action: str  # the API action as on the wire: "CreateModel", "UpdateEndpoint", ...
    code: str  # the AWS error code: "ThrottlingException", "ResourceLimitExceeded", ...
    message: str
    remaining: int | None = 1
    injected: int = 0


class Faults:
    """The emulator's fault-injection API: what a test (or ``make local``) wants AWS to get wrong.

    - :meth:`api_error`: the next ``times`` calls of one action answer with an AWS error instead of running (the
      state machine's Retry/Catch see it exactly as Step Functions would name it);
    - :meth:`fail_endpoint_changes` / :meth:`hold_endpoint_changes`: the next CreateEndpoint / UpdateEndpoint
      fails (a new endpoint ends ``Failed``; an update rolls back to the previous config and stays ``InService`` with
      the reason, as SageMaker does) or stays ``Creating`` / ``Updating`` until ``deployments.report_endpoint``;
    - :meth:`fail_transform_jobs`: the next CreateTransformJob ends ``Failed`` with the reason.

    Everything is cleared when :func:`emulate` exits.
    """

    def __init__(self) -> None:
        self._api: list[InjectedFault] = []
        self._endpoint: list[str] = []
        self._transform: list[str] = []
        self._lock = threading.Lock()

    def api_error(
        self, service: str, action: str, code: str, message: str = "", times: int | None = 1
    ) -> InjectedFault:
        fault = InjectedFault(service, action, code, message or f"injected {code}", times)
        with self._lock:
            self._api.append(fault)
        return fault

    def fail_endpoint_changes(self, reason: str, times: int = 1) -> None:
        if not reason:
            raise ValueError("a failed endpoint change needs a reason")
        with self._lock:
            self._endpoint.extend([reason] * times)

    def hold_endpoint_changes(self, times: int = 1) -> None:
        with self._lock:
            self._endpoint.extend([HOLD] * times)

    def fail_transform_jobs(self, reason: str, times: int = 1) -> None:
        if not reason:
            raise ValueError("a failed transform job needs a reason")
        with self._lock:
            self._transform.extend([reason] * times)

    def _has_service(self, service: str) -> bool:
        with self._lock:
            return any(f.service == service and f.remaining != 0 for f in self._api)

    def _take_api(self, service: str, action: str) -> InjectedFault | None:
        with self._lock:
            for fault in self._api:
                if fault.service == service and fault.action == action and fault.remaining != 0:
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    fault.injected += 1
                    return fault
        return None

    def _take_endpoint(self) -> str | None:
        with self._lock:
            return self._endpoint.pop(0) if self._endpoint else None

    def _take_transform(self) -> str | None:
        with self._lock:
            return self._transform.pop(0) if self._transform else None


class _InjectedError(ServiceException):
    """Serialised with the model of the service answering (moto looks up a ``moto.*`` exception's own service)."""


def _wrap_call_action(original: Callable[..., Any]) -> Callable[..., Any]:
    """Answer an injected API error instead of the call, serialised as the service's own errors are."""

    def call_action(self: BaseResponse) -> Any:
        # The action is looked up only for a service with a fault: some moto responses cannot name theirs.
        if _ACTIVE is not None and self.service_name and _ACTIVE.faults._has_service(str(self.service_name)):
            fault = _ACTIVE.faults._take_api(str(self.service_name), str(self._get_action()))
            if fault is not None:
                status, headers, body = self.serialized(ActionResult(_InjectedError(fault.code, fault.message)))
                headers["status"] = status
                return status, headers, body
        return original(self)

    return call_action


# --- Step Functions error names of AWS SDK errors ----------------------------------------------------------------
_SFN_SERVICE_NAMES = {"sagemaker": "SageMaker", "applicationautoscaling": "ApplicationAutoScaling"}


def _sfn_error_name(sfn_service: str, error: ClientError) -> str:
    """``SageMaker.ResourceLimitExceededException`` for a modelled error, ``SageMaker.AmazonSageMakerException`` for
    an unmodelled one (ValidationException, ThrottlingException): the names Step Functions gives SageMaker errors."""
    service = _SFN_SERVICE_NAMES.get(sfn_service.lower(), sfn_service)
    if type(error).__name__ == "ClientError":  # botocore makes a class per modelled error, ClientError otherwise
        return f"{service}.Amazon{service}Exception"
    name = type(error).__name__
    return f"{service}.{name if name.endswith('Exception') else name + 'Exception'}"


def _sdk_failure(self: Any, env: Any, ex: Exception, original: Callable[..., Any]) -> Any:
    if not isinstance(ex, ClientError):
        return original(self, env, ex)
    code = ex.response.get("Error", {}).get("Code", "")
    service = _SFN_SERVICE_NAMES.get(self.resource.api_name.lower(), self.resource.api_name)
    status = ex.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
    message = ex.response.get("Error", {}).get("Message", "")
    cause = f"{message} (Service: {service}, Status Code: {status}, Error Code: {code})"
    # The optimised (unsupported in moto) SageMaker tasks have no such method of their own: borrow the aws-sdk one.
    return StateTaskServiceAwsSdk._get_task_failure_event(
        self, env=env, error=_sfn_error_name(self.resource.api_name, ex), cause=cause
    )


def _wrap_sdk_from_error(original: Callable[..., Any]) -> Callable[..., Any]:
    def from_error(self: Any, env: Any, ex: Exception) -> Any:
        return _sdk_failure(self, env, ex, original)

    return from_error


# --- Lambda ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EmulatedLambdaContext:
    """The attributes of a Lambda context that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/emulated"
    log_stream_name: str = "emulated"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@dataclass
class Emulator:
    """Handle on the installed extensions (see :func:`emulate`)."""

    pipelines: PipelineExecutions
    functions_root: Path
    invocations: list[dict[str, Any]] = field(default_factory=list)
    deployments: Deployments = field(default_factory=Deployments)
    faults: Faults = field(default_factory=Faults)


_ACTIVE: Emulator | None = None
# The process environment is global: one dispatched handler at a time sees its function's variables.
_INVOKE_LOCK = threading.RLock()


def _active() -> Emulator:
    if _ACTIVE is None:  # pragma: no cover - patches exist only while emulate() is active
        raise RuntimeError("local_twin.emulator extensions used outside emulate()")
    return _ACTIVE


def _invoke(
    self: LambdaSimpleBackend, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
) -> bytes:
    """Run the function's Handler in this process, with its environment, as Lambda would."""
    emulator = _active()
    function = self.get_function(function_name, qualifier)
    module_name, _, attribute = str(function.handler).rpartition(".")
    event = json.loads(body) if body else {}
    context = EmulatedLambdaContext(function_name=function.function_name, invoked_function_arn=function.function_arn)
    environment = {
        **{k: str(v) for k, v in (function.environment_vars or {}).items()},
        "AWS_REGION": self.region_name,
        "AWS_DEFAULT_REGION": self.region_name,
        # There is no X-Ray daemon on a laptop; Powertools' Tracer would try to reach one.
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    with _INVOKE_LOCK:
        # Save and restore only the keys the function sets: clearing os.environ, even briefly, would hide MOTO_PORT
        # and the endpoint settings from the interpreter threads that read them meanwhile.
        saved = {key: os.environ.get(key) for key in environment}
        os.environ.update(environment)
        try:
            handler = getattr(importlib.import_module(module_name), attribute)
            result = handler(event, context)
            payload = json.dumps(result)
            emulator.invocations.append({"function": function.function_name, "event": event, "error": None})
        except Exception as error:  # noqa: BLE001 - any handler error becomes Lambda's FunctionError, as in AWS
            response_headers["x-amz-function-error"] = "Unhandled"
            payload = json.dumps(
                {
                    "errorMessage": str(error),
                    "errorType": type(error).__name__,
                    "stackTrace": traceback.format_tb(error.__traceback__),
                }
            )
            emulator.invocations.append({"function": function.function_name, "event": event, "error": str(error)})
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return payload.encode()


# --- SageMaker ---------------------------------------------------------------------------------------------------
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
    _active().deployments.update_requests.append(
        {
            "EndpointName": endpoint_name,
            "EndpointConfigName": endpoint_config_name,
            "DeploymentConfig": deployment_config,
        }
    )
    endpoint.endpoint_config_name = endpoint_config_name
    endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
    endpoint.endpoint_status = "InService"
    endpoint.last_modified_time = utcnow()
    _active().deployments._endpoint_changed(endpoint, previous_config, previous_variants)
    return {"EndpointArn": endpoint.arn}


def _wrap_create_endpoint(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_endpoint(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> Any:
        endpoint = original(self, *args, **kwargs)
        _active().deployments._endpoint_changed(endpoint, None, [])
        return endpoint

    return create_endpoint


def _wrap_create_transform_job(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_transform_job(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> Any:
        job = original(self, *args, **kwargs)
        _active().deployments._job_created(job)
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
    return ActionResult({"PipelineExecutionSteps": _active().pipelines.steps(arn)})


def _response_stop_pipeline_execution(self: SageMakerResponse) -> ActionResult:
    arn = self._get_param("PipelineExecutionArn")
    execution = get_pipeline_execution_from_arn(self.sagemaker_backend.pipelines, arn)
    pipelines = _active().pipelines
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
        _active().pipelines._started(execution, start)
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


def _wrap_start_execution(original: Callable[..., Any]) -> Callable[..., Any]:
    def start_execution(
        self: StepFunctionsParserBackend,
        state_machine_arn: str,
        name: str | None = None,
        execution_input: str | None = None,
        trace_header: str | None = None,
    ) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)

    return start_execution


def _wrap_evaluation_environment(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_evaluation_environment(self: ExecutionWorker) -> Any:
        environment = original(self)
        execution = environment.states.context_object.context_object_data["Execution"]
        started = execution.get("StartTime")
        if isinstance(started, datetime):
            execution["StartTime"] = started.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return environment

    return get_evaluation_environment


# --- installing --------------------------------------------------------------------------------------------------
@contextmanager
def emulate(functions_root: Path = FUNCTIONS_ROOT) -> Iterator[Emulator]:
    """Install the extensions (inside or outside ``mock_aws``; also for moto's server in this process)."""
    global _ACTIVE
    if _ACTIVE is not None:
        raise RuntimeError("emulate() is already active in this process")
    problems = moto_compatibility_problems()
    if problems:
        raise RuntimeError("moto changed under local_twin.emulator: " + "; ".join(problems))
    emulator = Emulator(pipelines=PipelineExecutions(), functions_root=functions_root)
    root = str(functions_root)
    added_path = root not in sys.path
    with ExitStack() as stack:
        if added_path:
            sys.path.insert(0, root)
            stack.callback(sys.path.remove, root)
        stack.enter_context(mock.patch.object(LambdaSimpleBackend, "invoke", _invoke))
        stack.enter_context(mock.patch.object(SageMakerModelBackend, "update_endpoint", _update_endpoint, create=True))
        for name, method in (
            ("update_endpoint", _response_update_endpoint),
            ("list_pipeline_execution_steps", _response_list_pipeline_execution_steps),
            ("stop_pipeline_execution", _response_stop_pipeline_execution),
            ("stop_transform_job", _response_stop_transform_job),
        ):
            stack.enter_context(mock.patch.object(SageMakerResponse, name, method, create=True))
        stack.enter_context(
            mock.patch.object(
                SageMakerModelBackend,
                "start_pipeline_execution",
                _wrap_start_pipeline_execution(SageMakerModelBackend.start_pipeline_execution),
            )
        )
        stack.enter_context(
            mock.patch.object(
                SageMakerModelBackend,
                "describe_pipeline_execution",
                _wrap_describe_pipeline_execution(SageMakerModelBackend.describe_pipeline_execution),
            )
        )
        stack.enter_context(
            mock.patch.object(SageMakerResponse, "create_model", _wrap_create_model(SageMakerResponse.create_model))
        )
        for name, wrap in (
            ("create_endpoint", _wrap_create_endpoint),
            ("create_transform_job", _wrap_create_transform_job),
        ):
            stack.enter_context(
                mock.patch.object(SageMakerModelBackend, name, wrap(getattr(SageMakerModelBackend, name)))
            )
        stack.enter_context(
            mock.patch.object(
                ExecutionWorker,
                "_get_evaluation_environment",
                _wrap_evaluation_environment(ExecutionWorker._get_evaluation_environment),
            )
        )
        stack.enter_context(mock.patch.object(BaseResponse, "call_action", _wrap_call_action(BaseResponse.call_action)))
        stack.enter_context(
            mock.patch.dict(
                StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES,
                {"applicationautoscaling": "application-autoscaling"},
            )
        )
        for cls in (StateTaskServiceAwsSdk, StateTaskServiceUnsupported):
            stack.enter_context(mock.patch.object(cls, "_from_error", _wrap_sdk_from_error(cls._from_error)))
        stack.enter_context(
            mock.patch.object(
                StepFunctionsParserBackend,
                "start_execution",
                _wrap_start_execution(StepFunctionsParserBackend.start_execution),
            )
        )
        _ACTIVE = emulator
        stack.callback(_deactivate)
        yield emulator


def _deactivate() -> None:
    global _ACTIVE
    _ACTIVE = None


def moto_compatibility_problems() -> list[str]:
    """What this module relies on in moto and does not find as expected (empty: all is as checked)."""
    problems = []
    if moto.__version__ != MOTO_VERSION_CHECKED:
        problems.append(f"moto is {moto.__version__}, the extensions were checked against {MOTO_VERSION_CHECKED}")
    for name in ADDED_SAGEMAKER_ACTIONS:
        if name in vars(SageMakerResponse):
            problems.append(f"moto now implements SageMaker {name}: remove the emulator's version")
    expected = {
        LambdaSimpleBackend: ("invoke", "get_function"),
        SageMakerModelBackend: (
            "start_pipeline_execution",
            "describe_pipeline_execution",
            "create_endpoint",
            "create_transform_job",
        ),
        SageMakerResponse: ("create_model", "_get_param"),
        FakeEndpoint: ("_process_production_variants", "arn_formatter"),
        StepFunctionsParserBackend: ("start_execution",),
        ExecutionWorker: ("_get_evaluation_environment",),
        BaseResponse: ("call_action", "serialized", "_get_action"),
        StateTaskServiceAwsSdk: ("_from_error", "_get_task_failure_event"),
        StateTaskServiceUnsupported: ("_from_error",),
    }
    for cls, attributes in expected.items():
        problems.extend(f"{cls.__name__}.{a} is gone" for a in attributes if not hasattr(cls, a))
    if "applicationautoscaling" in StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES:
        problems.append("moto now maps aws-sdk:applicationautoscaling itself: remove the emulator's mapping")
    for attribute in ("pipeline_execution_status", "pipeline_execution_failure_reason", "client_request_token"):
        if attribute not in FakePipelineExecution.__init__.__code__.co_names:
            problems.append(f"FakePipelineExecution no longer sets {attribute}")
    for cls, names in (
        (FakeEndpoint, ("endpoint_status", "failure_reason", "endpoint_config_name", "production_variants")),
        (FakeTransformJob, ("transform_job_status", "failure_reason", "transform_end_time", "last_modified_time")),
    ):
        problems.extend(
            f"{cls.__name__} no longer sets {name}" for name in names if name not in cls.__init__.__code__.co_names
        )
    return problems
