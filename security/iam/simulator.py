"""Evaluate IAM requests with @cloud-copilot/iam-simulate (node, see simulate.mjs), in one subprocess per batch.

The simulator is AGPL-licensed: it lives in node_modules/ (installed by ``make node_modules/.installed``), is used by
the tests only and is never part of a deployment package.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cfn import REPO_ROOT

HARNESS = Path(__file__).resolve().parent / "simulate.mjs"
SIMULATOR_PACKAGE = REPO_ROOT / "node_modules" / "@cloud-copilot" / "iam-simulate"
ACCOUNT_ID = "123456789012"

Decision = Literal["Allowed", "ExplicitlyDenied", "ImplicitlyDenied", "Error"]


class SimulatorUnavailable(RuntimeError):
    """node or the npm packages are missing."""


@dataclass(frozen=True)
class Request:
    """One API call as IAM sees it: who, what, on which resource, with which request context."""

    action: str
    resource: str
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    principal: str = f"arn:aws:iam::{ACCOUNT_ID}:role/SageMakerExecutionRole"


@dataclass(frozen=True)
class Case:
    id: str
    policies: Mapping[str, Mapping[str, Any]]  # name -> policy document (the principal's identity policies)
    request: Request
    resource_policy: Mapping[str, Any] | None = None  # the resource's own policy (key, bucket, group...)
    resource_account: str = ACCOUNT_ID  # the account the resource lives in


@dataclass(frozen=True)
class Result:
    id: str
    decision: Decision
    deny_statements: tuple[str, ...]
    ignored_context_keys: tuple[str, ...]
    errors: Any


def simulate(cases: Sequence[Case]) -> dict[str, Result]:
    """Evaluate every case; returns results by case id. Raises if the simulator cannot run."""
    node = shutil.which("node")
    if node is None or not SIMULATOR_PACKAGE.exists():
        raise SimulatorUnavailable("node and node_modules are needed: run `make node_modules/.installed` (npm ci)")
    payload = {
        "cases": [
            {
                "id": case.id,
                "policies": [{"name": name, "policy": policy} for name, policy in case.policies.items()],
                "resourcePolicy": case.resource_policy,
                "request": {
                    "principal": case.request.principal,
                    "action": case.request.action,
                    "resource": case.request.resource,
                    "accountId": case.resource_account,
                    "context": {
                        key: value if isinstance(value, str) else list(value)
                        for key, value in case.request.context.items()
                    },
                },
            }
            for case in cases
        ]
    }
    completed = subprocess.run(
        [node, str(HARNESS)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the IAM simulator failed (exit {completed.returncode}): {completed.stderr.strip()}")
    results = json.loads(completed.stdout)["results"]
    return {
        item["id"]: Result(
            id=item["id"],
            decision=item["decision"],
            deny_statements=tuple(item["denyStatements"]),
            ignored_context_keys=tuple(item["ignoredContextKeys"]),
            errors=item["errors"],
        )
        for item in results
    }
