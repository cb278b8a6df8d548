"""The local endpoint: single-row latency (p50, p99) and requests per second, from a second process on loopback.

The server is the local twin's own (local_twin.endpoint_server) serving the model the endpoint run registered and
deployed; the client (bench/load_client.py) is a separate interpreter, so client and server do not share a GIL.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.core import FigureSpec, Measurement, percentile
from bench.paths import BUILD_DIR, REPO_ROOT, VENV_PYTHON, BenchError

P50_GOAL_MS = 5.0
THROUGHPUT_GOAL = 300.0
REQUESTS = 1000
MAX_SECONDS = 15.0
CONCURRENCY = 4

P50_SPEC = FigureSpec("endpoint.latency_p50", "ms", P50_GOAL_MS, description="one row per request, sequential")
P99_SPEC = FigureSpec("endpoint.latency_p99", "ms", description="one row per request, sequential")
THROUGHPUT_SPEC = FigureSpec(
    "endpoint.throughput",
    "req/s",
    THROUGHPUT_GOAL,
    direction="min",
    description=f"one row per request, {CONCURRENCY} connections",
)

# Where a twin run leaves the deployed model and the test split: the bench's own endpoint run first, else make local's.
RUN_DIRS = (BUILD_DIR / "local-run-endpoint", REPO_ROOT / "build" / "local-run")


def model_dir(run_dir: Path) -> Path | None:
    """The newest model folder the run's local endpoint served (``work/endpoint-model*``), if any."""
    folders = [path for path in (run_dir / "work").glob("endpoint-model*") if path.is_dir() and any(path.iterdir())]
    return max(folders, key=lambda path: path.stat().st_mtime) if folders else None


def find_run(candidates: Sequence[Path] = RUN_DIRS) -> tuple[Path, Path]:
    """(run folder, model folder) of the first run that served a model and kept its test split."""
    for run_dir in candidates:
        model = model_dir(run_dir)
        if model is not None and (run_dir / "test.csv").is_file():
            return run_dir, model
    raise BenchError(
        "no deployed model to serve: run the local twin first (the local_twin group, or `make local`); looked in "
        + ", ".join(str(path) for path in candidates)
    )


def feature_rows(test_csv: Path) -> list[str]:
    """The test split's rows without their label (the first column), as a client sends them."""
    rows = [line.partition(",")[2] for line in test_csv.read_text().splitlines() if line.strip()]
    if not rows or not all(rows):
        raise BenchError(f"{test_csv} holds no label,features rows")
    return rows


def measurements_from_client(report: dict[str, Any]) -> list[Measurement]:
    latencies = [float(value) for value in report["latencies_ms"]]
    seconds = float(report["concurrent_seconds"])
    if not latencies or seconds <= 0:
        raise BenchError(f"the load client measured nothing: {report}")
    return [
        Measurement(P50_SPEC, percentile(latencies, 0.50)),
        Measurement(P99_SPEC, percentile(latencies, 0.99)),
        Measurement(THROUGHPUT_SPEC, int(report["concurrent_requests"]) / seconds),
    ]


def run_endpoint() -> list[Measurement]:
    from local_twin.endpoint_server import EndpointServer, load_model

    run_dir, model = find_run()
    rows_file = BUILD_DIR / "endpoint-rows.csv"
    rows_file.parent.mkdir(parents=True, exist_ok=True)
    rows_file.write_text("\n".join(feature_rows(run_dir / "test.csv")) + "\n")
    with EndpointServer(load_model(model)) as server:
        command = [
            str(VENV_PYTHON),
            "-m",
            "bench.load_client",
            "--url",
            server.url,
            "--rows",
            str(rows_file),
            "--requests",
            str(REQUESTS),
            "--max-seconds",
            str(MAX_SECONDS),
            "--concurrency",
            str(CONCURRENCY),
        ]
        completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise BenchError(f"the load client failed (exit {completed.returncode}):\n{completed.stderr[-2000:]}")
    return measurements_from_client(json.loads(completed.stdout.strip().splitlines()[-1]))
