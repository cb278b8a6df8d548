"""Run a pipeline definition: the DAG, the records, the result.

Public API (what the local twin's emulator calls when the state machine starts a pipeline execution)::

    runner = PipelineRunner(
        definition,                 # the definition JSON (str or dict) with its deploy tokens already filled
        store=S3Store(s3_client),   # or LocalDirectoryStore(path): where s3:// URIs are read and written
        sagemaker_client=sm,        # boto3 SageMaker client (moto): RegisterModel, CreateModel, transform jobs
        workdir=Path("build/..."),  # per-step scratch folders that stand in for /opt/ml
    )
    result = runner.run({"MseThreshold": "6.0"}, on_step=callback, execution_arn=arn)
    result.status                   # "Succeeded" | "Failed"
    result.failure_reason           # None, the FailStep's message, or "Step failure: <step> ..."
    result.steps                    # [StepRecord] in start order; record.to_api() is a ListPipelineExecutionSteps
                                    # entry (that API lists the newest first: reverse the list to match it)
    result.model_package_arn        # the RegisterModel step's package, if one ran

The constructor validates the whole definition (parse_definition) and ``run`` validates the parameters, both before
anything runs, raising DefinitionError. ``on_step`` is called (from worker threads, one call at a time) every time a
record changes: when a step starts Executing and when it ends. Independent steps run in parallel on a thread pool;
after a failure no new step starts, running ones finish, and the execution is Failed.
"""

from __future__ import annotations

import json
import re
import secrets
import string
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from local_twin.images import LocalImage
from local_twin.pipeline_runner.definition import (
    DefinitionError,
    ParameterValue,
    PipelineDefinition,
    StepSpec,
    parse_definition,
)
from local_twin.pipeline_runner.expressions import (
    ExpressionError,
    PathElement,
    evaluate,
    evaluate_condition,
)
from local_twin.pipeline_runner.properties import resolve_property
from local_twin.pipeline_runner.quality_check import run_quality_check
from local_twin.pipeline_runner.steps import (
    Executor,
    JobEnvironment,
    StepFailed,
    StepOutcome,
    run_create_model,
    run_processing,
    run_register_model,
    run_training,
    run_transform,
)
from local_twin.storage import ObjectStore

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

StepStatus = Literal["Executing", "Succeeded", "Failed"]
ExecutionStatus = Literal["Succeeded", "Failed"]
DEFAULT_ACCOUNT = "123456789012"  # moto's default account, used when no execution ARN says otherwise
_EXECUTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:(?P<region>[^:]+):(?P<account>\d{12}):"
    r"pipeline/(?P<pipeline>[^/]+)/execution/(?P<id>[^/]+)$"
)

EXECUTORS: dict[str, Executor] = {
    "Processing": run_processing,
    "Training": run_training,
    "RegisterModel": run_register_model,
    "Model": run_create_model,
    "Transform": run_transform,
}


@dataclass(frozen=True)
class StepRecord:
    """One step of an execution, as ListPipelineExecutionSteps reports it (plus the step's outputs)."""

    step_name: str
    step_type: str
    step_status: StepStatus
    start_time: datetime
    end_time: datetime | None = None
    failure_reason: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        """The PipelineExecutionStepSummary shape (datetimes kept, as boto3 returns them)."""
        summary: dict[str, Any] = {
            "StepName": self.step_name,
            "StepStatus": self.step_status,
            "StartTime": self.start_time,
            "Metadata": self.metadata,
            "AttemptCount": 1,
        }
        if self.end_time is not None:
            summary["EndTime"] = self.end_time
        if self.failure_reason is not None:
            summary["FailureReason"] = self.failure_reason
        return summary


@dataclass(frozen=True)
class ExecutionResult:
    execution_arn: str
    status: ExecutionStatus
    failure_reason: str | None
    parameters: dict[str, ParameterValue]
    steps: list[StepRecord]
    start_time: datetime
    end_time: datetime
    model_package_arn: str | None = None
    property_files: dict[str, dict[str, Any]] = field(default_factory=dict)  # "<step>.<file>" → parsed JSON

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary (build/pipeline-local/execution.json)."""
        document = asdict(self)
        document["wall_seconds"] = round((self.end_time - self.start_time).total_seconds(), 3)
        for record in document["steps"]:
            start, end = record["start_time"], record["end_time"]
            record["seconds"] = round((end - start).total_seconds(), 3) if end else None
        converted: dict[str, Any] = json.loads(json.dumps(document, default=_json_default))
        return converted


def _describe(error: Exception) -> str:
    """An unexpected error as a failure reason: the expression errors speak for themselves, others get their type."""
    return str(error) if isinstance(error, ExpressionError) else f"{type(error).__name__}: {error}"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class PipelineRunner:
    """Executes one validated definition; each ``run`` is one pipeline execution."""

    def __init__(
        self,
        definition: str | Mapping[str, Any] | PipelineDefinition,
        *,
        store: ObjectStore,
        sagemaker_client: SageMakerClient,
        workdir: Path,
        pipeline_name: str = "local-pipeline",
        max_workers: int = 2,
        image_table: Mapping[tuple[str, str], LocalImage] | None = None,
    ) -> None:
        self.definition = definition if isinstance(definition, PipelineDefinition) else parse_definition(definition)
        self.store = store
        self.sagemaker = sagemaker_client
        self.workdir = workdir
        self.pipeline_name = pipeline_name
        self.max_workers = max_workers
        self.image_table = image_table

    def run(
        self,
        parameters: Mapping[str, ParameterValue] | None = None,
        on_step: Callable[[StepRecord], None] | None = None,
        *,
        execution_arn: str | None = None,
    ) -> ExecutionResult:
        """Run every step the DAG and the conditions reach; return the execution's result."""
        resolved = self.definition.resolve_parameters(parameters or {})
        region = self.sagemaker.meta.region_name
        if execution_arn is None:
            alphabet = string.ascii_lowercase + string.digits
            execution_id = "".join(secrets.choice(alphabet) for _ in range(12))
            pipeline = self.pipeline_name.lower()
            execution_arn = f"arn:aws:sagemaker:{region}:{DEFAULT_ACCOUNT}:pipeline/{pipeline}/execution/{execution_id}"
        match = _EXECUTION_ARN.match(execution_arn)
        if not match:
            raise DefinitionError(f"{execution_arn!r} is not a pipeline execution ARN")
        execution = _Execution(self, resolved, match.groupdict(), execution_arn, on_step)
        return execution.run()


class _Execution:
    """The mutable state of one run; implements the EvaluationContext the expressions need."""

    def __init__(
        self,
        runner: PipelineRunner,
        parameters: dict[str, ParameterValue],
        arn_parts: dict[str, str],
        execution_arn: str,
        on_step: Callable[[StepRecord], None] | None,
    ) -> None:
        self.runner = runner
        self.definition = runner.definition
        self.parameters = parameters
        self.execution_arn = execution_arn
        self.execution_id = arn_parts["id"]
        self.pipeline_name = arn_parts["pipeline"]
        self.start_time = datetime.now(UTC)
        self.on_step = on_step
        self.lock = threading.Lock()
        self.callback_lock = threading.Lock()
        self.properties: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.outcomes: dict[str, bool] = {}
        self.records: dict[str, StepRecord] = {}
        # pending → running → Succeeded | Failed; "skipped" = not reached (a branch not taken)
        self.state: dict[str, str] = dict.fromkeys(self.definition.steps, "pending")
        self.environment = JobEnvironment(
            store=runner.store,
            sagemaker=runner.sagemaker,
            workdir=runner.workdir / self.execution_id,
            region=arn_parts["region"],
            account=arn_parts["account"],
            job_name=self.job_name,
            image_table=runner.image_table,
        )

    # --- EvaluationContext ------------------------------------------------------------------------------------
    def parameter(self, name: str) -> Any:
        return self.parameters[name]

    def execution_variable(self, name: str) -> Any:
        values = {
            "PipelineExecutionId": self.execution_id,
            "PipelineExecutionArn": self.execution_arn,
            "PipelineName": self.pipeline_name,
            "PipelineArn": self.execution_arn.split("/execution/")[0],
            "PipelineExperimentName": self.pipeline_name,
            "PipelineExperimentTrialName": self.execution_id,
            "StartDateTime": self.start_time.isoformat(),
            "CurrentDateTime": datetime.now(UTC).isoformat(),
        }
        return values[name]

    def step_property(self, step: str, path: tuple[PathElement, ...], text: str) -> Any:
        with self.lock:
            properties = self.properties.get(step)
        if properties is None:
            raise ExpressionError(f"{text}: step {step!r} has not run")
        return resolve_property(properties, path, text)

    def property_file(self, step: str, file_name: str) -> Any:
        with self.lock:
            files = self.files.get(step)
        if files is None or file_name not in files:
            raise ExpressionError(f"Steps.{step}.PropertyFiles.{file_name}: step {step!r} has not produced it")
        return files[file_name]

    # --- scheduling -------------------------------------------------------------------------------------------
    def job_name(self, step: str) -> str:
        """pipelines-<execution id>-<step>, within SageMaker's 63-character, [a-zA-Z0-9-] job-name rule."""
        return re.sub(r"[^a-zA-Z0-9-]", "-", f"pipelines-{self.execution_id}-{step}")[:63].rstrip("-")

    def _decision(self, name: str) -> str:
        """ "run", "wait" or "skip" for a pending step."""
        step = self.definition.steps[name]
        upstream = [self.state[u] for u in self.definition.upstream[name]]
        if any(s in ("pending", "running") for s in upstream):
            return "wait"
        if any(s != "Succeeded" for s in upstream):
            return "skip"
        if step.branch_of is not None:
            condition, branch = step.branch_of
            if self.outcomes[condition] != (branch == "if"):
                return "skip"
        return "run"

    def run(self) -> ExecutionResult:
        failed: list[str] = []
        futures: dict[Future[None], str] = {}
        with ThreadPoolExecutor(max_workers=self.runner.max_workers, thread_name_prefix="pipeline-step") as pool:
            while True:
                progressed = True
                while progressed and not failed:
                    progressed = False
                    for name in self.definition.steps:
                        if self.state[name] != "pending":
                            continue
                        decision = self._decision(name)
                        if decision == "skip":
                            self.state[name] = "skipped"
                            progressed = True
                        elif decision == "run":
                            self.state[name] = "running"
                            futures[pool.submit(self._run_step, name)] = name
                if not futures:
                    break
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    name = futures.pop(future)
                    future.result()  # _run_step records failures itself; anything raised here is a runner bug
                    if self.state[name] == "Failed":
                        failed.append(name)
        return self._result(failed)

    def _result(self, failed: list[str]) -> ExecutionResult:
        reason = None
        if failed:
            first = self.records[failed[0]]
            if first.step_type == "Fail":
                reason = first.failure_reason
            else:
                reason = f"Step failure: {first.step_name} failed: {first.failure_reason}"
        package = None
        for record in self.records.values():
            if record.step_type == "RegisterModel" and record.step_status == "Succeeded":
                package = record.metadata["RegisterModel"]["Arn"]
        files = {f"{step}.{name}": content for step, by_name in self.files.items() for name, content in by_name.items()}
        return ExecutionResult(
            execution_arn=self.execution_arn,
            status="Failed" if failed else "Succeeded",
            failure_reason=reason,
            parameters=self.parameters,
            steps=sorted(self.records.values(), key=lambda r: r.start_time),
            start_time=self.start_time,
            end_time=datetime.now(UTC),
            model_package_arn=package,
            property_files=files,
        )

    def _publish(self, record: StepRecord) -> None:
        with self.lock:
            self.records[record.step_name] = record
        if self.on_step is not None:
            with self.callback_lock:
                self.on_step(record)

    def _run_step(self, name: str) -> None:
        step = self.definition.steps[name]
        record = StepRecord(step_name=name, step_type=step.type, step_status="Executing", start_time=datetime.now(UTC))
        self._publish(record)
        try:
            outcome = self._execute(step)
        except Exception as error:  # noqa: BLE001 - whatever stops a step must be recorded as its failure, not lost
            reason = error.reason if isinstance(error, StepFailed) else f"step {name!r}: {_describe(error)}"
            metadata = error.metadata if isinstance(error, StepFailed) else {}
            with self.lock:
                self.state[name] = "Failed"
            self._publish(
                replace(
                    record,
                    step_status="Failed",
                    end_time=datetime.now(UTC),
                    failure_reason=reason,
                    metadata=metadata,
                )
            )
            return
        with self.lock:
            self.properties[name] = outcome.properties
            if outcome.property_files:
                self.files[name] = outcome.property_files
            self.state[name] = "Succeeded"
        self._publish(
            replace(
                record,
                step_status="Succeeded",
                end_time=datetime.now(UTC),
                metadata=outcome.metadata,
                outputs=outcome.outputs,
            )
        )

    def _execute(self, step: StepSpec) -> StepOutcome:
        if step.type == "Condition":
            outcome = all(evaluate_condition(c, self) for c in step.arguments["Conditions"])
            with self.lock:
                self.outcomes[step.name] = outcome
            return StepOutcome({"Outcome": outcome}, {"Condition": {"Outcome": str(outcome)}}, {"Outcome": outcome})
        if step.type == "Fail":
            message = str(evaluate(step.arguments["ErrorMessage"], self))
            raise StepFailed(message, {"Fail": {"ErrorMessage": message}})
        arguments = evaluate(step.arguments, self)
        if step.type == "QualityCheck":  # its check fields sit beside its Arguments and are evaluated too
            return run_quality_check(step, arguments, evaluate(step.attributes, self), self.environment)
        return EXECUTORS[step.type](step, arguments, self.environment)
