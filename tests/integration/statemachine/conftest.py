"""Fixtures: the emulated AWS account with the template's stack in it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from local_twin.emulator import Emulator, emulate
from tests.integration.statemachine.stack import Stack, create_stack

MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws(config=MOTO_CONFIG), emulate() as emulator:  # type: ignore[call-overload]
        yield emulator


@pytest.fixture
def stack(aws: Emulator) -> Stack:
    return create_stack()
