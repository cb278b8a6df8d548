"""Safe rollout decisions: may this execution touch the endpoint now, and how does SageMaker shift traffic.

Concurrency (README, "Safe rollout and reliability"): the newest deploy execution wins. Every endpoint config
carries the start time of the execution that created it (tag ``STARTED_AT_TAG``). Before creating or updating the
endpoint, and when the live config is not the one this execution deployed, the state machine asks
:func:`endpoint_state`:

- the endpoint is Creating / Updating / RollingBack... (``Busy``): wait and ask again (bounded polls), so no
  execution fails because another one's update is in progress;
- the live config was made by an execution that started later (``Superseded``): stand down, the newer approval
  stays live;
- otherwise create or update. If after an update the live config is neither ours nor newer, SageMaker rolled the
  update back (an alarm fired or the new fleet failed): ``FailureReason`` says why.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

STARTED_AT_TAG = "sagemaker-secure-mlops:execution-started"
BUSY_STATUSES = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting", "UpdateRollbackFailed")
TRAFFIC_MODES = ("CANARY", "LINEAR", "ALL_AT_ONCE")


def _env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ValueError(f"environment variable {name} is not set")
    return value


def _int_env(name: str, low: int, high: int) -> int:
    raw = _env(name)
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ValueError(f"environment variable {name} must be between {low} and {high}, got {value}")
    return value


def deployment_config() -> dict[str, Any]:
    """UpdateEndpoint's DeploymentConfig from the template's parameters: blue/green with canary, linear or
    all-at-once traffic shifting, a baking period, and auto-rollback on the template's CloudWatch alarms."""
    mode = _env("TRAFFIC_SHIFTING_MODE").upper()
    if mode not in TRAFFIC_MODES:
        raise ValueError(f"TRAFFIC_SHIFTING_MODE must be one of {', '.join(TRAFFIC_MODES)}, got {mode!r}")
    routing: dict[str, Any] = {"Type": mode, "WaitIntervalInSeconds": _int_env("TRAFFIC_WAIT_SECONDS", 0, 3600)}
    step = {"Type": "CAPACITY_PERCENT", "Value": _int_env("TRAFFIC_STEP_PERCENT", 1, 100)}
    if mode == "CANARY":
        routing["CanarySize"] = step
    elif mode == "LINEAR":
        routing["LinearStepSize"] = step
    alarms = [name.strip() for name in _env("ROLLBACK_ALARM_NAMES").split(",") if name.strip()]
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": _int_env("BAKING_PERIOD_SECONDS", 0, 3600),
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in alarms]},
    }


def _started_at(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO 8601 execution start time: {value!r}") from None


def endpoint_state(deployment_name: str, started_at: str, sagemaker: SageMakerClient) -> dict[str, Any]:
    """What the endpoint is doing and whether this execution (config ``deployment_name``, started ``started_at``)
    may deploy to it now; see the module docstring."""
    ours = _started_at(started_at)
    name = _env("ENDPOINT_NAME")
    state: dict[str, Any] = {
        "Exists": False,
        "Status": "",
        "LiveConfigName": "",
        "Ours": False,
        "Busy": False,
        "Superseded": False,
        "FailureReason": "",
        "DeploymentConfig": deployment_config(),
    }
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
    except sagemaker.exceptions.ClientError as error:
        if "Could not find endpoint" in str(error.response.get("Error", {}).get("Message", "")):
            return state
        raise
    live = endpoint["EndpointConfigName"]
    state.update(
        Exists=True,
        Status=endpoint["EndpointStatus"],
        LiveConfigName=live,
        Ours=live == deployment_name,
        Busy=endpoint["EndpointStatus"] in BUSY_STATUSES,
        FailureReason=endpoint.get("FailureReason", ""),
    )
    if live != deployment_name:
        config_arn = sagemaker.describe_endpoint_config(EndpointConfigName=live)["EndpointConfigArn"]
        tags = {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=config_arn).get("Tags", [])}
        if STARTED_AT_TAG in tags:
            state["Superseded"] = _started_at(tags[STARTED_AT_TAG]) > ours
    return state
