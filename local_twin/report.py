"""What a local run shows and leaves behind: per-stage progress on the terminal, the summary table, summary.json.

The flow (:mod:`local_twin.flow`) reports through a :class:`Reporter` and fills a :class:`Summary`; nothing here knows
how the stages work.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table

LOG_NAME = "run.log"  # in the output directory: handler logs, job output, emulator warnings


class StageError(RuntimeError):
    """A stage of the run failed for a reason the run can name (as opposed to a bug, which keeps its traceback)."""


class UsageError(ValueError):
    """A command-line option or the data location is wrong; the message says how to fix it."""


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


# --- summary ---------------------------------------------------------------------------------------------------------
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
    sample_record: str | None = None  # one raw test record, as a user would send it
    sample_prediction: str | None = None  # the endpoint's answer to it (Accept: application/json)
    violations: list[str] | None = None  # the features the monitoring run found violating the baseline (endpoint)
    drift: dict[str, Any] | None = None  # the monitoring run, the drift alarm's state and its notification
    report_html: str | None = None
    # --accounts 3: per account (registry, staging, production): its role, account id, stack, endpoint, the version it
    # serves and the status of its deploy execution
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
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
            None if output_dir is None or summary.status == "succeeded" else str(output_dir / LOG_NAME),
        ),
        ("target", summary.target),
        ("test MSE", None if summary.test_mse is None else f"{summary.test_mse:.4f}"),
        ("model package", summary.model_package_arn),
        ("version", summary.model_package_version),
        ("approval", summary.approval_status),
        *[(f"execution {e.mode}", f"{e.name}: {e.status} ({len(e.states)} states)") for e in summary.executions],
        *_account_rows(summary.accounts),
        ("endpoint URL", summary.endpoint_url),
        ("sample record", summary.sample_record),
        ("its prediction", summary.sample_prediction),
        ("transform output", ", ".join(summary.transform_output) or None),
        ("predictions", summary.predictions_count),
        ("predictions MSE", None if summary.predictions_mse is None else f"{summary.predictions_mse:.4f}"),
        ("violations", None if summary.violations is None else ", ".join(summary.violations) or "none"),
        *_drift_rows(summary.drift),
        ("report", summary.report_html),
        ("wall time", f"{summary.total_seconds:.1f} s ({split})"),
    ]
    for label, value in rows:
        if value is not None:
            table.add_row(label, str(value))
    console.print(table)


def _account_rows(accounts: dict[str, dict[str, Any]]) -> list[tuple[str, object]]:
    """--accounts 3: one line per account -- its id and stack, and for a target what it serves."""
    rows: list[tuple[str, object]] = []
    for role, account in accounts.items():
        text = f"{account.get('account_id')} {account.get('stack')}"
        if account.get("endpoint_name"):
            text += (
                f"; {account['endpoint_name']} serves version {account.get('served_version')}"
                f" ({account.get('deploy_execution_status')} {account.get('deploy_outcome')})"
            )
        rows.append((f"account {role}", text))
    return rows


def _drift_rows(drift: dict[str, Any] | None) -> list[tuple[str, object]]:
    if not drift:
        return []
    return [
        ("monitoring run", f"{drift.get('execution_status')} on {drift.get('rows_analyzed')} captured rows"),
        ("drift alarm", f"{drift.get('alarm')}: {drift.get('alarm_state')}"),
        ("notification", drift.get("notification")),
    ]


def write_summary(summary: Summary, output_dir: Path) -> Path:
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / "summary.json"
    path.write_text(summary.to_json())
    return path


def record_failure(summary: Summary, stage: str, exc: BaseException) -> None:
    """Fill the summary's failure fields; a bug (not a StageError) keeps its traceback for the reader."""
    summary.status = "failed"
    summary.failed_stage = stage
    summary.failure_reason = _reason(exc)
    if not isinstance(exc, (StageError, UsageError, KeyboardInterrupt)):
        summary.failure_reason = f"{type(exc).__name__}: {summary.failure_reason}"
        summary.failure_traceback = "".join(traceback.format_exception(exc)).rstrip()
