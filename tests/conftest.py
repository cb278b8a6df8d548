"""Test tiers and shared fixtures.

The tier of a test is the folder it lives in (tests/unit, tests/integration, tests/e2e): the marker is applied here
so `pytest -m unit` selects by folder and no test can forget its marker. Unit tests run behind a socket guard.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_socket

REPO_ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = REPO_ROOT / "events"
TIERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier, and run the tiers in order: unit first (fast feedback), and before the session's
    emulator starts -- while it runs, the process's AWS_ENDPOINT_URL points every new client at it."""
    tiers: dict[int, str] = {}
    for item in items:
        relative = Path(str(item.fspath)).resolve().relative_to(REPO_ROOT / "tests")
        tier = relative.parts[0]
        if tier not in TIERS:
            raise pytest.UsageError(f"{relative}: tests live under tests/unit, tests/integration or tests/e2e")
        item.add_marker(getattr(pytest.mark, tier))
        tiers[id(item)] = tier
    items.sort(key=lambda item: TIERS.index(tiers[id(item)]))  # stable: the order within a tier is kept


@pytest.fixture(autouse=True)
def _socket_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Unit tests may not open a network connection (unix sockets stay allowed)."""
    if request.node.get_closest_marker("unit") is None:
        yield
        return
    pytest_socket.disable_socket(allow_unix_socket=True)
    try:
        yield
    finally:
        pytest_socket.enable_socket()


@pytest.fixture
def load_event() -> Callable[[str], dict[str, Any]]:
    """Load a JSON fixture from events/ by its path relative to that folder."""

    def _load(name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
        return data

    return _load


@dataclass
class FakeLambdaContext:
    """The attributes of a Lambda context that Powertools reads."""

    function_name: str = "test-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def abalone_csv() -> Path:
    """The real abalone data set (shipped in data/; see data/README.md)."""
    path = REPO_ROOT / "data" / "abalone.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make data` (data/README.md)")
    return path
