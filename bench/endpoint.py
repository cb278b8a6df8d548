"""The local endpoint: single-row latency (p50, p99) and requests per second, from a second process on loopback.

The server is the local twin's serving container (local_twin.serving.ServingContainer: the SageMaker XGBoost image's
serving stack as a process), started the way the twin's endpoint starts it: the image and container environment of
the model package that was approved and deployed (the run's approval-event.json, whose detail is the package as
DescribeModelPackage returns it) and the model archive the endpoint unpacked (``work/endpoint-<n>/model``). With
the project's package (no ``SAGEMAKER_PROGRAM``) that is the image's algorithm mode. The client
(bench/load_client.py) is a separate interpreter, so client and server do not share a GIL; it sends the rows of the
run's test split (test.csv, label first), one per request. Before the load, the whole split is scored once and
compared with the predictions the run's endpoint returned (predictions.csv), so the figures are of that model.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
APPROVAL_EVENT = "approval-event.json"
CONTAINER_WORK_DIR = BUILD_DIR / "endpoint-container"


@dataclass(frozen=True)
class ServedModel:
    """What a twin run deployed to its endpoint: the unpacked model, the image and container environment, the rows."""

    run_dir: Path
    model_dir: Path
    image: str
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def test_csv(self) -> Path:
        return self.run_dir / "test.csv"

    @property
    def predictions_csv(self) -> Path:
        return self.run_dir / "predictions.csv"

    @property
    def mode(self) -> str:
        """The image's serving mode: script mode iff ``SAGEMAKER_PROGRAM`` is set (even empty), as in the image."""
        return "script mode" if "SAGEMAKER_PROGRAM" in self.environment else "algorithm mode"


def model_dir(run_dir: Path) -> Path | None:
    """The newest model folder the run's local endpoint served (``work/endpoint-<n>/model``, not empty), if any."""
    folders = [path for path in (run_dir / "work").glob("endpoint-*/model") if path.is_dir() and any(path.iterdir())]
    return max(folders, key=lambda path: path.stat().st_mtime) if folders else None


def container_of(event: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """(image, environment) of the package's first inference container, from its state-change event."""
    try:
        container = event["detail"]["InferenceSpecification"]["Containers"][0]
        image = str(container["Image"])
    except (KeyError, IndexError, TypeError) as exc:
        raise BenchError(f"the approval event names no inference container image ({exc!r})") from exc
    environment = {str(key): str(value) for key, value in (container.get("Environment") or {}).items()}
    return image, environment


def find_run(candidates: Sequence[Path] = RUN_DIRS) -> ServedModel:
    """The first run that deployed a model to its endpoint and kept its test split and approval event."""
    for run_dir in candidates:
        model = model_dir(run_dir)
        event = run_dir / APPROVAL_EVENT
        if model is not None and (run_dir / "test.csv").is_file() and event.is_file():
            image, environment = container_of(json.loads(event.read_text()))
            return ServedModel(run_dir, model, image, environment)
    raise BenchError(
        "no deployed model to serve: run the local twin first (the local_twin_endpoint group, or `make local`); "
        "looked in " + ", ".join(str(path) for path in candidates)
    )


def feature_rows(test_csv: Path) -> list[str]:
    """The test split's rows without their label (the first column), as a client sends them."""
    rows = [line.partition(",")[2] for line in test_csv.read_text().splitlines() if line.strip()]
    if not rows or not all(rows):
        raise BenchError(f"{test_csv} holds no label,features rows")
    return rows


def check_predictions(served: Sequence[float], recorded_file: Path, tolerance: float = 1e-5) -> None:
    """The container answers what the run's endpoint answered (its predictions.csv, one per test row, in order): the
    figures are of the model the run deployed, not of a server that merely answers."""
    recorded = [float(line) for line in recorded_file.read_text().splitlines() if line.strip()]
    if len(recorded) != len(served):
        raise BenchError(f"{len(served)} predictions served, {len(recorded)} recorded in {recorded_file}")
    differing = [
        index
        for index, (mine, theirs) in enumerate(zip(served, recorded, strict=True))
        if abs(mine - theirs) > tolerance * max(1.0, abs(theirs))
    ]
    if differing:
        first = differing[0]
        raise BenchError(
            f"{len(differing)} of {len(served)} predictions differ from {recorded_file} (row {first + 1}: "
            f"{served[first]} served, {recorded[first]} recorded): the model served is not the run's"
        )


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


NOTES: list[str] = []  # what was served, for the notes under the table (once per bench run)


def notes() -> list[str]:
    served, NOTES[:] = list(dict.fromkeys(NOTES)), []
    return served


def run_endpoint() -> list[Measurement]:
    from local_twin.images import ImageError
    from local_twin.serving import ContainerError, InvocationError, ServingContainer, score_rows

    served = find_run()
    rows = feature_rows(served.test_csv)
    rows_file = BUILD_DIR / "endpoint-rows.csv"
    rows_file.parent.mkdir(parents=True, exist_ok=True)
    rows_file.write_text("\n".join(rows) + "\n")
    try:
        with ServingContainer(served.image, served.model_dir, served.environment, work_dir=CONTAINER_WORK_DIR) as box:
            checked = "not checked (the run kept no predictions.csv)"
            if served.predictions_csv.is_file():
                check_predictions(score_rows(box.url, rows), served.predictions_csv)
                checked = f"its {len(rows)} test predictions equal the run's"
            command = [
                str(VENV_PYTHON),
                "-m",
                "bench.load_client",
                "--url",
                box.url,
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
    except (ContainerError, ImageError, InvocationError) as exc:
        raise BenchError(f"serving {served.model_dir} failed: {exc}") from exc
    if completed.returncode != 0:
        raise BenchError(f"the load client failed (exit {completed.returncode}):\n{completed.stderr[-2000:]}")
    NOTES.append(f"endpoint: {served.image} in {served.mode}, model {served.model_dir}; {checked}")
    return measurements_from_client(json.loads(completed.stdout.strip().splitlines()[-1]))
