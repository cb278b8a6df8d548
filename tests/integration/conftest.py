"""Fixtures of the integration tier: the emulated account (one per session) and its stacks (reset for every test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local_twin.emulator import Emulator, start
from tests.integration.account import Stacks, TestStack


@pytest.fixture(scope="package")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """The emulated account, for the integration tier (it ends before the e2e tier, whose runs start their own: one
    emulator per process); the functions' output goes to <tmp>/lambda-logs/<function>.log."""
    logs: Path = tmp_path_factory.mktemp("lambda-logs")
    with start(log_dir=logs, async_retry_delay_seconds=0.05) as emulator:
        yield emulator


@pytest.fixture(scope="package")
def stacks(aws: Emulator) -> Stacks:
    return Stacks(aws)


@pytest.fixture
def stack(stacks: Stacks) -> Iterator[TestStack]:
    """template.yaml's stack with the test parameters (no waits between polls), from an empty registry."""
    default = stacks.get()
    for each in stacks:
        each.reset()
    yield default
    default.aws.lambdas.wait_for_async()
