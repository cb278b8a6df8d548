"""The local runs the e2e tests read: each flow runs once per session (they train on the real abalone data) and
several tests read what it produced -- build/local-run's summary.json, the evaluation report, the test split, the
predictions, the drift report and report.html, all copied out of the emulated S3 by the run."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local_twin.cli import main


@dataclass(frozen=True)
class Run:
    code: int
    summary: dict[str, Any]
    output_dir: Path
    console: str

    def stage(self, name: str) -> dict[str, Any]:
        return next(stage for stage in self.summary["stages"] if stage["name"] == name)

    def execution(self, mode: str) -> dict[str, Any]:
        return next(execution for execution in self.summary["executions"] if execution["mode"] == mode)

    def test_rows(self) -> list[list[str]]:
        return [line.split(",") for line in (self.output_dir / "test.csv").read_text().splitlines() if line]


def local_run(output_dir: Path, data: Path, *args: str) -> Run:
    stream = io.StringIO()
    code = main([*args, "--data", str(data), "--output-dir", str(output_dir)], stream=stream, live=False)
    summary = json.loads((output_dir / "summary.json").read_text())
    return Run(code, summary, output_dir, stream.getvalue())


@pytest.fixture(scope="session")
def data() -> Path:
    path = Path(__file__).resolve().parents[2] / "data" / "abalone.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make data` (data/README.md)")
    return path


@pytest.fixture(scope="session")
def endpoint_run(tmp_path_factory: pytest.TempPathFactory, data: Path) -> Run:
    return local_run(tmp_path_factory.mktemp("endpoint"), data)


@pytest.fixture(scope="session")
def drift_run(tmp_path_factory: pytest.TempPathFactory, data: Path) -> Run:
    return local_run(tmp_path_factory.mktemp("drift"), data, "--drift")


@pytest.fixture(scope="session")
def batch_run(tmp_path_factory: pytest.TempPathFactory, data: Path) -> Run:
    return local_run(tmp_path_factory.mktemp("batch"), data, "--target", "batch")


@pytest.fixture(scope="session")
def three_account_run(tmp_path_factory: pytest.TempPathFactory, data: Path) -> Run:
    """The flow across a registry, a staging and a production account (``--accounts 3``)."""
    return local_run(tmp_path_factory.mktemp("three-accounts"), data, "--accounts", "3")
