"""The handle on a running emulator, and the one place its extensions find it.

Every extension of moto (SageMaker, Step Functions, EventBridge, Lambda, faults) runs inside moto's server threads,
where only module state reaches it: :func:`current` is that state, set while :func:`local_twin.emulator.start` runs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from local_twin.emulator.faults import Faults
    from local_twin.emulator.lambda_runtime import LambdaRuntime
    from local_twin.emulator.sagemaker import Deployments, ModelPackageEvents, PipelineExecutions


@dataclass
class Emulator:
    """A running emulated AWS account: where it listens, how to make a client, and its extensions.

    - ``pipelines``: who runs SageMaker pipeline executions (the local pipeline runner, or a test);
    - ``deployments``: who serves endpoints and runs transform jobs (the local twin), and what was asked of them;
    - ``lambdas``: the functions, run as Lambda runs them (built packages, python3.13 workers);
    - ``model_package_events``: how SageMaker's "Model Package State Change" events are sent;
    - ``faults``: what AWS should get wrong next.
    """

    url: str
    port: int
    region: str
    account_id: str
    pipelines: PipelineExecutions
    deployments: Deployments
    lambdas: LambdaRuntime
    model_package_events: ModelPackageEvents
    faults: Faults
    notes: list[str] = field(default_factory=list)

    def client(self, service: str) -> Any:
        """A boto3 client of the emulated account (the process environment points boto3 here as well)."""
        return boto3.client(service, region_name=self.region, endpoint_url=self.url)  # type: ignore[call-overload]


_CURRENT: Emulator | None = None
_LOCK = threading.Lock()


def current() -> Emulator | None:
    return _CURRENT


def active() -> Emulator:
    """The running emulator; only the extensions call this, and they exist only while one runs."""
    if _CURRENT is None:  # pragma: no cover - the patches are installed only while an emulator runs
        raise RuntimeError("local_twin.emulator extensions used while no emulator runs")
    return _CURRENT


def activate(emulator: Emulator) -> None:
    global _CURRENT
    with _LOCK:
        if _CURRENT is not None:
            raise RuntimeError("an emulator is already running in this process")
        _CURRENT = emulator


def deactivate() -> None:
    global _CURRENT
    with _LOCK:
        _CURRENT = None
