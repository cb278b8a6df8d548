"""The local twin end to end (``make local``), for both targets: the process's wall time and its stages.

The driver is run exactly as ``make local`` runs it (``.venv/bin/python -m local_twin``), in its own process, so the
wall time includes the interpreter start and the imports a user waits for. The per-stage and per-step times come from
the summary.json the driver writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.core import FigureSpec, Measurement
from bench.paths import BUILD_DIR, VENV_PYTHON, BenchError, run_timed

END_TO_END_GOAL_SECONDS = 12.0  # the endpoint flow, warm, on a 2-core machine (issue 16; 20 s in issue 8)
TEST_MSE_GOAL = 5.0
TARGETS = ("endpoint", "batch")


def output_dir(target: str) -> Path:
    return BUILD_DIR / f"local-run-{target}"


def end_to_end_spec(target: str) -> FigureSpec:
    return FigureSpec(
        f"local_twin.{target}.end_to_end",
        "s",
        END_TO_END_GOAL_SECONDS if target == "endpoint" else None,
        description=f"`make local` ({target}): process start to exit",
    )


def cpu_spec(target: str) -> FigureSpec:
    return FigureSpec(
        f"local_twin.{target}.cpu", "s", description="CPU time (user + system) of the run and its pipeline jobs"
    )


def stage_spec(target: str, stage: str) -> FigureSpec:
    return FigureSpec(f"local_twin.{target}.stage.{stage}", "s")


def step_spec(target: str, step: str) -> FigureSpec:
    return FigureSpec(f"local_twin.{target}.pipeline_step.{step}", "s")


TEST_MSE_SPEC = FigureSpec("model.test_mse", "rings²", TEST_MSE_GOAL, description="held-out test split, evaluate step")


def measurements_from_summary(
    target: str, wall_seconds: float, summary: Mapping[str, Any], cpu_seconds: float | None = None
) -> list[Measurement]:
    """The figures of one run: end-to-end wall time (and CPU time), each stage that ran, each pipeline step, the
    test MSE."""
    if summary.get("status") != "succeeded":
        raise BenchError(
            f"make local --target {target} failed at {summary.get('failed_stage')}: {summary.get('failure_reason')}"
        )
    measured = [Measurement(end_to_end_spec(target), wall_seconds)]
    if cpu_seconds is not None:
        measured.append(Measurement(cpu_spec(target), cpu_seconds))
    for stage in summary.get("stages", []):
        if stage.get("status") == "succeeded":
            measured.append(Measurement(stage_spec(target, str(stage["name"])), float(stage["seconds"])))
    for step in summary.get("pipeline_steps", []):
        if step.get("seconds") is not None:
            measured.append(Measurement(step_spec(target, str(step["name"])), float(step["seconds"])))
    if summary.get("test_mse") is not None:
        measured.append(Measurement(TEST_MSE_SPEC, float(summary["test_mse"])))
    return measured


def run_local_twin(target: str) -> list[Measurement]:
    """One ``make local --target <target>`` run in a fresh process; its output goes to build/bench/."""
    out = output_dir(target)
    out.mkdir(parents=True, exist_ok=True)
    summary_path = out / "summary.json"
    summary_path.unlink(missing_ok=True)
    command = [str(VENV_PYTHON), "-m", "local_twin", "--target", target, "--output-dir", str(out)]
    timed = run_timed(command, log=out / "driver-output.txt")
    if not summary_path.exists():
        raise BenchError(
            f"make local --target {target} exited {timed.returncode} without a summary; see {out / 'driver-output.txt'}"
        )
    summary = json.loads(summary_path.read_text())
    return measurements_from_summary(target, timed.wall_seconds, summary, timed.cpu_seconds)
