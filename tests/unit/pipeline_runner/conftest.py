"""Fixtures for the runner: the small hand-written definition, a seeded local store, an offline client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from local_twin.storage import LocalDirectoryStore

from .helpers import seed_store, small_definition


@pytest.fixture
def definition() -> dict[str, Any]:
    return small_definition()


@pytest.fixture
def store(tmp_path: Path) -> LocalDirectoryStore:
    local = LocalDirectoryStore(tmp_path / "store")
    seed_store(local)
    return local


@pytest.fixture
def offline_sagemaker(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A SageMaker client that is never called (the else branch runs no SageMaker API); only its region is read."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return boto3.client("sagemaker", region_name="us-east-1")
