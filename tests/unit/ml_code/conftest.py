"""Fixtures for the ML code: the rendered definition (read as JSON: the SDK is not in this environment) and
small synthetic abalone files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFINITION_PATH = REPO_ROOT / "build" / "pipeline-definition.json"
IMAGE_URIS_PATH = REPO_ROOT / "build" / "image-uris.json"


def _read_build_output(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `make definition` first (`make test` does)")
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def definition() -> dict[str, Any]:
    """build/pipeline-definition.json, exactly as `make definition` wrote it (and as it deploys)."""
    data: dict[str, Any] = _read_build_output(DEFINITION_PATH)
    return data


@pytest.fixture(scope="session")
def image_uris() -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = _read_build_output(IMAGE_URIS_PATH)
    return data


SYNTHETIC_ROWS = [
    "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15,15",
    "F,0.53,0.42,0.135,0.677,0.2565,0.1415,0.21,9",
    "I,0.33,0.255,0.08,0.205,0.0895,0.0395,0.055,7",
]


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[[list[str]], Path]:
    """Write rows (already CSV-formatted) to a fresh file and return its path."""

    def _write(rows: list[str]) -> Path:
        path = tmp_path / "input" / "abalone.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(rows) + "\n")
        return path

    return _write


@pytest.fixture
def synthetic_csv(write_csv: Callable[[list[str]], Path]) -> Path:
    """200 valid rows (the three samples with varied measurements), enough to split 70/15/15."""
    rows = []
    for index in range(200):
        sex, *measurements, rings = SYNTHETIC_ROWS[index % 3].split(",")
        scaled = [f"{float(value) * (1 + index / 1000):.4f}" for value in measurements]
        rows.append(",".join([sex, *scaled, str(int(rings) + index % 5)]))
    return write_csv(rows)
