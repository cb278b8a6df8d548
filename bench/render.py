"""Rendering the pipeline definition (``make definition``): its time, and the network connections it attempts.

The probe (bench/render_probe.py) runs in .venv-render, the SageMaker SDK's own environment, exactly as
``make definition`` does, into a scratch folder under build/bench so the real build output is not touched.
"""

from __future__ import annotations

import json
from typing import Any

from bench.core import FigureSpec, Measurement
from bench.paths import BUILD_DIR, RENDER_PYTHON, BenchError, run_timed

RENDER_SECONDS_GOAL = 3.0
WALL_SPEC = FigureSpec("render.wall", "s", RENDER_SECONDS_GOAL, description="make definition: process start to exit")
IN_PROCESS_SPEC = FigureSpec("render.in_process", "s", description="ml_code.render.main, SDK import included")
CPU_SPEC = FigureSpec("render.cpu", "s", description="CPU time (user + system) of the render process")
ATTEMPTS_SPEC = FigureSpec("render.connection_attempts", "connections", 0, description="socket guard in .venv-render")


def measurements_from_probe(wall_seconds: float, report: dict[str, Any], cpu_seconds: float) -> list[Measurement]:
    if report.get("error"):
        raise BenchError(
            f"rendering failed behind the socket guard: {report['error']} (attempts: {report['attempts']})"
        )
    return [
        Measurement(WALL_SPEC, wall_seconds),
        Measurement(IN_PROCESS_SPEC, float(report["seconds"])),
        Measurement(CPU_SPEC, cpu_seconds),
        Measurement(ATTEMPTS_SPEC, float(report["connection_attempts"])),
    ]


def run_render() -> list[Measurement]:
    if not RENDER_PYTHON.exists():
        raise BenchError(f"{RENDER_PYTHON} is missing: run `make setup` (make bench does)")
    output_dir = BUILD_DIR / "render"
    command = [str(RENDER_PYTHON), "-m", "bench.render_probe", "--output-dir", str(output_dir)]
    timed = run_timed(command)
    lines = [line for line in timed.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise BenchError(f"the render probe printed no report (exit {timed.returncode}): {timed.stderr[-2000:]}")
    return measurements_from_probe(timed.wall_seconds, json.loads(lines[-1]), timed.cpu_seconds)
