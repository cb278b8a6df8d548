"""The emulated AWS account the local twin and the integration tests run against: moto, plus what the flow needs
of AWS that moto lacks, each addition following AWS's documentation (cited in its module).

One module per service -- :mod:`~local_twin.emulator.sagemaker`, :mod:`~local_twin.emulator.runtime` (InvokeEndpoint
and data capture), :mod:`~local_twin.emulator.monitoring` (Model Monitor schedules and executions),
:mod:`~local_twin.emulator.cloudwatch` (alarms that evaluate and act), :mod:`~local_twin.emulator.stepfunctions`,
:mod:`~local_twin.emulator.eventbridge`, :mod:`~local_twin.emulator.lambda_runtime` (functions run as Lambda runs
them), :mod:`~local_twin.emulator.faults` -- plus the server (:mod:`~local_twin.emulator.server`) and the stack
(:mod:`~local_twin.emulator.provision`). This module is the public API::

    with start() as aws:                       # moto's server on a loopback port, the extensions installed
        stack = provision(aws, parameters={...})   # template.yaml's resources, the built functions registered
        aws.client("sagemaker").update_model_package(...)   # events flow to the rules, the functions, the machines

Several accounts run side by side (``make local ARGS="--accounts 3"``): ``aws.client(service, account_id=...)`` acts in
another account through STS AssumeRole, ``provision(aws, ..., account_id=...)`` deploys a stack there, and what one
account may do to another is decided by resource policies as in AWS (:mod:`~local_twin.emulator.policies`): the model
package group's (:mod:`~local_twin.emulator.registry_sharing`), the event bus's
(:mod:`~local_twin.emulator.eventbridge`) and the bucket's (:mod:`~local_twin.emulator.s3`).

:func:`moto_compatibility_problems` lists what of moto the extensions rely on and no longer find (or find newly
implemented, so an extension should go); a test fails loudly on any entry.
"""

from __future__ import annotations

import functools
import logging
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import moto

from local_twin.emulator import (
    cloudwatch,
    core,
    eventbridge,
    faults,
    lambda_runtime,
    monitoring,
    registry_sharing,
    runtime,
    s3,
    sagemaker,
    stepfunctions,
)
from local_twin.emulator.account import (
    ACCOUNT_ID,
    PRODUCTION_ACCOUNT_ID,
    REGION,
    SECURITY_GROUPS,
    STACK_NAME,
    STAGING_ACCOUNT_ID,
    SUBNETS,
)
from local_twin.emulator.cloudwatch import Alarms
from local_twin.emulator.core import Emulator
from local_twin.emulator.faults import HOLD, Faults, InjectedFault
from local_twin.emulator.lambda_runtime import (
    BUILD_DIR,
    RUNTIME_DIR,
    FunctionSpec,
    Invocation,
    InvocationRecord,
    LambdaRuntime,
    LambdaSetupError,
)
from local_twin.emulator.monitoring import Monitoring, MonitoringError, MonitoringRun
from local_twin.emulator.provision import ProvisionError, Stack, provision
from local_twin.emulator.runtime import Runtime
from local_twin.emulator.sagemaker import Deployments, ModelPackageEvents, PipelineExecutions, PipelineStart
from local_twin.emulator.server import moto_server

__all__ = [
    "ACCOUNT_ID",
    "BUILD_DIR",
    "PRODUCTION_ACCOUNT_ID",
    "STAGING_ACCOUNT_ID",
    "HOLD",
    "REGION",
    "RUNTIME_DIR",
    "SECURITY_GROUPS",
    "STACK_NAME",
    "SUBNETS",
    "Alarms",
    "Emulator",
    "Faults",
    "FunctionSpec",
    "InjectedFault",
    "Invocation",
    "InvocationRecord",
    "LambdaSetupError",
    "Monitoring",
    "MonitoringError",
    "MonitoringRun",
    "PipelineStart",
    "ProvisionError",
    "Runtime",
    "Stack",
    "moto_compatibility_problems",
    "provision",
    "start",
]

MOTO_VERSION_CHECKED = "5.2.5"


def _patches() -> list[tuple[Any, str, Any]]:
    return [
        *sagemaker.patches(),
        *registry_sharing.patches(),
        *s3.patches(),
        *runtime.patches(),
        *monitoring.patches(),
        *cloudwatch.patches(),
        *stepfunctions.patches(),
        *eventbridge.patches(),
        *lambda_runtime.patches(),
        *faults.patches(),
    ]


@contextmanager
def start(
    region: str = REGION,
    *,
    log_dir: Path | None = None,
    runtime_dir: Path = RUNTIME_DIR,
    port: int = 0,
    async_retry_delay_seconds: float = 0.2,
) -> Iterator[Emulator]:
    """Run the emulated account: a fresh moto server on 127.0.0.1, the extensions installed, until the block ends.

    ``log_dir``: where each function's output goes (``<function>.log``, as its CloudWatch log group would hold it);
    a temporary folder when not given.
    """
    # moto warns on every optimised SageMaker task it forwards to its SageMaker ("unsupported"): the emulator relies
    # on exactly that forwarding, so the warning says nothing.
    logging.getLogger(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_unsupported"
    ).setLevel(logging.ERROR)
    problems = moto_compatibility_problems()
    if problems:
        raise RuntimeError("moto changed under local_twin.emulator: " + "; ".join(problems))
    with ExitStack() as stack:
        logs = log_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lambda-logs-")))
        url, bound = stack.enter_context(moto_server(region, port))
        lambdas = LambdaRuntime(
            endpoint_url=url,
            region=region,
            account_id=ACCOUNT_ID,
            log_dir=logs,
            runtime_dir=runtime_dir,
            async_retry_delay_seconds=async_retry_delay_seconds,
            send_to_dead_letter_queue=eventbridge.send_to_queue,
        )
        stack.callback(lambdas.close)
        for target, attribute, replacement in _patches():
            stack.enter_context(mock.patch.object(target, attribute, replacement, create=True))
        for mapping, additions in stepfunctions.dict_patches():
            stack.enter_context(mock.patch.dict(mapping, additions))
        emulator = Emulator(
            url=url,
            port=bound,
            region=region,
            account_id=ACCOUNT_ID,
            pipelines=PipelineExecutions(),
            deployments=Deployments(),
            lambdas=lambdas,
            model_package_events=ModelPackageEvents(),
            faults=Faults(),
            runtime=Runtime(),
            monitoring=Monitoring(),
            alarms=Alarms(),
            executions=stepfunctions.ExecutionWorkers(),
        )
        eventbridge.DELIVERIES.clear()
        core.activate(emulator)
        stack.callback(core.deactivate)
        yield emulator


def moto_compatibility_problems() -> list[str]:
    """What the extensions rely on in moto and do not find as expected (empty: all is as checked).

    Looked at once, before any extension is installed (:func:`start` asks first): while an emulator runs, its own
    additions would look like moto's (``moto now implements SageMaker update_endpoint``...).
    """
    return list(_compatibility_problems())


@functools.cache
def _compatibility_problems() -> tuple[str, ...]:
    problems = []
    if moto.__version__ != MOTO_VERSION_CHECKED:
        problems.append(f"moto is {moto.__version__}, the extensions were checked against {MOTO_VERSION_CHECKED}")
    modules = (
        sagemaker,
        registry_sharing,
        s3,
        runtime,
        monitoring,
        cloudwatch,
        stepfunctions,
        eventbridge,
        lambda_runtime,
        faults,
    )
    for module in modules:
        problems.extend(module.compatibility_problems())
    return tuple(problems)
