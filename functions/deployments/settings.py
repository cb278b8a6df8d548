"""The deployment functions' configuration, from the environment the template sets (read per invocation)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from deployments.monitoring import MonitoringSettings
from mlops_shared import settings
from mlops_shared.images import image_uri

Target = Literal["endpoint", "batch"]
NoApprovedPolicy = Literal["KeepLastModel", "DeleteEndpoint"]
Stage = Literal["single", "staging", "production"]
STAGES = ("single", "staging", "production")
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
    stage: Stage = "single"  # which rule decides what serves (docs/multi-account.md)
    registry_account: str = ""  # the account of the group ("" = this stack's own)
    region: str = ""

    @property
    def group_ref(self) -> str:
        """The group as the registry APIs take it: its name in this account, its ARN in the registry account."""
        if not self.registry_account:
            return self.group
        account = f"{partition_of(self.region)}:sagemaker:{self.region}:{self.registry_account}"
        return f"arn:{account}:model-package-group/{self.group}"

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
        stage = environ_get(environ, "DEPLOYMENT_STAGE", "single")
        if stage not in STAGES:
            problems.append(f"DEPLOYMENT_STAGE must be one of {', '.join(STAGES)}, got {stage!r}")
        registry_account = environ_get(environ, "REGISTRY_ACCOUNT_ID", "")
        if stage != "single" and not registry_account:
            problems.append(f"REGISTRY_ACCOUNT_ID must be set for DEPLOYMENT_STAGE {stage}")
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
            stage=stage,  # type: ignore[arg-type]  # checked above
            registry_account=registry_account if stage != "single" else "",
            region=environ_get(environ, "AWS_REGION", ""),
        )


def environ_get(environ: Mapping[str, str] | None, name: str, default: str) -> str:
    env = os.environ if environ is None else environ
    return env.get(name, default).strip() or default


def partition_of(region: str) -> str:
    """The ARN partition of a region (aws, aws-cn, aws-us-gov)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


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


def package_build_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the package's build outputs are (image-uris.json): ``$LAMBDA_TASK_ROOT/build`` in Lambda (the Makefile
    copies them there), the repository's build/ when the code runs from a checkout (tests)."""
    env = os.environ if environ is None else environ
    root = env.get("LAMBDA_TASK_ROOT")
    return Path(root) / "build" if root else Path(__file__).resolve().parents[2] / "build"


def monitoring_settings(environ: Mapping[str, str] | None = None) -> MonitoringSettings:
    """The data-quality schedule's settings from the template; every missing variable named at once."""
    env = settings.required(
        "MONITORING_SCHEDULE_NAME",
        "MONITORING_SCHEDULE_EXPRESSION",
        "MONITORING_INSTANCE_TYPE",
        "SAGEMAKER_EXECUTION_ROLE_ARN",
        "KMS_KEY_ARN",
        "SUBNET_IDS",
        "SECURITY_GROUP_IDS",
        "ARTIFACTS_BUCKET",
        "STACK_NAME",
        "AWS_REGION",
        environ=environ,
    )
    return MonitoringSettings(
        schedule_name=env["MONITORING_SCHEDULE_NAME"],
        schedule_expression=env["MONITORING_SCHEDULE_EXPRESSION"],
        instance_type=env["MONITORING_INSTANCE_TYPE"],
        execution_role_arn=env["SAGEMAKER_EXECUTION_ROLE_ARN"],
        kms_key_arn=env["KMS_KEY_ARN"],
        subnet_ids=tuple(settings.id_list("SUBNET_IDS", env)),
        security_group_ids=tuple(settings.id_list("SECURITY_GROUP_IDS", env)),
        analyzer_image_uri=image_uri(package_build_dir(environ), "model-monitor", env["AWS_REGION"]),
        reports_uri=f"s3://{env['ARTIFACTS_BUCKET']}/monitoring",
        stack_name=env["STACK_NAME"],
    )
