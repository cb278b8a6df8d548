"""``make local``: the whole train → approve → deploy flow on one machine, against an in-process AWS emulator.

Stages (each timed, each named in the error if it fails):

``emulator``   a moto server on a free loopback port; every boto3 client of the run talks to it
``provision``  the resources of template.yaml (bucket, key, topic, queues, group, state machine, functions); data up
``upsert``     the upsert function (dispatched in-process by the template's Handler) creates the SageMaker pipeline
``train``      a training execution of the state machine; the pipeline runs for real (local pipeline runner)
``approve``    the package is approved as a reviewer would (UpdateModelPackage); the state-change event goes through
               the template's EventBridge rule pattern to the on-approved function, which starts the deploy execution
``deploy``     the deploy execution of the same state machine (endpoint or batch transform)
``serve``      endpoint: the registered model served on loopback, the test split scored through it
``transform``  batch: the transform job run on the test split, its ``.out`` file written to the emulated S3

Everything the run produced is summarised in ``build/local-run/summary.json``; the exit code is 0 only if every
stage succeeded.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, redirect_stderr, redirect_stdout
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO, cast

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table

from ml_code.pipeline_names import DATA_KEY, PREPROCESS_STEP

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT / "data" / "abalone.csv"
DEFAULT_OUTPUT_DIR = REPO_ROOT / "build" / "local-run"
DATA_ENV_VAR = "ABALONE_DATA"
DEFAULT_LOG_NAME = "run.log"  # in the output directory: handler logs, job output, emulator warnings
Target = Literal["endpoint", "batch"]
TARGETS: tuple[Target, ...] = ("endpoint", "batch")


class UsageError(ValueError):
    """A command-line option or the data location is wrong; the message says how to fix it."""


class StageError(RuntimeError):
    """A stage of the run failed for a reason the run can name (as opposed to a bug, which keeps its traceback)."""


# --- options ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Options:
    target: Target = "endpoint"
    approve: bool = True
    pipeline_parameters: Mapping[str, str] = field(default_factory=dict)
    data: Path = DEFAULT_DATA
    keep_serving: bool = False
    output_dir: Path = DEFAULT_OUTPUT_DIR
    region: str = "us-east-1"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make local",
        description=(
            "Train, approve and deploy the abalone model on this machine: the same template, state machine, "
            "handlers and pipeline definition as in AWS, against an in-process AWS emulator (no account, no Docker)."
        ),
        epilog='Through make: make local ARGS="--target batch --param MseThreshold=7"',
    )
    parser.add_argument(
        "--target", choices=TARGETS, default="endpoint", help="deploy to a real-time endpoint or run a batch transform"
    )
    parser.add_argument(
        "--no-approve",
        dest="approve",
        action="store_false",
        help="stop when the model is registered and awaits approval (nothing is deployed)",
    )
    parser.add_argument(
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="K=V",
        help="a pipeline parameter for the training execution, e.g. MseThreshold=7 (repeatable)",
    )
    parser.add_argument(
        "--data", type=Path, default=None, help=f"the abalone CSV (default: ${DATA_ENV_VAR}, else data/abalone.csv)"
    )
    parser.add_argument(
        "--keep-serving", action="store_true", help="keep the local endpoint up for curl until Ctrl-C (endpoint target)"
    )
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR, help="where summary.json is written")
    parser.add_argument("--region", default="us-east-1", help="the emulated AWS region")
    return parser


def parse_options(argv: Sequence[str] | None, environ: Mapping[str, str] | None = None) -> Options:
    """Parse the command line; a bad ``--param`` or a missing data file is a :class:`UsageError`."""
    args = _parser().parse_args(argv)
    environ = os.environ if environ is None else environ
    if args.keep_serving and args.target != "endpoint":
        raise UsageError("--keep-serving needs --target endpoint: a batch transform has nothing to keep serving")
    return Options(
        target=args.target,
        approve=args.approve,
        pipeline_parameters=parse_params(args.params),
        data=resolve_data_path(args.data, environ),
        keep_serving=args.keep_serving,
        output_dir=args.output_dir,
        region=args.region,
    )


def parse_params(pairs: Sequence[str]) -> dict[str, str]:
    """``["K=V", ...]`` → ``{"K": "V"}``; names are checked against the pipeline's parameters when it exists."""
    params: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--param {pair!r} is not NAME=VALUE (e.g. --param MseThreshold=7)")
        if name.strip() in params:
            raise UsageError(f"--param {name.strip()} is given twice")
        params[name.strip()] = value
    return params


def resolve_data_path(cli_value: Path | None, environ: Mapping[str, str]) -> Path:
    """``--data``, else ``$ABALONE_DATA``, else ``data/abalone.csv``; a missing file names all three ways."""
    if cli_value is not None:
        path, origin = cli_value, f"--data {cli_value}"
    elif environ.get(DATA_ENV_VAR, "").strip():
        path, origin = Path(environ[DATA_ENV_VAR]), f"{DATA_ENV_VAR}={environ[DATA_ENV_VAR]}"
    else:
        path, origin = DEFAULT_DATA, str(DEFAULT_DATA.relative_to(REPO_ROOT))
    if not path.is_file():
        raise UsageError(
            f"the abalone data set was not found ({origin}: no such file). Give it one of three ways: "
            f'--data PATH (make local ARGS="--data PATH"), the {DATA_ENV_VAR} environment variable, '
            "or data/abalone.csv (`make data` downloads it from the UCI Machine Learning Repository)."
        )
    return path.resolve()


# --- progress ---------------------------------------------------------------------------------------------------------
@dataclass
class StageRecord:
    name: str
    status: Literal["succeeded", "failed", "skipped"] = "succeeded"
    seconds: float = 0.0
    detail: str = ""


class Reporter:
    """Per-stage progress: a spinner with the latest step on a terminal, plain lines anywhere else (CI, a pipe)."""

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None) -> None:
        self.console = Console(file=stream or sys.stdout, highlight=False)
        self.live = self.console.is_terminal if live is None else live
        self.stages: list[StageRecord] = []
        self._status: Live | None = None
        self._spinner: Spinner | None = None
        self._current: str | None = None

    @contextmanager
    def stage(self, name: str, title: str) -> Iterator[StageRecord]:
        record = StageRecord(name)
        self.stages.append(record)
        self._current = name
        start = time.perf_counter()
        if self.live:
            # Not console.status(): its Live redirects sys.stdout, which the run sends to run.log (handler logs).
            self._spinner = Spinner("dots", f"[bold]{name}[/]: {title}")
            self._status = Live(
                self._spinner, console=self.console, transient=True, redirect_stdout=False, redirect_stderr=False
            )
            self._status.start()
        else:
            self._plain(f"[{name}] {title}")
        try:
            yield record
        except BaseException as exc:
            record.status = "failed"
            record.detail = record.detail or _reason(exc)
            raise
        finally:
            record.seconds = round(time.perf_counter() - start, 3)
            if self._status is not None:
                self._status.stop()
                self._status = self._spinner = None
            self._current = None
            mark = {"succeeded": "[green]✓[/]", "failed": "[red]✗[/]", "skipped": "[yellow]–[/]"}[record.status]
            text = f"{name:<10} {record.seconds:7.2f} s  {record.detail}".rstrip()
            if self.live:
                self.console.print(f"{mark} {text}")
            else:
                self._plain(
                    f"[{name}] {record.status} in {record.seconds:.2f} s{': ' + record.detail if record.detail else ''}"
                )

    def skip(self, name: str, why: str) -> None:
        self.stages.append(StageRecord(name, status="skipped", detail=why))
        if self.live:
            self.console.print(f"[yellow]–[/] {name:<10} {'':>9}  {why}")
        else:
            self._plain(f"[{name}] skipped: {why}")

    def note(self, text: str) -> None:
        """A progress line inside the current stage (a pipeline step finished, a state entered...)."""
        if self._spinner is not None:
            self._spinner.update(text=f"[bold]{self._current}[/]: {text}")
        else:
            self._plain(f"[{self._current or 'run'}]   {text}")

    def _plain(self, text: str) -> None:
        self.console.print(text, markup=False, soft_wrap=True)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return str(exc) or type(exc).__name__


# --- summary ----------------------------------------------------------------------------------------------------------
@dataclass
class ExecutionSummary:
    name: str
    arn: str
    mode: str
    status: str
    states: list[str] = field(default_factory=list)
    output: dict[str, Any] | None = None


@dataclass
class Summary:
    """What ``summary.json`` holds: the run's outcome and everything a reader needs to check it."""

    status: Literal["succeeded", "failed"] = "succeeded"
    failed_stage: str | None = None
    failure_reason: str | None = None
    failure_traceback: str | None = None
    target: str = "endpoint"
    approve: bool = True
    data: str = ""
    pipeline_parameters: dict[str, str] = field(default_factory=dict)
    emulator_url: str | None = None
    resources: dict[str, str] = field(default_factory=dict)  # logical id → physical id in the emulator
    resources_not_created: dict[str, str] = field(default_factory=dict)  # logical id → why
    provision_adjustments: list[str] = field(default_factory=list)  # what differs from a CloudFormation stack
    pipeline_execution_arn: str | None = None
    pipeline_status: str | None = None
    pipeline_steps: list[dict[str, Any]] = field(default_factory=list)
    test_mse: float | None = None
    evaluation_report: str | None = None
    model_package_arn: str | None = None
    model_package_version: int | None = None
    approval_status: str | None = None
    approval_event_matched_rule: bool | None = None
    executions: list[ExecutionSummary] = field(default_factory=list)
    endpoint_name: str | None = None
    endpoint_url: str | None = None
    transform_job_name: str | None = None
    transform_output: list[str] = field(default_factory=list)
    test_split: str | None = None
    predictions_file: str | None = None
    predictions_count: int | None = None
    predictions_mse: float | None = None
    stages: list[StageRecord] = field(default_factory=list)
    total_seconds: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str) + "\n"


def print_summary(summary: Summary, console: Console, output_dir: Path | None = None) -> None:
    table = Table(title="make local: summary", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    split = ", ".join(f"{stage.name} {stage.seconds:.1f}" for stage in summary.stages if stage.status != "skipped")
    rows: list[tuple[str, object]] = [
        ("result", summary.status if summary.status == "succeeded" else f"FAILED at {summary.failed_stage}"),
        ("reason", summary.failure_reason),
        (
            "details",
            None if output_dir is None or summary.status == "succeeded" else str(output_dir / DEFAULT_LOG_NAME),
        ),
        ("target", summary.target),
        ("test MSE", None if summary.test_mse is None else f"{summary.test_mse:.4f}"),
        ("model package", summary.model_package_arn),
        ("version", summary.model_package_version),
        ("approval", summary.approval_status),
        *[(f"execution {e.mode}", f"{e.name}: {e.status} ({len(e.states)} states)") for e in summary.executions],
        ("endpoint URL", summary.endpoint_url),
        ("transform output", ", ".join(summary.transform_output) or None),
        ("predictions", summary.predictions_count),
        ("predictions MSE", None if summary.predictions_mse is None else f"{summary.predictions_mse:.4f}"),
        ("wall time", f"{summary.total_seconds:.1f} s ({split})"),
    ]
    for label, value in rows:
        if value is not None:
            table.add_row(label, str(value))
    console.print(table)


def write_summary(summary: Summary, output_dir: Path) -> Path:
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / "summary.json"
    path.write_text(summary.to_json())
    return path


# --- entry point ------------------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None, *, stream: TextIO | None = None, live: bool | None = None) -> int:
    """Run the flow; 0 on success, 1 if a stage failed, 2 for a usage error."""
    reporter = Reporter(stream, live=live)
    try:
        options = parse_options(argv)
    except UsageError as exc:
        reporter.console.print(f"make local: {exc}", markup=False, style="red")
        return 2
    serving: list[Any] = []
    summary = run_flow(options, reporter, serving)
    write_summary(summary, options.output_dir)
    print_summary(summary, reporter.console, options.output_dir)
    reporter.console.print(f"summary: {options.output_dir / 'summary.json'}", markup=False)
    try:
        if serving:
            keep_serving(serving, reporter.console, options.output_dir / "test.csv")
    finally:
        for server in serving:
            server.stop()
    return 0 if summary.status == "succeeded" else 1


def keep_serving(servers: Sequence[Any], console: Console, test_csv: Path) -> None:
    """Block until Ctrl-C or SIGTERM, the endpoint answering curl meanwhile."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for server in servers:
            console.print(
                f"\nThe local endpoint is up: {server.url}  (Ctrl-C to stop)\n"
                f"  curl -s {server.url}/ping -o /dev/null -w '%{{http_code}}\\n'\n"
                f"  cut -d, -f2- {test_csv} | head -3 | "
                f"curl -s -H 'Content-Type: text/csv' --data-binary @- {server.url}/invocations",
                markup=False,
                soft_wrap=True,
            )
        stop.wait()
        console.print("stopped serving", markup=False)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def record_failure(summary: Summary, stage: str, exc: BaseException) -> None:
    """Fill the summary's failure fields; a bug (not a StageError) keeps its traceback for the reader."""
    summary.status = "failed"
    summary.failed_stage = stage
    summary.failure_reason = _reason(exc)
    if not isinstance(exc, (StageError, UsageError, KeyboardInterrupt)):
        summary.failure_reason = f"{type(exc).__name__}: {summary.failure_reason}"
        summary.failure_traceback = "".join(traceback.format_exception(exc)).rstrip()


# --- the flow ---------------------------------------------------------------------------------------------------------
STACK_NAME = "abalone-mlops"
# Template parameters of the local stack. The polls are every second (the Wait states really sleep), for at most
# 30 minutes; everything else is the template's default, as `sam deploy` would use it.
LOCAL_TEMPLATE_PARAMETERS = {"PollIntervalSeconds": "1", "MaxPolls": "1800"}
# The network is not emulated (SageMaker work runs as local processes): these IDs stand in for network.yaml's outputs
# so every VpcConfig the template, the state machine and the pipeline write is complete and checkable.
LOCAL_SUBNETS = ("subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002")
LOCAL_SECURITY_GROUPS = ("sg-0a1b2c3d4e5f60001",)
BATCH_INPUT_PREFIX = "batch/input/"  # where a deploy execution without BatchInputS3Uri reads (pipeline_helpers)
EXECUTION_TIMEOUT_SECONDS = 1800
APPROVAL_EVENT_DETAIL_TYPE = "SageMaker Model Package State Change"


def run_flow(options: Options, reporter: Reporter, serving: list[Any] | None = None) -> Summary:
    """Run every stage; the summary says how far it got and why it stopped.

    With ``--keep-serving`` the endpoint servers are left running and appended to ``serving`` (the caller stops them).
    """
    summary = Summary(
        target=options.target,
        approve=options.approve,
        data=str(options.data),
        pipeline_parameters=dict(options.pipeline_parameters),
    )
    started = time.perf_counter()
    options.output_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("predictions.csv", "test.csv", "evaluation.json", "approval-event.json", "transform"):
        _remove(options.output_dir / stale)
    log_path = options.output_dir / DEFAULT_LOG_NAME
    try:
        with _logs_to(log_path):
            LocalRun(options, reporter, summary, serving).execute()
    except KeyboardInterrupt as exc:
        record_failure(summary, _failed_stage(reporter) or "run", exc)
    except Exception as exc:  # noqa: BLE001 - every failure ends in the summary, named by its stage
        record_failure(summary, _failed_stage(reporter) or "run", exc)
    summary.stages = list(reporter.stages)
    summary.total_seconds = round(time.perf_counter() - started, 3)
    return summary


def _failed_stage(reporter: Reporter) -> str | None:
    failed = [stage.name for stage in reporter.stages if stage.status == "failed"]
    return failed[-1] if failed else None


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


@contextmanager
def _logs_to(path: Path) -> Iterator[None]:
    """Handler logs (Powertools writes JSON to stdout), library warnings and job output go to run.log, not the screen.

    The reporter keeps the real terminal: its console was bound to it before the redirection.
    """
    with path.open("w", encoding="utf-8") as log, redirect_stdout(log), redirect_stderr(log):
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        saved_level = root.level
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default")
                yield
        finally:
            root.removeHandler(handler)
            root.setLevel(saved_level)


class LocalRun:
    """One run of the flow; each method is a stage."""

    def __init__(
        self, options: Options, reporter: Reporter, summary: Summary, serving: list[Any] | None = None
    ) -> None:
        self.options = options
        self.serving = serving
        self.reporter = reporter
        self.summary = summary
        self.run_id = time.strftime("%Y%m%d-%H%M%S")
        self.workdir = options.output_dir / "work"
        self.pipelines: LocalPipelines | None = None
        self.package: dict[str, Any] = {}
        self.test_split_uri: str | None = None
        self.pre_approved_deployment = ""

    def execute(self) -> None:
        _remove(self.workdir)
        self.workdir.mkdir(parents=True)
        with ExitStack() as stack:
            with self.reporter.stage("emulator", "starting the AWS emulator on a loopback port") as record:
                from local_twin.emulator import emulate  # moto's import is most of this stage's time
                from local_twin.provision import running_emulator

                self.emulator = stack.enter_context(running_emulator(self.options.region))
                self.extensions = stack.enter_context(emulate())
                self.summary.emulator_url = self.emulator.url
                record.detail = self.emulator.url
            self.pipelines = LocalPipelines(self)
            self.extensions.pipelines.runner = self.pipelines
            stack.callback(self.pipelines.join)
            self.deployments = LocalDeployments(self)
            self.extensions.deployments.endpoint_runner = self.deployments.endpoint_changed
            self.extensions.deployments.transform_runner = self.deployments.transform_job_created
            stack.callback(self.deployments.close)
            with self.reporter.stage("provision", "creating the resources of template.yaml") as record:
                self.provision(record)
            with self.reporter.stage("upsert", "the upsert function creates the SageMaker pipeline") as record:
                self.upsert(record)
            with self.reporter.stage("train", "training execution of the state machine; the pipeline runs") as record:
                self.train(record)
            if not self.options.approve:
                for name in ("approve", "deploy", self._score_stage):
                    self.reporter.skip(name, "--no-approve: the model waits for a reviewer")
                return
            with self.reporter.stage("approve", "approving the model package as a reviewer would") as record:
                self.approve(record)
            with self.reporter.stage(
                "deploy", f"deploy execution of the state machine ({self.options.target})"
            ) as record:
                self.deploy(record)
            if self.options.target == "endpoint":
                with self.reporter.stage("serve", "scoring the test split through the local endpoint") as record:
                    server = self.serve(record)
                if self.options.keep_serving and self.serving is not None:
                    self.serving.append(server)
            else:
                with self.reporter.stage("transform", "reading the transform job's output") as record:
                    self.transform(record)

    @property
    def _score_stage(self) -> str:
        return "serve" if self.options.target == "endpoint" else "transform"

    # --- provision ------------------------------------------------------------------------------------------------
    def provision(self, record: StageRecord) -> None:
        from local_twin.provision import provision, upload_file

        parameters = {
            **LOCAL_TEMPLATE_PARAMETERS,
            "PrivateSubnetIds": ",".join(LOCAL_SUBNETS),
            "SecurityGroupIds": ",".join(LOCAL_SECURITY_GROUPS),
            "DefaultDeploymentTarget": self.options.target,
        }
        self.stack = provision(self.emulator, parameters=parameters, stack_name=STACK_NAME)
        self.bucket = self.stack.ref(self.stack.only("AWS::S3::Bucket"))
        self.kms_key_arn = self.stack.attribute(self.stack.only("AWS::KMS::Key"), "Arn")
        self.state_machine_arn = self.stack.ref(self.stack.only("AWS::StepFunctions::StateMachine"))
        self.summary.resources = dict(self.stack.created)
        self.summary.resources_not_created = dict(self.stack.not_created)
        self.summary.provision_adjustments = list(self.stack.adjustments)
        data_uri = upload_file(self.s3, self.options.data, self.bucket, DATA_KEY, self.kms_key_arn)
        record.detail = f"{len(self.stack.created)} resources; data at {data_uri}"

    @property
    def s3(self) -> Any:
        return self.emulator.client("s3")

    @property
    def sagemaker(self) -> Any:
        return self.emulator.client("sagemaker")

    @property
    def sfn(self) -> Any:
        return self.emulator.client("stepfunctions")

    def invoke(self, logical_id: str, event: Mapping[str, Any]) -> dict[str, Any]:
        """Invoke a function of the template through the emulator's Lambda API (dispatched in-process)."""
        response = self.emulator.client("lambda").invoke(
            FunctionName=self.stack.function_names[logical_id], Payload=json.dumps(event).encode()
        )
        payload: dict[str, Any] = json.loads(response["Payload"].read() or b"{}")
        if response.get("FunctionError"):
            raise StageError(f"{logical_id} failed: {payload.get('errorType')}: {payload.get('errorMessage')}")
        return payload

    # --- upsert ---------------------------------------------------------------------------------------------------
    def upsert(self, record: StageRecord) -> None:
        # What CloudFormation does at deploy time through the Pipeline custom resource, as a direct invocation.
        service_token = self.stack.template["Resources"]["Pipeline"]["Properties"]["ServiceToken"]["Fn::GetAtt"]
        function = service_token[0] if isinstance(service_token, list) else str(service_token).split(".")[0]
        result = self.invoke(function, {"Operation": "upsert", "Reason": "make local: stack created"})
        self.pipeline_name = str(result["PipelineName"])
        record.detail = f"pipeline {self.pipeline_name}"
        if self.options.pipeline_parameters:
            definition = json.loads(
                self.sagemaker.describe_pipeline(PipelineName=self.pipeline_name)["PipelineDefinition"]
            )
            known = {parameter["Name"] for parameter in definition.get("Parameters", [])}
            unknown = sorted(set(self.options.pipeline_parameters) - known)
            if unknown:
                raise StageError(
                    f"--param {', '.join(unknown)}: the pipeline has no such parameter "
                    f"(it has: {', '.join(sorted(known))})"
                )

    # --- train ----------------------------------------------------------------------------------------------------
    def train(self, record: StageRecord) -> None:
        execution_input = {"Mode": "train", "PipelineParameters": dict(self.options.pipeline_parameters)}
        execution = self.run_execution(f"train-{self.run_id}", "train", execution_input)
        pipeline_arn = self.pipelines.last_arn if self.pipelines else None
        if pipeline_arn:
            self.summary.pipeline_execution_arn = pipeline_arn
            described = self.sagemaker.describe_pipeline_execution(PipelineExecutionArn=pipeline_arn)
            self.summary.pipeline_status = described["PipelineExecutionStatus"]
            steps = self.sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=pipeline_arn)
            self.summary.pipeline_steps = [
                {
                    "name": step["StepName"],
                    "status": step["StepStatus"],
                    "seconds": _seconds(step.get("StartTime"), step.get("EndTime")),
                    **({"failure_reason": step["FailureReason"]} if step.get("FailureReason") else {}),
                }
                for step in steps["PipelineExecutionSteps"]
            ]
        failed_steps = [step for step in self.summary.pipeline_steps if step["status"] == "Failed"]
        if execution.status != "SUCCEEDED":
            cause = "; ".join(
                f"pipeline step {step['name']} failed: {_last_line(step.get('failure_reason', '?'))}"
                for step in failed_steps
            )
            if any(step["name"] == PREPROCESS_STEP for step in failed_steps):
                cause += f" (the data file given: {self.options.data})"
            raise StageError(cause or f"training execution {execution.status}: {execution.output}")
        result = self.pipelines.result(pipeline_arn) if self.pipelines and pipeline_arn else None
        package_arn = result.model_package_arn if result else None
        if not package_arn:
            raise StageError(
                f"the training execution ended in {execution.states[-1]!r} without a registered model package"
            )
        self.describe_package(package_arn)
        self.test_split_uri = _test_split_uri(result)
        deployment = (execution.output or {}).get("Deployment") or {}
        self.pre_approved_deployment = str(deployment.get("ExecutionArn") or "") if execution.output else ""
        mse = "?" if self.summary.test_mse is None else f"{self.summary.test_mse:.4f}"
        record.detail = (
            f"test MSE {mse}; package version {self.summary.model_package_version}, {self.summary.approval_status}"
        )

    def describe_package(self, package_arn: str) -> None:
        package = self.sagemaker.describe_model_package(ModelPackageName=package_arn)
        self.package = package
        self.summary.model_package_arn = package_arn
        self.summary.model_package_version = int(package["ModelPackageVersion"])
        self.summary.approval_status = package["ModelApprovalStatus"]
        report_uri = package.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")
        if report_uri:
            report = json.loads(self._get(report_uri))
            (self.options.output_dir / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
            self.summary.evaluation_report = report_uri
            self.summary.test_mse = float(report["regression_metrics"]["mse"]["value"])

    def _get(self, uri: str) -> bytes:
        from local_twin.pipeline_runner.store import split_uri

        bucket, key = split_uri(uri)
        body: bytes = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    # --- approve --------------------------------------------------------------------------------------------------
    def approve(self, record: StageRecord) -> None:
        from moto.events.models import EventPattern

        if self.pre_approved_deployment:
            # Registered already Approved (--param ModelApprovalStatus=Approved): the train path started the
            # deployment itself, with the same execution naming as the approval handler; no reviewer, no event.
            self.deploy_execution_arn = self.pre_approved_deployment
            record.detail = "registered Approved: the training execution started the deployment"
            return
        package_arn = str(self.summary.model_package_arn)
        self.sagemaker.update_model_package(
            ModelPackageArn=package_arn,
            ModelApprovalStatus="Approved",
            ApprovalDescription="approved by make local, as a reviewer would in SageMaker Studio",
        )
        self.describe_package(package_arn)
        event = approval_event(self.package, self.emulator.region, self.emulator.account_id)
        (self.options.output_dir / "approval-event.json").write_text(json.dumps(event, indent=2) + "\n")
        events = self.emulator.client("events")
        matched: list[str] = []
        deploy: dict[str, Any] | None = None
        for rule in events.list_rules()["Rules"]:
            if rule.get("State") != "ENABLED" or not rule.get("EventPattern"):
                continue
            if not EventPattern.load(rule["EventPattern"]).matches_event(cast(Any, event)):
                continue
            matched.append(rule["Name"])
            for target in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]:
                # EventBridge cannot deliver to Lambda in the emulator: deliver as the rule would, to the same function.
                function = self._function_by_arn(target["Arn"])
                deploy = self.invoke(function, event)
        self.summary.approval_event_matched_rule = bool(matched)
        if not matched or deploy is None:
            raise StageError(f"the approval event matched no enabled rule with a target; event: {json.dumps(event)}")
        if deploy.get("Status") != "started":
            raise StageError(f"the approval handler started no deployment: {deploy}")
        self.deploy_execution_arn = str(deploy["ExecutionArn"])
        record.detail = f"{self.summary.approval_status}; event matched {', '.join(matched)}; deploy execution started"

    def _function_by_arn(self, arn: str) -> str:
        for logical_id, name in self.stack.function_names.items():
            if arn.split(":")[-1] == name or arn.endswith(f":function:{name}"):
                return logical_id
        raise StageError(f"the rule targets {arn}, which is not a function of the template")

    def stage_batch_input(self) -> None:
        """The test split's features (label column dropped) where a deploy execution reads its batch input."""
        rows = self.test_rows()
        key = f"{BATCH_INPUT_PREFIX}test.csv"
        body = ("\n".join(features for _, features in rows) + "\n").encode()
        self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=self.kms_key_arn
        )
        self.reporter.note(f"batch input: {len(rows)} test rows at s3://{self.bucket}/{key}")

    def test_rows(self) -> list[tuple[float, str]]:
        """(label, feature CSV) for every row of the test split the pipeline wrote (label-first, no header)."""
        if not self.test_split_uri:
            raise StageError("the pipeline result names no test split (preprocess output 'test')")
        from local_twin.pipeline_runner.store import split_uri

        bucket, prefix = split_uri(self.test_split_uri)
        keys = [
            item["Key"]
            for item in self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix.rstrip("/") + "/").get("Contents", [])
        ]
        if len(keys) != 1:
            raise StageError(f"expected one file in the test split {self.test_split_uri}, found {keys}")
        text = self._get(f"s3://{bucket}/{keys[0]}").decode()
        (self.options.output_dir / "test.csv").write_text(text)
        self.summary.test_split = f"s3://{bucket}/{keys[0]}"
        rows = []
        for line in text.splitlines():
            if line.strip():
                label, _, features = line.partition(",")
                rows.append((float(label), features))
        return rows

    # --- deploy ---------------------------------------------------------------------------------------------------
    def deploy(self, record: StageRecord) -> None:
        execution = self.wait_for(self.deploy_execution_arn, "deploy")
        if execution.status != "SUCCEEDED":
            last = execution.states[-1] if execution.states else "?"
            raise StageError(f"deploy execution {execution.status} in state {last}: {execution.output}")
        record.detail = f"{execution.name}: {' → '.join(execution.states[-3:])}"

    # --- serve ----------------------------------------------------------------------------------------------------
    def serve(self, record: StageRecord) -> Any:
        """Score the test split through the endpoint the deploy execution brought InService (a local server)."""
        from local_twin.endpoint_server import score_rows

        endpoint_name = self._output("EndpointName", "abalone-mlops-endpoint")
        endpoint = self.sagemaker.describe_endpoint(EndpointName=endpoint_name)
        if endpoint["EndpointStatus"] != "InService":
            raise StageError(
                f"endpoint {endpoint_name} is {endpoint['EndpointStatus']}: {endpoint.get('FailureReason')}"
            )
        server = self.deployments.servers.get(endpoint_name)
        if server is None:
            raise StageError(f"endpoint {endpoint_name} is InService but no local server was started for it")
        self.summary.endpoint_name = endpoint_name
        self.summary.endpoint_url = server.url
        rows = self.test_rows()
        predictions = score_rows(server.url, [features for _, features in rows])
        self._record_predictions([label for label, _ in rows], predictions)
        (self.options.output_dir / "predictions.csv").write_text("".join(f"{value}\n" for value in predictions))
        self.summary.predictions_file = str(self.options.output_dir / "predictions.csv")
        record.detail = f"{server.url}: {len(predictions)} predictions, MSE {self.summary.predictions_mse:.4f}"
        return server

    def _output(self, name: str, default: str) -> str:
        from local_twin.template import Resolver

        output = self.stack.template.get("Outputs", {}).get(name)
        if output is None:
            return default
        return str(Resolver(self.stack.template, self.stack.values).resolve(output["Value"]))

    def load_deployed_model(self, model_name: str, model_dir: Path) -> Any:
        """The model a SageMaker Model runs: its package's artifact, checked to be for the XGBoost 3.0-5 image."""
        from local_twin.endpoint_server import extract_model_archive, load_model

        described = self.sagemaker.describe_model(ModelName=model_name)
        container = described.get("PrimaryContainer") or described["Containers"][0]
        if container.get("ModelPackageName"):
            package = self.sagemaker.describe_model_package(ModelPackageName=container["ModelPackageName"])
            container = package["InferenceSpecification"]["Containers"][0]
        image = str(container.get("Image", ""))
        if "/sagemaker-xgboost:" not in image or not image.endswith(":3.0-5"):
            raise StageError(
                f"model {model_name} runs image {image!r}; the local endpoint emulates only sagemaker-xgboost:3.0-5"
            )
        archive = self._get(container["ModelDataUrl"])
        return load_model(extract_model_archive(archive, model_dir))

    def _record_predictions(self, labels: Sequence[float], predictions: Sequence[float]) -> None:
        if len(labels) != len(predictions):
            raise StageError(f"{len(predictions)} predictions for {len(labels)} test rows")
        self.summary.predictions_count = len(predictions)
        squared = [(prediction - label) ** 2 for prediction, label in zip(predictions, labels, strict=True)]
        self.summary.predictions_mse = sum(squared) / max(len(squared), 1)

    # --- transform ------------------------------------------------------------------------------------------------
    def transform(self, record: StageRecord) -> None:
        """Read the output of the transform job the deploy execution ran, and check it row by row."""
        listed = self.sagemaker.list_transform_jobs(SortBy="CreationTime", SortOrder="Descending")
        jobs = listed["TransformJobSummaries"]
        if not jobs:
            raise StageError("the deploy execution created no transform job")
        name = jobs[0]["TransformJobName"]
        job = self.sagemaker.describe_transform_job(TransformJobName=name)
        if job["TransformJobStatus"] != "Completed":
            raise StageError(f"transform job {name} is {job['TransformJobStatus']}: {job.get('FailureReason')}")
        result = self.deployments.transforms.get(name)
        if result is None:
            raise StageError(f"transform job {name} is Completed but was not run locally")
        self.summary.transform_job_name = name
        self.summary.transform_output = list(result.outputs)
        local_dir = self.options.output_dir / "transform"
        local_dir.mkdir(parents=True, exist_ok=True)
        rows = self.test_rows()
        predictions: list[float] = []
        for uri in result.outputs:
            body = self._get(uri).decode()
            (local_dir / uri.rsplit("/", 1)[-1]).write_text(body)
            predictions.extend(float(line.rsplit(",", 1)[1]) for line in body.splitlines() if line.strip())
        self._record_predictions([label for label, _ in rows], predictions)
        self.summary.predictions_file = str(local_dir)
        record.detail = f"{name}: {result.records} records → {', '.join(result.outputs)}"

    # --- executions -----------------------------------------------------------------------------------------------
    def run_execution(self, name: str, mode: str, execution_input: Mapping[str, Any]) -> ExecutionSummary:
        started = self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(execution_input)
        )
        return self.wait_for(started["executionArn"], mode)

    def wait_for(self, execution_arn: str, mode: str) -> ExecutionSummary:
        """Poll an execution to its end, showing each state as it is entered; its summary is kept in the run's."""
        deadline = time.monotonic() + EXECUTION_TIMEOUT_SECONDS
        seen = 0
        while True:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            states = self.states_entered(execution_arn)
            for state in states[seen:]:
                if state not in states[:seen]:  # a poll loop re-enters its states every second: show them once
                    self.reporter.note(f"{mode} execution: {state}")
                seen += 1
            if described["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise StageError(f"{mode} execution still running after {EXECUTION_TIMEOUT_SECONDS} s")
            time.sleep(0.25)
        output = json.loads(described["output"]) if described.get("output") else None
        if described["status"] != "SUCCEEDED":
            output = {"error": described.get("error"), "cause": described.get("cause")}
        summary = ExecutionSummary(
            name=described["name"],
            arn=execution_arn,
            mode=mode,
            status=described["status"],
            states=states,
            output=output,
        )
        self.summary.executions.append(summary)
        return summary

    def states_entered(self, execution_arn: str) -> list[str]:
        events: list[dict[str, Any]] = []
        for page in self.sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(page["events"])
        return [event["stateEnteredEventDetails"]["name"] for event in events if "stateEnteredEventDetails" in event]


def _last_line(text: str) -> str:
    """The last non-empty line: for a job's traceback, the exception and its message."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[-1] if lines else str(text)


def _seconds(start: Any, end: Any) -> float | None:
    if start is None or end is None:
        return None
    return round(float((end - start).total_seconds()), 3)


def _test_split_uri(result: Any) -> str | None:
    for step in result.steps:
        if step.step_name == PREPROCESS_STEP and "test" in step.outputs:
            return str(step.outputs["test"])
    return None


def approval_event(package: Mapping[str, Any], region: str, account_id: str) -> dict[str, Any]:
    """The "SageMaker Model Package State Change" event SageMaker sends when a package's approval changes.

    Same envelope and detail fields as the real event (times in epoch milliseconds, as SageMaker sends them).
    """

    def millis(value: Any) -> Any:
        return int(value.timestamp() * 1000) if hasattr(value, "timestamp") else value

    keys = (
        "ModelPackageGroupName",
        "ModelPackageVersion",
        "ModelPackageArn",
        "ModelPackageName",
        "ModelPackageDescription",
        "CreationTime",
        "LastModifiedTime",
        "InferenceSpecification",
        "ModelPackageStatus",
        "ModelPackageStatusDetails",
        "CertifyForMarketplace",
        "ModelApprovalStatus",
        "ApprovalDescription",
        "CreatedBy",
        "LastModifiedBy",
        "CustomerMetadataProperties",
    )
    detail = {key: millis(package[key]) for key in keys if key in package}
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": APPROVAL_EVENT_DETAIL_TYPE,
        "source": "aws.sagemaker",
        "account": account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [package["ModelPackageArn"]],
        "detail": detail,
    }


class LocalPipelines:
    """Plugged into the emulator's StartPipelineExecution: runs the local pipeline runner in a thread per execution
    and reports each step as it starts and ends, so DescribePipelineExecution follows the real progress."""

    def __init__(self, run: LocalRun) -> None:
        self.run = run
        self.threads: list[threading.Thread] = []
        self.results: dict[str, Any] = {}
        self.last_arn: str | None = None
        self._lock = threading.Lock()

    def __call__(self, start: Any) -> None:
        self.last_arn = start.execution_arn
        thread = threading.Thread(target=self._execute, args=(start,), name="pipeline-execution", daemon=True)
        self.threads.append(thread)
        thread.start()

    def result(self, execution_arn: str) -> Any:
        return self.results.get(execution_arn)

    def join(self) -> None:
        for thread in self.threads:
            thread.join()

    def _execute(self, start: Any) -> None:
        from local_twin.pipeline_runner import PipelineRunner, S3Store

        records: dict[str, Any] = {}
        report = self.run.extensions.pipelines.report

        def on_step(step: Any) -> None:
            with self._lock:
                records[step.step_name] = step
                report(start.execution_arn, "Executing", steps=[r.to_api() for r in records.values()])
            self.run.reporter.note(f"pipeline step {step.step_name}: {step.step_status}")
            if step.step_name == PREPROCESS_STEP and step.step_status == "Succeeded" and "test" in step.outputs:
                self.run.test_split_uri = str(step.outputs["test"])
                if self.run.options.target == "batch":
                    # What a user does before a batch deployment: put the rows to score where it reads them. Done
                    # as soon as the split exists, because a package registered Approved deploys during training.
                    self.run.stage_batch_input()

        try:
            runner = PipelineRunner(
                start.definition,
                store=S3Store(self.run.s3, kms_key_id=self.run.kms_key_arn),
                sagemaker_client=self.run.sagemaker,
                workdir=self.run.workdir / "pipeline",
                pipeline_name=start.pipeline_name,
            )
            result = runner.run(start.parameters, on_step=on_step, execution_arn=start.execution_arn)
        except Exception as exc:  # noqa: BLE001 - a runner error must fail the execution, never leave it Executing
            with self._lock:
                report(
                    start.execution_arn,
                    "Failed",
                    f"local pipeline runner: {exc}",
                    [r.to_api() for r in records.values()],
                )
            return
        self.results[start.execution_arn] = result
        with self._lock:
            report(start.execution_arn, result.status, result.failure_reason or "", [r.to_api() for r in result.steps])


class LocalDeployments:
    """Plugged into the emulator's CreateEndpoint / UpdateEndpoint / CreateTransformJob: does the real work in a
    thread (a local model server; the transform job) and reports the outcome, so the deploy execution's poll loops
    see Creating → InService (or Failed) and InProgress → Completed (or Failed) as in AWS."""

    # The tag the state machine puts on what it creates; other transform jobs (a pipeline's) are not ours to run.
    STATE_MACHINE_TAG = "sagemaker-secure-mlops:execution"

    def __init__(self, run: LocalRun) -> None:
        self.run = run
        self.servers: dict[str, Any] = {}  # endpoint name → EndpointServer
        self.transforms: dict[str, Any] = {}  # job name → TransformResult
        self.threads: list[threading.Thread] = []
        self._count = 0

    def _start(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _model_dir(self, kind: str) -> Path:
        self._count += 1
        return self.run.workdir / f"{kind}-model-{self._count}"

    def endpoint_changed(self, endpoint_name: str, config_name: str) -> None:
        self._start(lambda: self._serve(endpoint_name, config_name), f"endpoint-{endpoint_name}")

    def _serve(self, endpoint_name: str, config_name: str) -> None:
        from local_twin.endpoint_server import EndpointServer

        report = self.run.extensions.deployments.report_endpoint
        try:
            config = self.run.sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
            model = self.run.load_deployed_model(
                config["ProductionVariants"][0]["ModelName"], self._model_dir("endpoint")
            )
            server = EndpointServer(model).start()
        except Exception as exc:  # noqa: BLE001 - any failure is the endpoint's FailureReason, as in SageMaker
            report(endpoint_name, f"{type(exc).__name__}: {exc}")
            return
        previous = self.servers.get(endpoint_name)
        self.servers[endpoint_name] = server
        if previous is not None:
            previous.stop()
        self.run.reporter.note(f"endpoint {endpoint_name}: serving on {server.url}")
        report(endpoint_name)

    def transform_job_created(self, job: dict[str, Any]) -> None:
        name = str(job["TransformJobName"])
        tags = {tag.get("Key") for tag in job.get("Tags") or [] if isinstance(tag, dict)}
        if self.STATE_MACHINE_TAG not in tags:
            self.run.extensions.deployments.report_transform_job(name)  # moto's instant Completed, as before
            return
        self._start(lambda: self._transform(job), f"transform-{name}")

    def _transform(self, job: dict[str, Any]) -> None:
        from local_twin.batch_transform import TransformSpec, run_transform

        name = str(job["TransformJobName"])
        report = self.run.extensions.deployments.report_transform_job
        try:
            spec = TransformSpec.from_description(job)
            model = self.run.load_deployed_model(spec.model_name, self._model_dir("transform"))
            result = run_transform(spec, model, self.run.s3)
        except Exception as exc:  # noqa: BLE001 - any failure is the job's FailureReason, as in SageMaker
            report(name, f"{type(exc).__name__}: {exc}")
            return
        self.transforms[name] = result
        self.run.reporter.note(f"transform job {name}: {result.records} records")
        report(name)

    def close(self) -> None:
        for thread in self.threads:
            thread.join()
        kept = set(map(id, self.run.serving or []))
        for server in self.servers.values():
            if id(server) not in kept:
                server.stop()
