"""State transitions of the deploy state machine (what Step Functions Standard bills), counted from its histories.

The template's stack is provisioned in the emulator (``local_twin.emulator.start`` + ``provision``, as ``make local``
and the integration tests do): the real DeployStateMachine (statemachine/deploy.asl.json) and the built functions,
run in python3.13 workers. Deployments are started the way they are in AWS:

1. **first deployment**: version 1 is registered Approved; SageMaker's "Model Package State Change" event reaches
   the reconciler, which starts the deploy execution; the new endpoint is InService at the first poll;
2. **polls**: the endpoint is deleted and a deploy execution started by hand (the documented input:
   ``{"ModelPackageArn": ...}``) creates it again, while SageMaker answers DescribeEndpoint ``Creating`` for
   :data:`EXTRA_POLLS` more polls, as it does while it provisions. The difference between the two executions,
   divided by the difference in polls, is what one more poll costs, measured rather than read off the ASL;
3. **update**: version 2 is registered Approved; its event starts the execution that updates the live endpoint
   (blue/green), InService at the first poll;
4. **batch**: a deploy execution started by hand with events/statemachine/deploy-batch.json's input (the batch input
   prefix in the stack's own bucket); the transform job is Completed at the first poll.

A poll is a Wait state entered (each is followed by one check of what the execution waits for). The count for a
simulated 10-minute endpoint creation follows from the template's default poll interval (PollIntervalSeconds): with
creation taking T seconds and a poll every I seconds, the poll that finds the endpoint InService is the ceil(T / I)-th,
so ceil(T / I) - 1 polls more than the first deployment's one.

The stack runs with PollIntervalSeconds 0 (only the count matters, not the sleeping). Counts are deterministic, so the
group runs once.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from unittest import mock

from bench.core import FigureSpec, Measurement
from bench.paths import BUILD_DIR, REPO_ROOT, BenchError

if TYPE_CHECKING:
    from local_twin.emulator import Emulator, Stack

TRANSITIONS_GOAL = 20  # the deploy path after the split into two machines (issue 16)
PER_POLL_GOAL = 5
SIMULATED_CREATION_SECONDS = 600
EXTRA_POLLS = 3
MAX_POLLS = 100  # the stack's MaxPolls: far more than any execution here needs
SETTLE_SECONDS = 120.0  # a bound on waiting for executions; never a figure
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
DEPLOY_MACHINE = "DeployStateMachine"  # template.yaml's logical id of the deploy state machine
BATCH_INPUT_EVENT = REPO_ROOT / "events" / "statemachine" / "deploy-batch.json"
LOG_DIR = BUILD_DIR / "transitions" / "logs"

WITHOUT_POLLS_SPEC = FigureSpec(
    "deploy.endpoint.transitions_without_polls",
    "transitions",
    TRANSITIONS_GOAL,
    description="first deployment (registry event → reconciler → deploy execution), InService at the first poll",
)
PER_POLL_SPEC = FigureSpec(
    "deploy.endpoint.transitions_per_poll",
    "transitions",
    PER_POLL_GOAL,
    description="an endpoint creation held Creating for polls",
)
TEN_MINUTES_SPEC = FigureSpec(
    "deploy.endpoint.transitions_10min_creation",
    "transitions",
    description="10-minute endpoint creation, template's default poll interval",
)
UPDATE_SPEC = FigureSpec(
    "deploy.endpoint.update_transitions_without_polls",
    "transitions",
    TRANSITIONS_GOAL,
    description="a second Approved version updates the live endpoint, InService at the first poll",
)
BATCH_SPEC = FigureSpec(
    "deploy.batch.transitions_without_polls",
    "transitions",
    TRANSITIONS_GOAL,
    description="batch transform (deploy-batch.json input), Completed at the first poll",
)


# --- counting ------------------------------------------------------------------------------------------------------
def transitions(history: Sequence[Mapping[str, Any]]) -> int:
    """Billed state transitions: one per state entered (the history's ``...StateEntered`` events)."""
    return sum(1 for event in history if str(event.get("type", "")).endswith("StateEntered"))


def polls(history: Sequence[Mapping[str, Any]]) -> int:
    """Wait states entered: one per poll of what the execution waits for."""
    return sum(1 for event in history if event.get("type") == "WaitStateEntered")


def per_poll(base: int, with_polls: int, extra_polls: int) -> float:
    if extra_polls <= 0:
        raise BenchError(f"the polled execution polled {extra_polls} times more than the first: the loop did not run")
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


def batch_input(bucket: str, documented: Mapping[str, Any]) -> dict[str, Any]:
    """events/statemachine/deploy-batch.json's input, its batch input prefix moved to the stack's bucket."""
    if documented.get("Target") != "batch" or "BatchInputS3Uri" not in documented:
        raise BenchError(f"{BATCH_INPUT_EVENT} is no longer a batch deploy input with BatchInputS3Uri: {documented}")
    return {**documented, "BatchInputS3Uri": f"s3://{bucket}/batch/input/"}


@dataclass(frozen=True)
class Execution:
    """A finished deploy execution: its counts from the history."""

    name: str
    status: str
    transitions: int
    polls: int
    cause: str = ""


# --- the emulated account ------------------------------------------------------------------------------------------
@dataclass
class _Creating:
    """While set, DescribeEndpoint answers ``Creating`` for the first ``polls`` calls on an endpoint being created,
    then SageMaker reports it InService (``Deployments.report_endpoint``), as it does once it has provisioned."""

    polls: int = 0
    seen: int = 0


@contextmanager
def _endpoint_creating(aws: Emulator, state: _Creating) -> Iterator[None]:
    """Hold every CreateEndpoint / UpdateEndpoint until ``state.polls`` DescribeEndpoint calls have seen it busy."""
    from moto.sagemaker.models import SageMakerModelBackend

    original = SageMakerModelBackend.describe_endpoint

    def describe_endpoint(self: Any, endpoint_name: str) -> Any:
        if endpoint_name in aws.deployments.changing():
            state.seen += 1
            if state.seen > state.polls:
                aws.deployments.report_endpoint(endpoint_name)
        return original(self, endpoint_name)

    # the work "happens" while the polls go on
    aws.deployments.endpoint_runner = lambda _endpoint, _config, _account: None
    try:
        with mock.patch.object(SageMakerModelBackend, "describe_endpoint", describe_endpoint):
            yield
    finally:
        aws.deployments.endpoint_runner = None


@contextmanager
def _quiet_emulator() -> Iterator[None]:
    """moto and its HTTP server log per request; the table is what a bench run shows."""
    loggers = [logging.getLogger(name) for name in ("moto", "werkzeug")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class DeployBench:
    """The template's stack in the emulator, and deploy executions against it."""

    def __init__(self, aws: Emulator, stack: Stack) -> None:
        self.aws = aws
        self.stack = stack
        self.sfn = aws.client("stepfunctions")
        self.sagemaker = aws.client("sagemaker")
        if DEPLOY_MACHINE not in stack.created:
            raise BenchError(f"the stack has no {DEPLOY_MACHINE}: template.yaml's deploy state machine was renamed?")
        self.machine = stack.ref(DEPLOY_MACHINE)
        self.group = stack.ref(stack.only("AWS::SageMaker::ModelPackageGroup"))
        settings = next(iter(stack.functions.values())).environment  # Globals: every function has the stack's names
        self.endpoint = settings["ENDPOINT_NAME"]
        self.bucket = settings["ARTIFACTS_BUCKET"]
        self.seen: set[str] = set()

    def register(self) -> str:
        """CreateModelPackage (Approved), as the pipeline's register step does; SageMaker sends its event."""
        arn: str = self.sagemaker.create_model_package(
            ModelPackageGroupName=self.group,
            ModelApprovalStatus="Approved",
            InferenceSpecification={
                "Containers": [{"Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://{self.bucket}/models/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
        return arn

    def start(self, name: str, execution_input: Mapping[str, Any]) -> None:
        self.sfn.start_execution(stateMachineArn=self.machine, name=name, input=json.dumps(execution_input))

    def settle(self, what: str) -> Execution:
        """Wait until the events were handled and every execution ended; the one new execution, counted."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            self.aws.lambdas.wait_for_async()
            listed = self.sfn.list_executions(stateMachineArn=self.machine)["executions"]
            if not any(e["status"] == "RUNNING" for e in listed):
                self.aws.lambdas.wait_for_async()  # an execution may have started another event's handling
                listed = self.sfn.list_executions(stateMachineArn=self.machine)["executions"]
                if not any(e["status"] == "RUNNING" for e in listed):
                    break
            if time.monotonic() > deadline:
                raise BenchError(f"{what}: deploy executions still running after {SETTLE_SECONDS:.0f} s")
            time.sleep(0.05)
        new = [e for e in listed if e["executionArn"] not in self.seen]
        self.seen.update(e["executionArn"] for e in listed)
        if len(new) != 1:
            raise BenchError(f"{what}: expected one new deploy execution, found {[e['name'] for e in new]}")
        return self.counted(new[0]["executionArn"])

    def counted(self, arn: str) -> Execution:
        described = self.sfn.describe_execution(executionArn=arn)
        history: list[dict[str, Any]] = []
        for page in self.sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
            history.extend(page["events"])
        return Execution(
            described["name"], described["status"], transitions(history), polls(history), described.get("cause", "")
        )

    def live_package(self) -> str | None:
        """The model package the endpoint serves (endpoint → config → model); None without an endpoint."""
        try:
            config_name = self.sagemaker.describe_endpoint(EndpointName=self.endpoint)["EndpointConfigName"]
        except self.sagemaker.exceptions.ClientError:
            return None
        config = self.sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        model = self.sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
        return str(model["PrimaryContainer"].get("ModelPackageName"))


def _require(execution: Execution, what: str, expected_polls: int, deployed: bool) -> Execution:
    """The execution did what it was started for, with the polls intended; else the counts mean something else."""
    if execution.status != "SUCCEEDED":
        raise BenchError(f"{what}: execution {execution.name} {execution.status}: {execution.cause}")
    if not deployed:
        raise BenchError(f"{what}: execution {execution.name} succeeded without deploying the version it was for")
    if execution.polls != expected_polls:
        raise BenchError(f"{what}: execution {execution.name} polled {execution.polls} times, not {expected_polls}")
    return execution


def measure_deployments(aws: Emulator, stack: Stack) -> list[Measurement]:
    """The four executions of the module docstring, each checked to have done what it was for."""
    bench = DeployBench(aws, stack)
    v1 = bench.register()
    first = _require(bench.settle("first deployment"), "first deployment", 1, bench.live_package() == v1)

    bench.sagemaker.delete_endpoint(EndpointName=bench.endpoint)
    creating = _Creating(polls=EXTRA_POLLS)
    with _endpoint_creating(aws, creating):
        bench.start("bench-polled-creation", {"ModelPackageArn": v1, "Trigger": "bench: creation held for polls"})
        polled = bench.settle("polled creation")
    _require(polled, "polled creation", 1 + EXTRA_POLLS, bench.live_package() == v1)

    v2 = bench.register()
    update = _require(bench.settle("update"), "update", 1, bench.live_package() == v2)

    documented = json.loads(BATCH_INPUT_EVENT.read_text())
    bench.start("bench-batch", batch_input(bench.bucket, documented))
    batch_execution = bench.settle("batch transform")
    jobs = bench.sagemaker.list_transform_jobs()["TransformJobSummaries"]
    transformed = [job for job in jobs if job["TransformJobStatus"] == "Completed"]
    _require(batch_execution, "batch transform", 1, len(transformed) == 1)

    poll = per_poll(first.transitions, polled.transitions, polled.polls - first.polls)
    ten_minutes = with_simulated_creation(first.transitions, poll, SIMULATED_CREATION_SECONDS, default_poll_interval())
    return [
        Measurement(WITHOUT_POLLS_SPEC, first.transitions),
        Measurement(PER_POLL_SPEC, poll),
        Measurement(TEN_MINUTES_SPEC, ten_minutes),
        Measurement(UPDATE_SPEC, update.transitions),
        Measurement(BATCH_SPEC, batch_execution.transitions),
    ]


def run_transitions(run_index: int = 0) -> list[Measurement]:
    from local_twin.emulator import SECURITY_GROUPS, SUBNETS, LambdaSetupError, ProvisionError, provision, start

    parameters = {
        "PollIntervalSeconds": "0",
        "MaxPolls": str(MAX_POLLS),
        "PrivateSubnetIds": ",".join(SUBNETS),
        "SecurityGroupIds": ",".join(SECURITY_GROUPS),
    }
    try:
        with _quiet_emulator(), start(log_dir=LOG_DIR, async_retry_delay_seconds=0.05) as aws:
            return measure_deployments(aws, provision(aws, parameters=parameters))
    except (LambdaSetupError, ProvisionError) as exc:
        raise BenchError(f"the stack could not be provisioned in the emulator: {exc}") from exc
