"""The error names Step Functions reports for Task states (local_twin.emulator.stepfunctions; the rules and their
sources: docs/reliability.md, "Error names"), as a failed execution's ``error`` / ``cause`` and as a Catch's
ResultPath sees them; and what AWS gives an execution that moto does not (a UUID name, an ISO 8601
``$$.Execution.StartTime``, "Step Functions Execution Status Change" events).

AWS errors are injected with ``aws.faults.api_error`` into the very calls the interpreter makes to the emulated APIs.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from local_twin.emulator import ACCOUNT_ID, REGION, Emulator, Faults
from local_twin.emulator.error_names import LAMBDA_UNKNOWN_CAUSE, function_error
from tests.integration.emulator.conftest import Resources, unique

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/emulator-tests"
SDK_CAUSE = r"(?P<message>.*) \(Service: {service}, Status Code: 400, Request ID: (?P<request_id>[A-Za-z0-9-]+)\)"
V1_CAUSE = (
    r"(?P<message>.*) \(Service: {service}; Status Code: 400; Error Code: {code}; "
    r"Request ID: (?P<request_id>[A-Za-z0-9-]+); Proxy: null\)"
)


def task(resource: str, parameters: dict[str, Any] | None = None, catch: str | None = None) -> dict[str, Any]:
    """A one-Task machine; with ``catch``, a Catch of that error name puts the error at ``$.caught``."""
    state: dict[str, Any] = {"Type": "Task", "Resource": resource, "End": True}
    if parameters is not None:
        state["Parameters"] = parameters
    states: dict[str, Any] = {"Call": state}
    if catch is not None:
        state["Catch"] = [{"ErrorEquals": [catch], "ResultPath": "$.caught", "Next": "Caught"}]
        states["Caught"] = {"Type": "Pass", "End": True}
    return {"StartAt": "Call", "States": states}


def outcome(execution: dict[str, Any], caught: bool) -> tuple[str, str]:
    """(error, cause) of a failed execution, or of the Catch that caught the error."""
    if caught:
        assert execution["status"] == "SUCCEEDED", execution
        error = json.loads(execution["output"])["caught"]
        return error["Error"], error["Cause"]
    assert execution["status"] == "FAILED", execution
    return execution["error"], execution["cause"]


@dataclass(frozen=True)
class Case:
    service: str  # moto's service name, as faults.api_error takes it
    action: str
    code: str  # the AWS error code answered
    resource: str
    parameters: dict[str, Any]
    error: str  # the name Step Functions reports
    cause: str  # a pattern of the cause


DESCRIBE_EXECUTION = {"PipelineExecutionArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:pipeline/p/execution/e"}
DESCRIBE_GROUP = {"ModelPackageGroupName": "emulator-tests-group"}
CREATE_MODEL = {"ModelName": "emulator-tests-model", "ExecutionRoleArn": ROLE, "PrimaryContainer": {"Image": "x"}}
SCALING_POLICY = {
    "PolicyName": "p",
    "ServiceNamespace": "sagemaker",
    "ResourceId": "endpoint/e/variant/AllTraffic",
    "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
}
CASES = {
    # aws-sdk (AWS SDK for Java v2): an error the operation declares keeps its name (+ "Exception") ...
    "aws-sdk declared": Case(
        "sagemaker",
        "DescribePipelineExecution",
        "ResourceNotFound",
        "arn:aws:states:::aws-sdk:sagemaker:describePipelineExecution",
        DESCRIBE_EXECUTION,
        "SageMaker.ResourceNotFoundException",
        SDK_CAUSE.format(service="SageMaker"),
    ),
    # ... anything else is the SDK's base exception of the service
    "aws-sdk throttling": Case(
        "sagemaker",
        "DescribeModelPackageGroup",
        "ThrottlingException",
        "arn:aws:states:::aws-sdk:sagemaker:describeModelPackageGroup",
        DESCRIBE_GROUP,
        "SageMaker.SageMakerException",
        SDK_CAUSE.format(service="SageMaker"),
    ),
    "aws-sdk validation": Case(
        "sagemaker",
        "DescribeModelPackageGroup",
        "ValidationException",
        "arn:aws:states:::aws-sdk:sagemaker:describeModelPackageGroup",
        DESCRIBE_GROUP,
        "SageMaker.SageMakerException",
        SDK_CAUSE.format(service="SageMaker"),
    ),
    # ResourceNotFound is a SageMaker shape, but DescribeModelPackageGroup does not declare it: mapped by the
    # operation's errors (the emulator's documented rule, inferred from the SDK's per-operation error mapping)
    "aws-sdk undeclared by the operation": Case(
        "sagemaker",
        "DescribeModelPackageGroup",
        "ResourceNotFound",
        "arn:aws:states:::aws-sdk:sagemaker:describeModelPackageGroup",
        DESCRIBE_GROUP,
        "SageMaker.SageMakerException",
        SDK_CAUSE.format(service="SageMaker"),
    ),
    "aws-sdk application auto scaling": Case(
        "application-autoscaling",
        "DeleteScalingPolicy",
        "ObjectNotFoundException",
        "arn:aws:states:::aws-sdk:applicationautoscaling:deleteScalingPolicy",
        SCALING_POLICY,
        "ApplicationAutoScaling.ObjectNotFoundException",
        SDK_CAUSE.format(service="ApplicationAutoScaling"),
    ),
    # optimised (AWS SDK for Java v1): a service-wide declared error keeps its name, anything else the v1 base class
    "optimised declared": Case(
        "sagemaker",
        "CreateModel",
        "ResourceLimitExceeded",
        "arn:aws:states:::sagemaker:createModel",
        CREATE_MODEL,
        "SageMaker.ResourceLimitExceededException",
        V1_CAUSE.format(service="AmazonSageMaker", code="ResourceLimitExceeded"),
    ),
    "optimised throttling": Case(
        "sagemaker",
        "CreateModel",
        "ThrottlingException",
        "arn:aws:states:::sagemaker:createModel",
        CREATE_MODEL,
        "SageMaker.AmazonSageMakerException",
        V1_CAUSE.format(service="AmazonSageMaker", code="ThrottlingException"),
    ),
}


@pytest.mark.parametrize("caught", [False, True], ids=["failed", "caught"])
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_an_injected_aws_error_gets_the_name_step_functions_gives_it(
    resources: Resources, faults: Faults, case: Case, caught: bool
) -> None:
    message = unique("injected")
    fault = faults.api_error(case.service, case.action, case.code, message, times=1)

    execution = resources.execute(task(case.resource, case.parameters, catch=case.error if caught else None))

    error, cause = outcome(execution, caught)
    assert fault.injected == 1  # the error came from the call the Task made
    assert error == case.error
    matched = re.fullmatch(case.cause, cause)
    assert matched is not None, cause
    assert matched["message"] == message
    if case.resource.startswith("arn:aws:states:::aws-sdk:"):
        assert "Error Code" not in cause  # the v2 format names no code


def test_an_aws_error_of_a_real_call_is_named_too(resources: Resources) -> None:
    """Not injected: moto's own ValidationException for a group that does not exist (SageMaker's "not found")."""
    execution = resources.execute(
        task("arn:aws:states:::aws-sdk:sagemaker:describeModelPackageGroup", {"ModelPackageGroupName": unique("no")})
    )

    error, cause = outcome(execution, caught=False)
    assert error == "SageMaker.SageMakerException"
    assert re.fullmatch(SDK_CAUSE.format(service="SageMaker"), cause), cause


# --- Lambda tasks ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def functions(resources: Resources) -> dict[str, str]:
    """The probe function, and one with a one-second timeout: their ARNs."""
    return {
        "probe": resources.function_arn(resources.function()),
        "slow": resources.function_arn(resources.function(timeout=1)),
    }


def lambda_task(style: str, function_arn: str, payload: dict[str, Any], catch: str | None = None) -> dict[str, Any]:
    """``lambda:invoke`` with the payload as Parameters, or the function's ARN as Resource with the payload as input."""
    if style == "lambda:invoke":
        return task("arn:aws:states:::lambda:invoke", {"FunctionName": function_arn, "Payload": payload}, catch)
    return task(function_arn, None, catch)


STYLES = ["lambda:invoke", "function ARN"]


@pytest.mark.parametrize("caught", [False, True], ids=["failed", "caught"])
@pytest.mark.parametrize("style", STYLES)
def test_a_function_error_is_named_by_its_error_type_with_the_payload_as_cause(
    resources: Resources, functions: dict[str, str], style: str, caught: bool
) -> None:
    event = {"action": "raise", "message": "the weight is negative"}

    execution = resources.execute(
        lambda_task(style, functions["probe"], event, catch="ValueError" if caught else None), event
    )

    error, cause = outcome(execution, caught)
    assert error == "ValueError"
    payload = json.loads(cause)
    assert list(payload) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert (payload["errorType"], payload["errorMessage"]) == ("ValueError", "the weight is negative")


@pytest.mark.parametrize("style", STYLES)
def test_a_function_timeout_is_sandbox_timedout(resources: Resources, functions: dict[str, str], style: str) -> None:
    event = {"action": "sleep", "seconds": 20}

    execution = resources.execute(lambda_task(style, functions["slow"], event), event)

    error, cause = outcome(execution, caught=False)
    assert error == "Sandbox.Timedout"
    payload = json.loads(cause)
    assert payload["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(r"RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds", payload["errorMessage"])


def test_invoking_a_function_that_does_not_exist_is_a_lambda_service_error(resources: Resources) -> None:
    missing = resources.function_arn(unique("emulator-tests-missing"))

    execution = resources.execute(lambda_task("lambda:invoke", missing, {}))

    error, cause = outcome(execution, caught=False)
    assert error == "Lambda.ResourceNotFoundException"
    assert re.fullmatch(
        V1_CAUSE.replace("400", "404").format(service="AWSLambda", code="ResourceNotFoundException"), cause
    )


def test_an_error_payload_without_error_type_is_lambda_unknown() -> None:
    payload = '{"errorMessage":"2026-11-26T00:36:39.604Z 5b1c368c Task timed out after 600.15 seconds"}'

    assert function_error(payload) == ("Lambda.Unknown", LAMBDA_UNKNOWN_CAUSE + payload)
    assert function_error('{"errorType":"KeyError","errorMessage":"x"}') == (
        "KeyError",
        '{"errorType":"KeyError","errorMessage":"x"}',
    )


# --- executions ------------------------------------------------------------------------------------------------------
def test_an_unnamed_execution_gets_a_uuid_name(aws: Emulator, resources: Resources) -> None:
    machine = resources.state_machine({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    sfn = aws.client("stepfunctions")

    arns = [sfn.start_execution(stateMachineArn=machine)["executionArn"] for _ in range(2)]

    names = [sfn.describe_execution(executionArn=arn)["name"] for arn in arns]
    assert names[0] != names[1]
    for arn, name in zip(arns, names, strict=True):
        assert str(uuid.UUID(name)) == name
        assert arn.endswith(f":{name}")


def test_the_execution_start_time_in_the_context_object_is_an_iso_8601_string(resources: Resources) -> None:
    definition = {
        "StartAt": "Read",
        "States": {
            "Read": {
                "Type": "Pass",
                "Parameters": {
                    "start.$": "$$.Execution.StartTime",
                    "label.$": "States.Format('run-{}', $$.Execution.StartTime)",
                },
                "End": True,
            }
        },
    }

    execution = resources.execute(definition)

    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert isinstance(output["start"], str) and ISO_UTC.match(output["start"]), output
    assert output["label"] == f"run-{output['start']}"


# --- "Step Functions Execution Status Change" events ----------------------------------------------------------------
STATUS_CHANGE = "Step Functions Execution Status Change"
ORDER = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]


def inbox_for(resources: Resources, machine: str) -> str:
    """A queue that an ENABLED rule for the machine's status changes on the default bus targets: its URL."""
    url, queue_arn = resources.queue()
    resources.rule(
        {"source": ["aws.states"], "detail-type": [STATUS_CHANGE], "detail": {"stateMachineArn": [machine]}},
        [{"Id": "inbox", "Arn": queue_arn}],
    )
    return url


def received(resources: Resources, url: str, count: int) -> list[dict[str, Any]]:
    """The events, start first (EventBridge does not promise an order)."""
    events = [json.loads(message["Body"]) for message in resources.receive(url, count)]
    return sorted(events, key=lambda event: ORDER.index(event["detail"]["status"]))


def test_an_execution_sends_its_start_and_its_end_with_describe_executions_fields(
    aws: Emulator, resources: Resources
) -> None:
    machine = resources.state_machine(
        {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": {"ok": True}, "End": True}}}
    )
    inbox = inbox_for(resources, machine)
    sfn = aws.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=machine, name="status-events", input='{"a": 1}')["executionArn"]

    started, ended = received(resources, inbox, 2)

    described = sfn.describe_execution(executionArn=arn)
    for event in (started, ended):
        assert (event["source"], event["detail-type"], event["account"], event["region"]) == (
            "aws.states",
            STATUS_CHANGE,
            ACCOUNT_ID,
            aws.region,
        )
        assert event["resources"] == [arn]
        assert {key: event["detail"][key] for key in ("executionArn", "stateMachineArn", "name")} == {
            "executionArn": arn,
            "stateMachineArn": machine,
            "name": "status-events",
        }
        assert json.loads(event["detail"]["input"]) == {"a": 1}
        assert event["detail"]["startDate"] == int(described["startDate"].timestamp() * 1000)
    assert (started["detail"]["status"], started["detail"]["stopDate"], started["detail"]["output"]) == (
        "RUNNING",
        None,
        None,
    )
    assert ended["detail"]["status"] == "SUCCEEDED"
    assert ended["detail"]["stopDate"] == int(described["stopDate"].timestamp() * 1000)
    assert json.loads(ended["detail"]["output"]) == json.loads(described["output"]) == {"ok": True}


def test_a_failed_execution_sends_failed_with_its_error_and_no_output(resources: Resources) -> None:
    machine = resources.state_machine(
        {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Broken", "Cause": "on purpose"}}}
    )
    inbox = inbox_for(resources, machine)
    resources.aws.client("stepfunctions").start_execution(stateMachineArn=machine)

    _, ended = received(resources, inbox, 2)

    detail = ended["detail"]
    assert (detail["status"], detail["error"], detail["cause"], detail["output"]) == (
        "FAILED",
        "Broken",
        "on purpose",
        None,
    )


def test_a_stopped_execution_sends_aborted(aws: Emulator, resources: Resources) -> None:
    machine = resources.state_machine(
        {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 60, "End": True}}}
    )
    inbox = inbox_for(resources, machine)
    sfn = aws.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    sfn.stop_execution(executionArn=arn, cause="by hand")

    _, ended = received(resources, inbox, 2)

    assert ended["detail"]["status"] == "ABORTED"
    assert ended["detail"]["executionArn"] == arn


def test_an_execution_is_at_work_until_its_interpreter_ends_even_once_stopped(
    aws: Emulator, resources: Resources
) -> None:
    machine = resources.state_machine(
        {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 60, "End": True}}}
    )
    sfn = aws.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    assert arn in aws.executions.running()

    sfn.stop_execution(executionArn=arn)
    aws.executions.wait_until_idle(timeout=30)

    assert arn not in aws.executions.running()
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
