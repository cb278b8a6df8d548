"""The deployment functions' configuration, from the environment the template sets (read per invocation)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from mlops_shared import settings

Target = Literal["endpoint", "batch"]
NoApprovedPolicy = Literal["KeepLastModel", "DeleteEndpoint"]
TRAFFIC_MODES = ("CANARY", "LINEAR", "ALL_AT_ONCE")


@dataclass(frozen=True)
class Settings:
    """What decides a deployment: the stack's registry group and endpoint, its target and policies."""

    group: str
    endpoint_name: str
    resource_prefix: str
    target: Target
    when_no_approved: NoApprovedPolicy
    artifacts_bucket: str
    batch_input_prefix: str
    poll_seconds: int
    max_polls: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings; every missing variable is named in one error, and so is every malformed one."""
        env = settings.required(
            "MODEL_PACKAGE_GROUP_NAME",
            "ENDPOINT_NAME",
            "RESOURCE_PREFIX",
            "DEFAULT_DEPLOYMENT_TARGET",
            "WHEN_NO_APPROVED_MODEL",
            "ARTIFACTS_BUCKET",
            "POLL_SECONDS",
            "MAX_POLLS",
            environ=environ,
        )
        problems: list[str] = []
        target = env["DEFAULT_DEPLOYMENT_TARGET"]
        if target not in ("endpoint", "batch"):
            problems.append(f"DEFAULT_DEPLOYMENT_TARGET must be endpoint or batch, got {target!r}")
        policy = env["WHEN_NO_APPROVED_MODEL"]
        if policy not in ("KeepLastModel", "DeleteEndpoint"):
            problems.append(f"WHEN_NO_APPROVED_MODEL must be KeepLastModel or DeleteEndpoint, got {policy!r}")
        polls: dict[str, int] = {}
        for name, low, high in (("POLL_SECONDS", 0, 3600), ("MAX_POLLS", 1, 10_000)):
            try:
                polls[name] = settings.integer(name, low, high, env)
            except settings.ConfigurationError as error:
                problems.append(str(error))
        if problems:
            raise settings.ConfigurationError("; ".join(problems))
        return cls(
            group=env["MODEL_PACKAGE_GROUP_NAME"],
            endpoint_name=env["ENDPOINT_NAME"],
            resource_prefix=env["RESOURCE_PREFIX"],
            target=target,  # type: ignore[arg-type]  # checked above
            when_no_approved=policy,  # type: ignore[arg-type]  # checked above
            artifacts_bucket=env["ARTIFACTS_BUCKET"],
            batch_input_prefix=f"s3://{env['ARTIFACTS_BUCKET']}/batch/input/",
            poll_seconds=polls["POLL_SECONDS"],
            max_polls=polls["MAX_POLLS"],
        )


def deployment_config(environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """UpdateEndpoint's DeploymentConfig from the template's parameters: blue/green with canary, linear or
    all-at-once traffic shifting, a baking period, and auto-rollback on the template's CloudWatch alarms."""
    settings.required(  # every missing one named at once, before any value is checked
        "TRAFFIC_SHIFTING_MODE",
        "TRAFFIC_WAIT_SECONDS",
        "TRAFFIC_STEP_PERCENT",
        "BAKING_PERIOD_SECONDS",
        "ROLLBACK_ALARM_NAMES",
        environ=environ,
    )
    mode = settings.text("TRAFFIC_SHIFTING_MODE", environ).upper()
    if mode not in TRAFFIC_MODES:
        raise settings.ConfigurationError(
            f"TRAFFIC_SHIFTING_MODE must be one of {', '.join(TRAFFIC_MODES)}, got {mode!r}"
        )
    routing: dict[str, object] = {
        "Type": mode,
        "WaitIntervalInSeconds": settings.integer("TRAFFIC_WAIT_SECONDS", 0, 3600, environ),
    }
    step = {"Type": "CAPACITY_PERCENT", "Value": settings.integer("TRAFFIC_STEP_PERCENT", 1, 100, environ)}
    if mode == "CANARY":
        routing["CanarySize"] = step
    elif mode == "LINEAR":
        routing["LinearStepSize"] = step
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": settings.integer("BAKING_PERIOD_SECONDS", 0, 3600, environ),
        },
        "AutoRollbackConfiguration": {
            "Alarms": [{"AlarmName": name} for name in settings.id_list("ROLLBACK_ALARM_NAMES", environ)]
        },
    }
