"""State transitions of a deploy execution (what Step Functions Standard bills), counted from its history.

Two executions of the deploy path run in the emulator, from the template's own state machine and functions (as in
``make local``): one where the endpoint is InService at the first poll (the count *excluding poll iterations*, goal
≤ 25), and one where DescribeEndpoint answers ``Creating`` for a few polls first. Their difference gives the
transitions one more poll costs, measured rather than read off the ASL. The count for a simulated 10-minute endpoint
creation then follows from the template's default poll interval (PollIntervalSeconds): with creation taking T
seconds and a poll every I seconds, the poll that finds the endpoint InService is the ceil(T / I)-th, so
ceil(T / I) - 1 polls more than the first.

Waits run with PollSeconds 0 here (the execution input may set it): only the count matters, not the sleeping.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

from bench.core import FigureSpec, Measurement
from bench.paths import BenchError

TRANSITIONS_GOAL = 25
SIMULATED_CREATION_SECONDS = 600
EXTRA_POLLS = 3
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"

WITHOUT_POLLS_SPEC = FigureSpec(
    "deploy.endpoint.transitions_without_polls",
    "transitions",
    TRANSITIONS_GOAL,
    description="deploy execution history, endpoint InService at the first poll",
)
PER_POLL_SPEC = FigureSpec("deploy.endpoint.transitions_per_poll", "transitions")
TEN_MINUTES_SPEC = FigureSpec(
    "deploy.endpoint.transitions_10min_creation",
    "transitions",
    description="10-minute endpoint creation, template's default poll interval",
)
BATCH_SPEC = FigureSpec("deploy.batch.transitions_without_polls", "transitions", TRANSITIONS_GOAL)


def transitions(history: Sequence[Mapping[str, Any]]) -> int:
    """Billed state transitions: one per state entered (the history's ``...StateEntered`` events)."""
    return sum(1 for event in history if str(event.get("type", "")).endswith("StateEntered"))


def per_poll(base: int, with_polls: int, extra_polls: int) -> float:
    if extra_polls <= 0:
        raise ValueError("extra_polls must be positive")
    if with_polls <= base:
        raise BenchError(
            f"{extra_polls} extra polls added no transitions ({base} → {with_polls}): the loop did not run"
        )
    return (with_polls - base) / extra_polls


def polls_for(creation_seconds: float, interval_seconds: float) -> int:
    """How many polls see a creation that takes ``creation_seconds`` through: the last one finds it done."""
    if interval_seconds <= 0:
        raise ValueError("the poll interval must be positive to simulate a creation time")
    return max(1, math.ceil(creation_seconds / interval_seconds))


def with_simulated_creation(base: int, per_poll_transitions: float, creation_seconds: float, interval: float) -> float:
    return base + (polls_for(creation_seconds, interval) - 1) * per_poll_transitions


def default_poll_interval() -> int:
    from cfn import load_template

    return int(load_template()["Parameters"]["PollIntervalSeconds"]["Default"])


@dataclass
class _Creating:
    """DescribeEndpoint answers ``Creating`` for the next ``remaining`` calls, as SageMaker does while it provisions."""

    remaining: int = 0
    calls: int = 0


@contextmanager
def _endpoint_creating(state: _Creating) -> Iterator[None]:
    from moto.sagemaker.models import SageMakerModelBackend

    original = SageMakerModelBackend.describe_endpoint

    def describe_endpoint(self: Any, endpoint_name: str) -> dict[str, Any]:
        answer = dict(original(self, endpoint_name))
        state.calls += 1
        if state.remaining > 0:
            state.remaining -= 1
            answer["EndpointStatus"] = "Creating"
        return answer

    with mock.patch.object(SageMakerModelBackend, "describe_endpoint", describe_endpoint):
        yield


@contextmanager
def _quiet_emulator() -> Iterator[None]:
    """The emulator logs a warning per forwarded SageMaker task; the table is what a bench run shows."""
    loggers = [logging.getLogger(name) for name in ("moto", "werkzeug")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class DeployRunner:
    """The template's stack in a fresh emulator, and deploy executions against it."""

    def __init__(self, emulator: Any, stack: Any) -> None:
        self.emulator = emulator
        self.stack = stack
        self.sfn = emulator.client("stepfunctions")
        self.sagemaker = emulator.client("sagemaker")
        self.state_machine_arn = stack.ref(stack.only("AWS::StepFunctions::StateMachine"))
        group = stack.ref(stack.only("AWS::SageMaker::ModelPackageGroup"))
        self.package_arn = self.sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus="Approved",
            InferenceSpecification={
                "Containers": [
                    {"Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://{stack.ref(stack.only('AWS::S3::Bucket'))}/m.tgz"}
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]

    def deploy(self, name: str, target: str) -> int:
        execution_input = {"Mode": "deploy", "ModelPackageArn": self.package_arn, "Target": target, "PollSeconds": 0}
        arn = self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(execution_input)
        )["executionArn"]
        deadline = time.monotonic() + 120
        while (described := self.sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            if time.monotonic() > deadline:
                raise BenchError(f"deploy execution {name} still running after 120 s")
            time.sleep(0.1)
        history: list[dict[str, Any]] = []
        for page in self.sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
            history.extend(page["events"])
        if described["status"] != "SUCCEEDED":
            raise BenchError(f"deploy execution {name} {described['status']}: {described.get('cause')}")
        return transitions(history)

    def remove_endpoint(self) -> None:
        for endpoint in self.sagemaker.list_endpoints()["Endpoints"]:
            self.sagemaker.delete_endpoint(EndpointName=endpoint["EndpointName"])


def run_transitions(run_index: int = 0) -> list[Measurement]:
    from local_twin.cli import LOCAL_SECURITY_GROUPS, LOCAL_SUBNETS
    from local_twin.emulator import emulate
    from local_twin.provision import provision, running_emulator

    parameters = {
        "PollIntervalSeconds": "0",
        "MaxPolls": "100",
        "PrivateSubnetIds": ",".join(LOCAL_SUBNETS),
        "SecurityGroupIds": ",".join(LOCAL_SECURITY_GROUPS),
    }
    creating = _Creating()
    with _quiet_emulator(), running_emulator("us-east-1") as emulator, emulate(), _endpoint_creating(creating):
        runner = DeployRunner(emulator, provision(emulator, parameters=parameters))
        base = runner.deploy(f"bench-{run_index}-endpoint", "endpoint")
        runner.remove_endpoint()
        creating.remaining = EXTRA_POLLS
        polled = runner.deploy(f"bench-{run_index}-endpoint-polled", "endpoint")
        if creating.remaining:
            raise BenchError("the deploy execution finished without polling the endpoint through its creation")
        batch = runner.deploy(f"bench-{run_index}-batch", "batch")
    poll = per_poll(base, polled, EXTRA_POLLS)
    ten_minutes = with_simulated_creation(base, poll, SIMULATED_CREATION_SECONDS, default_poll_interval())
    return [
        Measurement(WITHOUT_POLLS_SPEC, base),
        Measurement(PER_POLL_SPEC, poll),
        Measurement(TEN_MINUTES_SPEC, ten_minutes),
        Measurement(BATCH_SPEC, batch),
    ]
