"""What the fault-injection tests share: packages, executions, handler invocations and the endpoint's live model.

Everything runs the real ASL and the real handlers in moto with local_twin.emulator; faults are injected only through
``emulator.faults`` (local_twin/emulator.py), never by patching a test's own way around the code.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from typing import Any

import boto3

from tests.integration.statemachine.stack import REGION, Stack, wait_for_execution
from tests.integration.statemachine.test_deploy_path import ApprovalStatus, register_package

ENDPOINT = "abalone-mlops-endpoint"
LoadEvent = Callable[[str], dict[str, Any]]

__all__ = ["ApprovalStatus", "register_package"]


def sagemaker() -> Any:
    return boto3.client("sagemaker", region_name=REGION)


def sfn() -> Any:
    return boto3.client("stepfunctions", region_name=REGION)


def start(stack: Stack, name: str, **fields: Any) -> str:
    execution_input = {"Mode": "deploy", **fields}
    arn: str = sfn().start_execution(
        stateMachineArn=stack.state_machine_arn, name=name, input=json.dumps(execution_input)
    )["executionArn"]
    return arn


def deploy(stack: Stack, name: str, **fields: Any) -> dict[str, Any]:
    return wait_for_execution(start(stack, name, **fields))


def history(execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = sfn().get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return events


def live_config() -> str:
    return str(sagemaker().describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"])


def live_package() -> str:
    """The model package the endpoint serves now (endpoint → config → model → package)."""
    client = sagemaker()
    config = client.describe_endpoint_config(EndpointConfigName=live_config())
    model = client.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    return str(model["PrimaryContainer"]["ModelPackageName"])


def set_status(package_arn: str, status: ApprovalStatus) -> None:
    sagemaker().update_model_package(ModelPackageArn=package_arn, ModelApprovalStatus=status)


def state_change_event(
    load_event: LoadEvent, package_arn: str, status: ApprovalStatus, event_id: str
) -> dict[str, Any]:
    """The EventBridge event SageMaker sends for a package's state change (events/on_model_approved/*.json)."""
    event = copy.deepcopy(load_event("on_model_approved/approved.json"))
    event["id"] = event_id
    event["resources"] = [package_arn]
    event["detail"].update(
        ModelPackageArn=package_arn,
        ModelPackageVersion=int(package_arn.rsplit("/", 1)[1]),
        ModelApprovalStatus=status,
    )
    return event


def invoke(function: str, event: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Invoke a function of the stack (the emulator runs its template Handler): (payload, FunctionError or None)."""
    answer = boto3.client("lambda", region_name=REGION).invoke(FunctionName=function, Payload=json.dumps(event))
    payload: dict[str, Any] = json.loads(answer["Payload"].read() or b"{}")
    return payload, answer.get("FunctionError")


def executions(stack: Stack) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = sfn().list_executions(stateMachineArn=stack.state_machine_arn)["executions"]
    return listed


def subjects(stack: Stack) -> list[str]:
    return [n["Subject"] for n in stack.notifications()]


def wait_until(condition: Callable[[], bool], what: str, max_checks: int = 600) -> None:
    """Poll a condition (a bound on the number of checks, not a timing assertion)."""
    for _ in range(max_checks):
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what}: not reached after {max_checks} checks")
