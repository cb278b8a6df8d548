"""The emulated account with the template's stack (the fixtures of the state-machine tests, shared)."""

from __future__ import annotations

from tests.integration.statemachine.conftest import aws, stack

__all__ = ["aws", "stack"]
