"""Step Functions as AWS runs it: the error names Task states report, execution names and the context object.

Error names (what a Retry or Catch can match) -- the rule, its sources, and what is inferred:

* **AWS SDK integrations** (``arn:aws:states:::aws-sdk:<service>:<action>``). Step Functions guide, "Learning to use
  AWS service SDK integrations" / "Handling errors": ``<ServiceName>.<ErrorName>`` in Pascal case, and "the
  ``Exception`` suffix is always added" (``S3.BucketAlreadyExistsException``). The service prefix is the guide's table
  (``SageMaker``, ``ApplicationAutoScaling``, ``Sns``...). Step Functions runs these calls with the AWS SDK for Java
  v2, whose exception classes are generated from the service model: an error the called operation declares gets its
  own class; any other falls back to the SDK's base exception of the service. *Inferred* (no public recording of a
  SageMaker error through Step Functions exists): ``SageMaker.ResourceNotFoundException`` for a declared
  ``ResourceNotFound``, ``SageMaker.SageMakerException`` for ThrottlingException, ValidationException,
  AccessDeniedException (undeclared) -- the same mechanism is recorded for DynamoDB (``DynamoDb.DynamoDbException``)
  and Secrets Manager. The cause reads ``<message> (Service: SageMaker, Status Code: 400, Request ID: <id>)``, with no
  ``Error Code`` part.
* **Optimised integrations** (``arn:aws:states:::sagemaker:createModel``, ``sns:publish``...) run with the AWS SDK for
  Java v1: a service-wide declared error keeps its name (the guide's retry example lists
  ``SageMaker.ResourceLimitExceededException``), anything else is the v1 base class
  (``SageMaker.AmazonSageMakerException`` -- the guide's own example --, ``SNS.AmazonSNSException``), and the cause
  reads ``<message> (Service: AmazonSageMaker; Status Code: 400; Error Code: <code>; Request ID: <id>; Proxy: null)``.
* **Lambda** (``arn:aws:states:::lambda:invoke``, or the function's ARN as the Resource): a function error is the
  payload's ``errorType`` with the payload as cause (``Sandbox.Timedout`` for a timeout, as Lambda reports it); a
  payload without ``errorType`` is
  ``Lambda.Unknown`` ("The cause could not be determined because Lambda did not return an error type. Returned
  payload: ..."); an Invoke API error is ``Lambda.<Code>`` for a declared one, else ``Lambda.AWSLambdaException``.

moto 5.2.5 names optimised SageMaker errors ``States.Runtime``, every SNS error ``SNS.<Code>Exception`` and an
untyped Lambda error ``Exception``; the patches below replace those with the rules above.

Also: an unnamed StartExecution gets a UUID name (moto names it "None"); ``$$.Execution.StartTime`` is the ISO 8601
string AWS gives (moto leaves a datetime, which breaks Tags and States.Format); ``aws-sdk:applicationautoscaling`` is
mapped to boto3's ``application-autoscaling``.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import botocore.session
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.api import HistoryEventType, LambdaFunctionFailedEventDetails, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
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
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

# aws-sdk service name (as in the resource ARN) -> (boto3 service, Step Functions' error prefix, the guide's table)
SDK_SERVICES: dict[str, tuple[str, str]] = {
    "sagemaker": ("sagemaker", "SageMaker"),
    "applicationautoscaling": ("application-autoscaling", "ApplicationAutoScaling"),
    "sns": ("sns", "Sns"),
    "cloudwatch": ("cloudwatch", "CloudWatch"),
    "s3": ("s3", "S3"),
    "sfn": ("stepfunctions", "Sfn"),
}
# optimised service -> (boto3 service, error prefix, the AWS SDK for Java v1 base exception and service name)
OPTIMISED_SERVICES: dict[str, tuple[str, str, str, str]] = {
    "sagemaker": ("sagemaker", "SageMaker", "AmazonSageMakerException", "AmazonSageMaker"),
    "sns": ("sns", "SNS", "AmazonSNSException", "AmazonSNS"),
    "lambda": ("lambda", "Lambda", "AWSLambdaException", "AWSLambda"),
}
LAMBDA_UNKNOWN_CAUSE = (
    "The cause could not be determined because Lambda did not return an error type. Returned payload: "
)


class UnnamedService(LookupError):
    """A Task calls a service whose error names this emulator does not know: add it to the tables above, from the
    Step Functions guide, rather than guess."""


@functools.cache
def _declared_errors(boto_service: str, operation: str | None) -> dict[str, str]:
    """Error code -> shape name of the errors the service model declares (for one operation, or service-wide)."""
    model = botocore.session.get_session().get_service_model(boto_service)
    shapes = model.operation_model(operation).error_shapes if operation else model.error_shapes
    return {str(shape.metadata.get("error", {}).get("code") or shape.name): shape.name for shape in shapes}


def _with_suffix(name: str) -> str:
    return name if name.endswith("Exception") else f"{name}Exception"


def sdk_error(sfn_service: str, action: str, error: ClientError) -> tuple[str, str]:
    """(error, cause) of an aws-sdk integration's failed call, as Step Functions reports it."""
    if sfn_service.lower() not in SDK_SERVICES:
        raise UnnamedService(f"aws-sdk:{sfn_service}: its Step Functions error prefix is not in SDK_SERVICES")
    boto_service, prefix = SDK_SERVICES[sfn_service.lower()]
    code = str(error.response.get("Error", {}).get("Code", ""))
    operation = action[:1].upper() + action[1:]
    declared = _declared_errors(boto_service, operation)
    name = f"{prefix}.{_with_suffix(declared[code])}" if code in declared else f"{prefix}.{prefix}Exception"
    metadata = error.response.get("ResponseMetadata", {})
    message = error.response.get("Error", {}).get("Message", "")
    cause = (
        f"{message} (Service: {prefix}, Status Code: {metadata.get('HTTPStatusCode', 400)}, "
        f"Request ID: {metadata.get('RequestId', '')})"
    )
    return name, cause


def optimised_error(service: str, error: ClientError) -> tuple[str, str]:
    """(error, cause) of an optimised integration's failed call (AWS SDK for Java v1 names and cause format)."""
    if service.lower() not in OPTIMISED_SERVICES:
        raise UnnamedService(f"arn:aws:states:::{service}: its error names are not in OPTIMISED_SERVICES")
    boto_service, prefix, base, v1_service = OPTIMISED_SERVICES[service.lower()]
    code = str(error.response.get("Error", {}).get("Code", ""))
    declared = _declared_errors(boto_service, None)
    name = f"{prefix}.{_with_suffix(declared[code])}" if code in declared else f"{prefix}.{base}"
    metadata = error.response.get("ResponseMetadata", {})
    message = error.response.get("Error", {}).get("Message", "")
    cause = (
        f"{message} (Service: {v1_service}; Status Code: {metadata.get('HTTPStatusCode', 400)}; Error Code: {code}; "
        f"Request ID: {metadata.get('RequestId', '')}; Proxy: null)"
    )
    return name, cause


def function_error(payload: str) -> tuple[str, str]:
    """(error, cause) of a Lambda function's error payload."""
    try:
        parsed = json.loads(payload)
    except ValueError:
        parsed = None
    error_type = parsed.get("errorType") if isinstance(parsed, dict) else None
    if not error_type:
        return "Lambda.Unknown", LAMBDA_UNKNOWN_CAUSE + payload
    return str(error_type), payload


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


def patches() -> list[tuple[Any, str, Any]]:
    return [
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
    }
    for cls, attributes in expected.items():
        problems.extend(f"{cls.__name__}.{a} is gone" for a in attributes if not hasattr(cls, a))
    if not hasattr(lambda_eval_utils, "LambdaFunctionErrorException"):
        problems.append("lambda_eval_utils.LambdaFunctionErrorException is gone")
    if "applicationautoscaling" in StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES:
        problems.append("moto now maps aws-sdk:applicationautoscaling itself: remove the emulator's mapping")
    return problems
