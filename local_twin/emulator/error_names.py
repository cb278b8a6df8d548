"""The error names a Step Functions Task state reports -- what a Retry or Catch can match -- by integration.

Botocore only (no moto): the emulator reports failures under these names (:mod:`local_twin.emulator.stepfunctions`)
and the security gates check that every name an ASL file retries or catches is one AWS can report
(:func:`task_error_names`). The rule, its sources, and what is inferred:

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
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass

import botocore.session
from botocore.exceptions import ClientError

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
    if operation is not None and operation not in model.operation_names:
        return {}  # an action botocore does not know declares nothing: every error is the service's base exception
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


# --- what a Task can report, for the security gates ------------------------------------------------------------------
# The Step Functions guide's error names ("Error names" in "Handling errors in Step Functions workflows").
STATES_ERRORS = frozenset(
    {
        "States.ALL",
        "States.TaskFailed",
        "States.Timeout",
        "States.HeartbeatTimeout",
        "States.Permissions",
        "States.ResultPathMatchFailure",
        "States.ParameterPathFailure",
        "States.IntrinsicFailure",
        "States.BranchFailed",
        "States.NoChoiceMatched",
    }
)
# The guide's retry example for Lambda service errors ("Handling transient Lambda service exceptions"): the AWS SDK
# for Java v1 client exceptions Step Functions reports besides the service's declared errors.
LAMBDA_TRANSIENT = frozenset(
    {
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
        "Lambda.ClientExecutionTimeoutException",
    }
)
_LAMBDA_FUNCTION_FAILURES = frozenset({"Lambda.Unknown", "Sandbox.Timedout"})
_SDK_RESOURCE = re.compile(r":states:::aws-sdk:(?P<service>[a-z0-9]+):(?P<action>[A-Za-z0-9]+)$")
_OPTIMISED_RESOURCE = re.compile(
    r":states:::(?P<service>[a-z0-9]+):(?P<action>[A-Za-z0-9]+)(?:\.sync(?::2)?|\.waitForTaskToken)?$"
)
_FUNCTION_ARN = re.compile(r"^arn:[a-z-]+:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(?::[A-Za-z0-9_$-]+)?$")


@dataclass(frozen=True)
class TaskErrors:
    """The error names a Task state can report: ``names``, and for a Lambda task any ``errorType`` its function
    raises (``function_errors``); ``transient`` are those the integration reports for throttling and service faults,
    which every such Task should retry."""

    names: frozenset[str]
    transient: frozenset[str]
    function_errors: bool = False

    def can_report(self, name: str) -> bool:
        if name.startswith("States."):
            return name in STATES_ERRORS
        if name in self.names:
            return True
        # A function's own error type (``InvalidInput``) carries no service prefix; Lambda.* / SageMaker.* names do.
        return self.function_errors and not _has_service_prefix(name)


def _has_service_prefix(name: str) -> bool:
    prefixes = {prefix for _, prefix in SDK_SERVICES.values()} | {p for _, p, _, _ in OPTIMISED_SERVICES.values()}
    return name.split(".", 1)[0] in prefixes | {"Sandbox"} and "." in name


def task_error_names(resource: str) -> TaskErrors:
    """What a Task with this (substituted) ``Resource`` can report, by the rules of this module's docstring.

    Raises :class:`UnnamedService` for an integration whose names are not in the tables (add it from the guide).
    """
    if _FUNCTION_ARN.match(resource) or resource.endswith(":states:::lambda:invoke"):
        declared = {f"Lambda.{_with_suffix(shape)}" for shape in _declared_errors("lambda", None).values()}
        return TaskErrors(
            frozenset(declared | LAMBDA_TRANSIENT | _LAMBDA_FUNCTION_FAILURES), LAMBDA_TRANSIENT, function_errors=True
        )
    if match := _SDK_RESOURCE.search(resource):
        service, action = match["service"], match["action"]
        if service not in SDK_SERVICES:
            raise UnnamedService(f"aws-sdk:{service}: its Step Functions error prefix is not in SDK_SERVICES")
        boto_service, prefix = SDK_SERVICES[service]
        operation = action[:1].upper() + action[1:]
        catch_all = f"{prefix}.{prefix}Exception"
        declared = {f"{prefix}.{_with_suffix(shape)}" for shape in _declared_errors(boto_service, operation).values()}
        return TaskErrors(frozenset(declared | {catch_all}), frozenset({catch_all}))
    if match := _OPTIMISED_RESOURCE.search(resource):
        service = match["service"]
        if service not in OPTIMISED_SERVICES:
            raise UnnamedService(f"arn:aws:states:::{service}: its error names are not in OPTIMISED_SERVICES")
        boto_service, prefix, base, _ = OPTIMISED_SERVICES[service]
        declared = {f"{prefix}.{_with_suffix(shape)}" for shape in _declared_errors(boto_service, None).values()}
        return TaskErrors(frozenset(declared | {f"{prefix}.{base}"}), frozenset({f"{prefix}.{base}"}))
    raise UnnamedService(f"{resource}: not a Lambda function, an aws-sdk or an optimised integration")
