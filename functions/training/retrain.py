"""The loop back: persistent data drift on the live version starts a training run -- at most one a day.

The template's PersistentDataDriftAlarm goes to ALARM after DriftRunsBeforeRetraining consecutive monitoring runs
with drift; EventBridge delivers its "CloudWatch Alarm State Change" event here. The run is an ordinary execution of
the train state machine (the new model is registered, and deployed only once approved), named ``drift-<UTC date>``:
an execution name is unique per state machine for 90 days, which is the daily guard -- no table, no lock.
(StartExecution is idempotent: the same name and input while the first still runs returns the first, once it ended it
is refused with ExecutionAlreadyExists; either way no second run starts. It is looked up first so the outcome says
so.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


class InvalidEvent(ValueError):
    """Not a "CloudWatch Alarm State Change" event; the message names each wrong field."""


@dataclass(frozen=True)
class RetrainOutcome:
    status: str  # "started", "already-started-today", "ignored"
    reason: str
    execution_arn: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"Status": self.status, "Reason": self.reason, "ExecutionArn": self.execution_arn}


def execution_name(moment: datetime) -> str:
    return f"drift-{moment.strftime('%Y-%m-%d')}"


def retrain(
    alarm_name: str, new_state: str, moment: datetime, state_machine_arn: str, sfn: SFNClient
) -> RetrainOutcome:
    """Start today's drift-triggered training run unless one was started today; only an ALARM state counts."""
    if new_state != "ALARM":
        return RetrainOutcome("ignored", f"alarm {alarm_name} went to {new_state}, not ALARM")
    name = execution_name(moment)
    execution_arn = state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
    try:
        sfn.describe_execution(executionArn=execution_arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        pass
    else:
        return RetrainOutcome(
            "already-started-today", f"{name} was already started: at most one run a day", execution_arn
        )
    execution_input: dict[str, Any] = {"PipelineParameters": {}}  # the template's defaults
    try:
        started = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input))
    except sfn.exceptions.ExecutionAlreadyExists:
        return RetrainOutcome("already-started-today", f"{name} was already started: at most one run a day")
    return RetrainOutcome(
        "started", f"alarm {alarm_name}: drift persisted, training run {name} started", started["executionArn"]
    )
