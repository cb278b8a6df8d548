"""Level-triggered deployment: make what the endpoint serves (or what batch has transformed) match the registry.

The desired state is a function of the registry alone (:func:`deployments.registry.desired`); the live state
is read from the endpoint (:func:`deployments.endpoint.live`). When they match, nothing happens (``no-change``: a
metadata edit, a duplicate event, a late event for an older version). When they differ, one deploy execution is
started, named after the transition (the desired package and what is live now), so reconcilers racing toward the
same desired state start one execution between them (``already-running`` for the others). The execution re-reads
both states before it changes anything (deployments.steps).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from deployments.endpoint import live
from deployments.registry import Desired, Package
from deployments.registry import desired as desired_state
from deployments.settings import Settings
from deployments.transforms import transform_state

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_stepfunctions import SFNClient

EXECUTION_NAME_LIMIT = 80
MAX_ATTEMPTS = 20
Status = Literal["started", "already-running", "no-change", "stood-down", "rejected-input"]


@dataclass(frozen=True)
class Outcome:
    """What a reconciliation did, and why (a metric and a log line each)."""

    status: Status
    reason: str
    package_arn: str | None = None
    version: int | None = None
    execution_arn: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "Status": self.status,
            "Reason": self.reason,
            "ModelPackageArn": self.package_arn,
            "Version": self.version,
            "ExecutionArn": self.execution_arn,
        }


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def reconcile(
    settings: Settings, *, state_machine_arn: str, trigger: str, sagemaker: SageMakerClient, sfn: SFNClient
) -> Outcome:
    """Compare the registry with the endpoint (or the batch output) and start one deploy execution if they differ."""
    starter = _Starter(settings.target, state_machine_arn, trigger, sfn)
    wanted = desired_state(settings, sagemaker)
    refusal = _refuse(wanted, starter)
    desired = wanted.package
    if settings.target == "batch":
        return _with_refusal(_reconcile_batch(settings, desired, starter, sagemaker), refusal)
    return _with_refusal(_reconcile_endpoint(settings, desired, starter, sagemaker), refusal)


def _refuse(wanted: Desired, starter: _Starter) -> Outcome | None:
    """Production: a promoted version staging did not verify is refused once, by an execution that tells the team."""
    if wanted.refused is None:
        return None
    base = f"refuse-v{wanted.refused.version}-{_digest(wanted.refused.arn, 'refuse')}"
    return starter.start_once(base, wanted.refused, wanted.refusal, done_when_succeeded=True, refuse=True)


def _with_refusal(outcome: Outcome, refusal: Outcome | None) -> Outcome:
    if refusal is None or refusal.status != "started":
        return outcome
    return replace(outcome, reason=f"{outcome.reason}; refused: {refusal.reason}")


def _reconcile_endpoint(
    settings: Settings, desired: Package | None, starter: _Starter, sagemaker: SageMakerClient
) -> Outcome:
    current = live(settings.endpoint_name, sagemaker)
    if desired is None:
        if current is None:
            return Outcome("no-change", f"no Approved version in group {settings.group} and no endpoint serves one")
        if current.status == "Deleting":  # a retire that deleted it (or a person): it converges to "no endpoint"
            return Outcome(
                "no-change", f"no Approved version in group {settings.group}; {settings.endpoint_name} is being deleted"
            )
        base = f"retire-v{current.version}-{_digest('none', current.config)}"
        reason = (
            f"no Approved version left in group {settings.group}; endpoint {settings.endpoint_name} serves "
            f"version {current.version} ({settings.when_no_approved})"
        )
        # Keeping the last model changes nothing: once an execution told the team so, the transition is done.
        return starter.start_once(base, None, reason, done_when_succeeded=settings.when_no_approved == "KeepLastModel")
    if current is not None and current.serves(desired.arn):
        return Outcome(
            "no-change",
            f"version {desired.version} is the highest Approved and already live",
            desired.arn,
            desired.version,
        )
    was = "nothing" if current is None or current.failed or not current.version else f"version {current.version}"
    base = f"deploy-v{desired.version}-{_digest(desired.arn, current.config if current else '')}"
    reason = f"version {desired.version} is the highest Approved; the endpoint serves {was}"
    return starter.start_once(base, desired, reason)


def _reconcile_batch(
    settings: Settings, desired: Package | None, starter: _Starter, sagemaker: SageMakerClient
) -> Outcome:
    if desired is None:
        return Outcome("no-change", f"no Approved version in group {settings.group}: nothing to transform")
    state = transform_state(settings, desired.version, settings.batch_input_prefix, sagemaker)
    if state.completed:
        return Outcome(
            "no-change",
            f"version {desired.version} already transformed {settings.batch_input_prefix} ({state.completed})",
            desired.arn,
            desired.version,
        )
    base = f"transform-v{desired.version}-{_digest(desired.arn, settings.batch_input_prefix)}"
    reason = f"version {desired.version} is the highest Approved and has not transformed {settings.batch_input_prefix}"
    return starter.start_once(base, desired, reason)


@dataclass(frozen=True)
class _Starter:
    target: str
    state_machine_arn: str
    trigger: str
    sfn: SFNClient

    def start_once(
        self,
        base: str,
        desired: Package | None,
        reason: str,
        *,
        done_when_succeeded: bool = False,
        refuse: bool = False,
    ) -> Outcome:
        """Start the transition's execution unless one runs. A finished one is retried -- it failed, or stood down
        for a version since rejected -- unless ``done_when_succeeded`` and it succeeded. ``refuse``: an execution
        that only tells the team why ``desired`` is refused."""
        return _start_once(self, base, desired, reason, done_when_succeeded, refuse)


def _start_once(
    starter: _Starter, base: str, desired: Package | None, reason: str, done_when_succeeded: bool, refuse: bool
) -> Outcome:
    package_arn = desired.arn if desired else ""
    version = desired.version if desired else None
    sfn = starter.sfn
    execution_prefix = starter.state_machine_arn.replace(":stateMachine:", ":execution:", 1)
    request: dict[str, Any] = {
        "ModelPackageArn": package_arn,
        "Target": starter.target,
        "Trigger": starter.trigger[:256],
    }
    if refuse:
        request["Refuse"] = True
    payload = json.dumps(request)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        name = base if attempt == 1 else f"{base}-{attempt}"
        if len(name) > EXECUTION_NAME_LIMIT:  # pragma: no cover - versions would need 40 digits
            raise ValueError(f"execution name {name!r} exceeds {EXECUTION_NAME_LIMIT} characters")
        arn = f"{execution_prefix}:{name}"
        try:
            status = sfn.describe_execution(executionArn=arn)["status"]
        except sfn.exceptions.ExecutionDoesNotExist:
            try:
                # The input carries the invocation's trigger (with its request id): never identical to another
                # caller's, so a race ends in ExecutionAlreadyExists, never in a second "started".
                started = sfn.start_execution(stateMachineArn=starter.state_machine_arn, name=name, input=payload)
            except sfn.exceptions.ExecutionAlreadyExists:
                return Outcome(
                    "already-running", f"{reason}; another reconciler started {name}", package_arn or None, version, arn
                )
            return Outcome("started", reason, package_arn or None, version, started["executionArn"])
        if status == "RUNNING":
            return Outcome("already-running", f"{reason}; {name} is running", package_arn or None, version, arn)
        if status == "SUCCEEDED" and done_when_succeeded:
            return Outcome("no-change", f"{reason}; {name} already handled it", package_arn or None, version, arn)
    raise RuntimeError(f"{MAX_ATTEMPTS} executions of {base} already ran and none reached the desired state")
