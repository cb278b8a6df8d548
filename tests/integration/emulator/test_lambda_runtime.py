"""The emulated Lambda runs functions as Lambda does (local_twin.emulator.lambda_runtime): a python3.13 sandbox per
concurrent invocation, with the package, its layers and the runtime only, its own environment, and Lambda's answers
for errors, timeouts, crashes and asynchronous invocations.

Every call goes through moto's Lambda API (boto3 ``invoke``), as the stack's callers make it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from local_twin.emulator import RUNTIME_DIR, Emulator, InvocationRecord
from tests.integration.emulator.conftest import FIXTURES, Resources, unique

LAYER = FIXTURES / "layer"


def invoke(aws: Emulator, function: str, event: dict[str, Any], **kwargs: Any) -> tuple[dict[str, Any], Any]:
    """Invoke through the API: (the response without its payload stream, the decoded payload)."""
    response = dict(aws.client("lambda").invoke(FunctionName=function, Payload=json.dumps(event), **kwargs))
    raw = response.pop("Payload").read()
    return response, json.loads(raw) if raw else None


def request_id(response: dict[str, Any]) -> str:
    return str(response["ResponseMetadata"]["RequestId"])


def records(aws: Emulator, function: str) -> list[InvocationRecord]:
    return [record for record in list(aws.lambdas.records) if record.function == function]


@pytest.fixture(scope="module")
def probe(resources: Resources) -> str:
    """The probe package with a layer and variables of its own."""
    return resources.function(layers=[LAYER], environment={"EMULATOR_TEST_SECRET": unique("only-in-the-sandbox")})


# --- the sandbox -----------------------------------------------------------------------------------------------------
def test_the_handler_runs_under_python_3_13_with_only_the_package_its_layers_and_the_runtime(
    aws: Emulator, probe: str
) -> None:
    response, sandbox = invoke(aws, probe, {"action": "info"})

    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert sandbox["version"][:2] == [3, 13]
    stdlib = tuple(sandbox["stdlib"])
    stdlib_root = str(Path(stdlib[0]).parent)  # .../lib: the zip, the standard library and lib-dynload
    outside_stdlib = [path for path in sandbox["path"] if not path.startswith(stdlib_root)]
    assert outside_stdlib == [
        str(FIXTURES / "probe"),  # /var/task
        str(LAYER / "python" / "lib" / "python3.13" / "site-packages"),  # /opt/python/lib/python3.13/site-packages
        str(LAYER / "python"),  # /opt/python
        str(RUNTIME_DIR / "python"),  # the runtime's boto3 and awslambdaric (/var/runtime)
    ]
    assert not any("site-packages" in path for path in sandbox["path"] if path.startswith(stdlib_root))


def test_the_projects_packages_are_not_importable_in_the_function_but_the_layers_are(aws: Emulator, probe: str) -> None:
    assert importlib.util.find_spec("pandas") is not None, "pandas must be importable here for this test to mean much"

    _, pandas = invoke(aws, probe, {"action": "import", "module": "pandas"})
    _, layer = invoke(aws, probe, {"action": "import", "module": "layer_module"})
    _, site = invoke(aws, probe, {"action": "import", "module": "layer_site_module"})

    assert pandas == {"imported": False, "error": "ModuleNotFoundError", "message": "No module named 'pandas'"}
    assert layer == {"imported": True, "file": str(LAYER / "python" / "layer_module.py")}
    assert site["imported"] is True


def test_the_functions_environment_exists_in_the_sandbox_only(aws: Emulator, probe: str) -> None:
    response, sandbox = invoke(aws, probe, {"action": "info"})
    environ = sandbox["environ"]
    arn = aws.client("lambda").get_function(FunctionName=probe)["Configuration"]["FunctionArn"]

    secret = environ["EMULATOR_TEST_SECRET"]
    assert secret.startswith("only-in-the-sandbox-")
    assert "EMULATOR_TEST_SECRET" not in os.environ
    assert "PYTEST_CURRENT_TEST" in os.environ and "PYTEST_CURRENT_TEST" not in environ  # nothing leaks in either
    assert {
        key: environ.get(key)
        for key in (
            "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "AWS_LAMBDA_INITIALIZATION_TYPE",
            "AWS_EXECUTION_ENV",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "LAMBDA_TASK_ROOT",
            "_HANDLER",
            "TZ",
        )
    } == {
        "AWS_LAMBDA_FUNCTION_NAME": probe,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{probe}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_REGION": aws.region,
        "AWS_DEFAULT_REGION": aws.region,
        "LAMBDA_TASK_ROOT": str(FIXTURES / "probe"),
        "_HANDLER": "app.handler",
        "TZ": ":UTC",
    }
    assert environ["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert environ["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert environ["AWS_ENDPOINT_URL"] == aws.url  # the function's SDK calls reach the emulated account only
    # The context object, and Invoke's request ID, are the invocation's.
    assert (sandbox["function_name"], sandbox["invoked_arn"]) == (probe, arn)
    assert sandbox["request_id"] == request_id(response)


# --- errors ----------------------------------------------------------------------------------------------------------
def test_an_exception_is_an_unhandled_function_error_with_the_runtimes_error_document(
    aws: Emulator, probe: str
) -> None:
    response, error = invoke(aws, probe, {"action": "raise", "message": "the weight is negative"})

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert list(error) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "the weight is negative"
    assert error["requestId"] == request_id(response)
    assert all(isinstance(frame, str) for frame in error["stackTrace"])
    assert any("app.py" in frame and "raise ValueError" in frame for frame in error["stackTrace"])
    [record] = [r for r in records(aws, probe) if r.request_id == request_id(response)]
    assert (record.error_type, record.error_message, record.asynchronous) == (
        "ValueError",
        "the weight is negative",
        False,
    )


def test_a_timeout_ends_the_sandbox_with_sandbox_timedout_and_the_next_call_cold_starts(
    aws: Emulator, resources: Resources
) -> None:
    function = resources.function(timeout=1)
    _, before = invoke(aws, function, {"action": "info"})

    response, error = invoke(aws, function, {"action": "sleep", "seconds": 20})
    after_response, after = invoke(aws, function, {"action": "info"})

    assert response["FunctionError"] == "Unhandled"
    assert error == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {request_id(response)} Error: Task timed out after 1.00 seconds",
    }
    assert "FunctionError" not in after_response
    assert after["pid"] != before["pid"]  # a new sandbox
    [record] = [r for r in records(aws, function) if r.request_id == request_id(after_response)]
    assert record.cold_start is True


def test_a_module_that_cannot_be_imported_is_the_runtimes_init_error(aws: Emulator, resources: Resources) -> None:
    function = resources.function("broken_import")

    response, error = invoke(aws, function, {})

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"] == "Unable to import module 'app': No module named 'pandas'"


def test_a_handler_that_exits_is_runtime_exit_error_and_the_next_call_cold_starts(
    aws: Emulator, resources: Resources
) -> None:
    function = resources.function()

    response, error = invoke(aws, function, {"action": "exit", "code": 3})
    next_response, _ = invoke(aws, function, {"action": "info"})

    assert response["FunctionError"] == "Unhandled"
    assert error == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id(response)} Error: Runtime exited with error: exit status 3",
    }
    assert "FunctionError" not in next_response
    [record] = [r for r in records(aws, function) if r.request_id == request_id(next_response)]
    assert record.cold_start is True


def test_a_module_that_exits_while_imported_is_runtime_exit_error_not_a_timeout(
    aws: Emulator, resources: Resources
) -> None:
    function = resources.function("exit_on_import", timeout=30)

    response, error = invoke(aws, function, {})

    assert response["FunctionError"] == "Unhandled"
    assert error == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id(response)} Error: Runtime exited with error: exit status 2",
    }


# --- concurrency -----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pair(resources: Resources) -> tuple[str, str]:
    """Two functions with the same variable set to different values."""
    return (
        resources.function(environment={"EMULATOR_TEST_WHO": "first"}),
        resources.function(environment={"EMULATOR_TEST_WHO": "second"}),
    )


@pytest.mark.parametrize("round_", range(20))
def test_concurrent_invocations_each_get_a_sandbox_and_their_own_environment(
    aws: Emulator, pair: tuple[str, str], tmp_path: Path, round_: int
) -> None:
    """Four invocations at once -- two of each function -- that each wait for all four to have started: they can only
    all succeed with four sandboxes, and each must see its own function's variable (the old in-process dispatch
    swapped ``os.environ`` and raced). Twenty rounds, on warm and cold sandboxes."""
    first, second = pair
    calls = [first, first, second, second]
    event = {"action": "rendezvous", "rendezvous": str(tmp_path), "expected": len(calls)}
    start = threading.Barrier(len(calls))
    client = aws.client("lambda")  # clients are thread-safe, making them is not

    def call(function: str) -> tuple[dict[str, Any], Any]:
        start.wait()
        response = dict(client.invoke(FunctionName=function, Payload=json.dumps(event)))
        return response, json.loads(response.pop("Payload").read())

    with ThreadPoolExecutor(len(calls)) as pool:
        answers = list(pool.map(call, calls))

    assert [response.get("FunctionError") for response, _ in answers] == [None] * 4, answers
    assert [sandbox["environ"]["EMULATOR_TEST_WHO"] for _, sandbox in answers] == ["first", "first", "second", "second"]
    assert [sandbox["seen"] for _, sandbox in answers] == [4] * 4  # all four ran at the same time
    assert len({sandbox["pid"] for _, sandbox in answers}) == 4
    assert "EMULATOR_TEST_WHO" not in os.environ


# --- asynchronous invocation -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("retries", [0, 2])
def test_a_failing_asynchronous_invocation_is_retried_then_sent_to_the_dead_letter_queue(
    aws: Emulator, resources: Resources, retries: int
) -> None:
    queue_url, queue_arn = resources.queue()
    function = resources.function(dead_letter_arn=queue_arn, max_retry_attempts=retries)
    message = unique("always fails")
    event = {"action": "raise", "message": message}

    response, payload = invoke(aws, function, event, InvocationType="Event")
    aws.lambdas.wait_for_async()

    assert (response["StatusCode"], payload) == (202, None)
    attempts = records(aws, function)
    assert len(attempts) == 1 + retries
    assert {(r.request_id, r.asynchronous, r.error_type, r.error_message) for r in attempts} == {
        (request_id(response), True, "ValueError", message)  # every retry keeps the request ID, as Lambda's do
    }
    assert all(r.event == event for r in attempts)
    [dead_letter] = resources.receive(queue_url, 1)
    assert json.loads(dead_letter["Body"]) == event  # the event, unchanged
    assert dead_letter["MessageAttributes"] == {
        "RequestID": {"DataType": "String", "StringValue": request_id(response)},
        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
        "ErrorMessage": {"DataType": "String", "StringValue": message},
    }


def test_a_successful_asynchronous_invocation_runs_once_and_sends_no_dead_letter(
    aws: Emulator, resources: Resources
) -> None:
    queue_url, queue_arn = resources.queue()
    function = resources.function(dead_letter_arn=queue_arn)

    response, _ = invoke(aws, function, {"action": "info"}, InvocationType="Event")
    aws.lambdas.wait_for_async()

    [record] = records(aws, function)
    assert (record.request_id, record.asynchronous, record.error_type) == (request_id(response), True, None)
    assert record.response["request_id"] == request_id(response)
    assert resources.queue_is_empty(queue_url)


def test_every_invocation_is_recorded(aws: Emulator, resources: Resources) -> None:
    function = resources.function()
    calls: list[Callable[[], tuple[dict[str, Any], Any]]] = [
        lambda: invoke(aws, function, {"action": "info"}),
        lambda: invoke(aws, function, {"action": "raise", "message": "recorded"}),
    ]

    responses = [call()[0] for call in calls]

    recorded = records(aws, function)
    assert [(r.request_id, r.event["action"], r.error_type) for r in recorded] == [
        (request_id(responses[0]), "info", None),
        (request_id(responses[1]), "raise", "ValueError"),
    ]
    assert recorded[0].cold_start is True and recorded[1].cold_start is False
    assert recorded[0].response["function_name"] == function
