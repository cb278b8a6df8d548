"""Step Functions as AWS runs it: the error names Task states report, execution names and the context object.

The naming rules (what a Retry or Catch can match, with their sources) are in :mod:`local_twin.emulator.error_names`,
which the security gates use too; this module puts them into moto's interpreter.

moto 5.2.5 names optimised SageMaker errors ``States.Runtime``, every SNS error ``SNS.<Code>Exception`` and an
untyped Lambda error ``Exception``; the patches below replace those with the rules.

Tasks call services as the state machine's execution role, in the role's account (Step Functions developer guide,
"How Step Functions works with IAM": "Step Functions ... assumes the IAM role ... to call other services"); moto's
interpreter signs every task's call with fixed keys (``ak``), which act in the default account, so a machine of
another account would invoke the default account's functions. Here a task of a machine whose role lives in another
account calls with that role's assumed-role credentials (the default account keeps moto's keys).

Executions send "Step Functions Execution Status Change" events to their account's default event bus, as Standard
workflows do (Step Functions developer guide, "EventBridge (CloudWatch Events) for Step Functions execution status
changes", whose examples give the shape): one when an execution starts (``RUNNING``) and one when it ends
(``SUCCEEDED``, ``FAILED``, ``TIMED_OUT``, ``ABORTED``); the ``detail`` "provides the same information as the
DescribeExecution API" (dates in epoch milliseconds, ``input`` and ``output`` as JSON text, ``output`` null unless it
succeeded). The end event is sent after the status changed, so whoever it reaches reads the execution as ended; moto
sends none.

Also: an unnamed StartExecution gets a UUID name (moto names it "None"); ``$$.Execution.StartTime`` is the ISO 8601
string AWS gives (moto leaves a datetime, which breaks Tags and States.Format); ``aws-sdk:applicationautoscaling`` is
mapped to boto3's ``application-autoscaling``.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto.events.models import events_backends
from moto.stepfunctions.parser.api import HistoryEventType, LambdaFunctionFailedEventDetails, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk,
    state_task_service_events,
    state_task_service_sfn,
    state_task_service_sns,
    state_task_service_sqs,
    state_task_service_unsupported,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import StateTaskService
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
    StateTaskServiceLambda,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sns import (
    StateTaskServiceSns,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_unsupported import (
    StateTaskServiceUnsupported,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils import boto_client as moto_boto_client
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from local_twin.emulator import core
from local_twin.emulator.error_names import function_error, optimised_error, sdk_error

STATUS_CHANGE_DETAIL_TYPE = "Step Functions Execution Status Change"

# The interpreter's modules that import boto_client_for by name: each gets the account-aware version.
_CLIENT_USERS = (
    lambda_eval_utils,
    state_task_service_aws_sdk,
    state_task_service_events,
    state_task_service_sfn,
    state_task_service_sns,
    state_task_service_sqs,
    state_task_service_unsupported,
)


def _failure(task: Any, env: Any, error: str, cause: str) -> FailureEvent:
    return FailureEvent(
        env=env,
        error_name=CustomErrorName(error),
        event_type=HistoryEventType.TaskFailed,
        event_details=EventDetails(  # type: ignore[typeddict-item]  # moto's TypedDict lists every kind as required
            taskFailedEventDetails=TaskFailedEventDetails(
                error=error,
                cause=cause,
                resource=task._get_sfn_resource(),
                resourceType=task._get_sfn_resource_type(),
            )
        ),
    )


def _wrap_from_error(kind: str, original: Callable[..., FailureEvent]) -> Callable[..., FailureEvent]:
    def from_error(self: Any, env: Any, ex: Exception) -> FailureEvent:
        if kind == "lambda" and isinstance(ex, lambda_eval_utils.LambdaFunctionErrorException):
            return _failure(self, env, *function_error(ex.payload))
        if not isinstance(ex, ClientError):
            return original(self, env, ex)
        if kind == "aws-sdk":
            return _failure(self, env, *sdk_error(self.resource.api_name, self.resource.api_action, ex))
        return _failure(self, env, *optimised_error(self.resource.api_name, ex))

    return from_error


def _wrap_lambda_task_from_error(original: Callable[..., FailureEvent]) -> Callable[..., FailureEvent]:
    """A Task whose Resource is the function's ARN: the same names, in a LambdaFunctionFailed history event."""

    def from_error(self: Any, env: Any, ex: Exception) -> FailureEvent:
        if isinstance(ex, lambda_eval_utils.LambdaFunctionErrorException):
            error, cause = function_error(ex.payload)
        elif isinstance(ex, ClientError):
            error, cause = optimised_error("lambda", ex)
        else:
            return original(self, env, ex)
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.LambdaFunctionFailed,
            event_details=EventDetails(  # type: ignore[typeddict-item]  # as above
                lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(error=error, cause=cause)
            ),
        )

    return from_error


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


def _wrap_boto_client_for(original: Callable[..., Any]) -> Callable[..., Any]:
    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        client = original(region=region, service=service, state_credentials=state_credentials)
        role_arn = str(getattr(state_credentials, "role_arn", "") or "")
        parts = role_arn.split(":")
        emulator = core.current()
        if emulator is None or len(parts) < 6 or parts[4] in ("", emulator.home_account_id):
            return client
        credentials = emulator.role_credentials(role_arn, "states")
        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=region,
            endpoint_url=client.meta.endpoint_url,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            config=client.meta.config,
        )

    return boto_client_for


def _epoch_milliseconds(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def status_change_detail(execution: Execution, status: str) -> dict[str, Any]:
    """The event's ``detail``: DescribeExecution's fields, as the guide's examples show them."""
    detail: dict[str, Any] = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine.arn,
        "name": execution.name,
        "status": status,
        "startDate": _epoch_milliseconds(execution.start_date),
        "stopDate": _epoch_milliseconds(execution.stop_date) if status != "RUNNING" else None,
        "input": json.dumps(execution.input_data, separators=(",", ":")),
        "output": json.dumps(execution.output, separators=(",", ":")) if status == "SUCCEEDED" else None,
    }
    if status == "FAILED":
        detail["error"], detail["cause"] = execution.error, execution.cause
    return detail


def _send_status_change(execution: Execution, status: str) -> None:
    bus = events_backends[execution.account_id][execution.region_name]
    bus.put_events(
        [
            {
                "Source": "aws.states",
                "DetailType": STATUS_CHANGE_DETAIL_TYPE,
                "Detail": json.dumps(status_change_detail(execution, status)),
                "Resources": [execution.exec_arn],
                "EventBusName": "default",
            }
        ]
    )


class ExecutionWorkers:
    """The executions whose interpreter is still at work.

    StopExecution makes an execution ``ABORTED`` at once, but the state it is in finishes first ("a stop takes effect
    between states": a Task's call already made still lands). Whoever empties the account after stopping executions
    waits for :meth:`wait_until_idle`, or a stopped execution's last call would land in what comes next.
    """

    def __init__(self) -> None:
        self._running: set[str] = set()
        self._changed = threading.Condition()

    def _started(self, execution_arn: str) -> None:
        with self._changed:
            self._running.add(execution_arn)

    def _ended(self, execution_arn: str) -> None:
        with self._changed:
            self._running.discard(execution_arn)
            self._changed.notify_all()

    def running(self) -> list[str]:
        with self._changed:
            return sorted(self._running)

    def wait_until_idle(self, timeout: float = 60.0) -> None:
        """Block until no execution's interpreter runs (every one ended, its end event sent)."""
        with self._changed:
            if not self._changed.wait_for(lambda: not self._running, timeout):
                raise TimeoutError(f"executions still at work after {timeout} s: {', '.join(sorted(self._running))}")


def _wrap_execution_start(original: Callable[..., None]) -> Callable[..., None]:
    def start(self: Execution) -> None:
        workers = core.active().executions
        workers._started(self.exec_arn)  # before the interpreter's thread starts: it may end at once
        try:
            original(self)
        except BaseException:
            workers._ended(self.exec_arn)
            raise
        _send_status_change(self, "RUNNING")

    return start


def _wrap_terminated(original: Callable[..., None]) -> Callable[..., None]:
    def terminated(self: BaseExecutionWorkerCommunication) -> None:
        emulator = core.active()
        # Counted from before the status changes until the event's Lambda invocations are accepted, so a waiter never
        # reads "ended, and nothing more to come" in between.
        try:
            with emulator.lambdas.delivering():
                original(self)
                _send_status_change(self.execution, str(self.execution.status))
        finally:
            emulator.executions._ended(self.execution.exec_arn)

    return terminated


def patches() -> list[tuple[Any, str, Any]]:
    boto_client_for = _wrap_boto_client_for(moto_boto_client.boto_client_for)
    return [
        *((module, "boto_client_for", boto_client_for) for module in _CLIENT_USERS),
        (StateTaskServiceAwsSdk, "_from_error", _wrap_from_error("aws-sdk", StateTaskServiceAwsSdk._from_error)),
        (
            StateTaskServiceUnsupported,
            "_from_error",
            _wrap_from_error("optimised", StateTaskServiceUnsupported._from_error),
        ),
        (StateTaskServiceSns, "_from_error", _wrap_from_error("optimised", StateTaskServiceSns._from_error)),
        (StateTaskServiceLambda, "_from_error", _wrap_from_error("lambda", StateTaskServiceLambda._from_error)),
        (StateTaskLambda, "_from_error", _wrap_lambda_task_from_error(StateTaskLambda._from_error)),
        (
            StepFunctionsParserBackend,
            "start_execution",
            _wrap_start_execution(StepFunctionsParserBackend.start_execution),
        ),
        (
            ExecutionWorker,
            "_get_evaluation_environment",
            _wrap_evaluation_environment(ExecutionWorker._get_evaluation_environment),
        ),
        (Execution, "start", _wrap_execution_start(Execution.start)),
        (
            BaseExecutionWorkerCommunication,
            "terminated",
            _wrap_terminated(BaseExecutionWorkerCommunication.terminated),
        ),
    ]


def dict_patches() -> list[tuple[dict[str, str], dict[str, str]]]:
    return [
        (StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES, {"applicationautoscaling": "application-autoscaling"})
    ]


def compatibility_problems() -> list[str]:
    problems: list[str] = []
    expected = {
        StateTaskServiceAwsSdk: ("_from_error", "_get_sfn_resource", "_get_sfn_resource_type"),
        StateTaskServiceUnsupported: ("_from_error",),
        StateTaskServiceSns: ("_from_error",),
        StateTaskServiceLambda: ("_from_error",),
        StateTaskLambda: ("_from_error",),
        StepFunctionsParserBackend: ("start_execution",),
        ExecutionWorker: ("_get_evaluation_environment",),
        Execution: ("start",),
        BaseExecutionWorkerCommunication: ("terminated", "_reflect_execution_status"),
    }
    for cls, attributes in expected.items():
        problems.extend(f"{cls.__name__}.{a} is gone" for a in attributes if not hasattr(cls, a))
    problems.extend(
        f"{module.__name__} no longer imports boto_client_for"
        for module in _CLIENT_USERS
        if getattr(module, "boto_client_for", None) is not moto_boto_client.boto_client_for
    )
    if not hasattr(lambda_eval_utils, "LambdaFunctionErrorException"):
        problems.append("lambda_eval_utils.LambdaFunctionErrorException is gone")
    if "applicationautoscaling" in StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES:
        problems.append("moto now maps aws-sdk:applicationautoscaling itself: remove the emulator's mapping")
    return problems
