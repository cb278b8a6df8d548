"""Issue 7's function code in isolation: the rollout policy, the rejection's choice of package, the clean-up's
answer to CloudFormation (executed end to end in tests/integration/reliability)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from on_model_approved.rejection import newest_approved, redeploy_execution_name
from pipeline_helpers.rollout import deployment_config

import mlops_shared.cloudformation as custom_resource
from deployment_janitor import app as janitor_app
from tests.unit.functions.conftest import REGION

LoadEvent = Callable[[str], dict[str, Any]]


@pytest.fixture
def rollout_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "TRAFFIC_SHIFTING_MODE": "CANARY",
        "TRAFFIC_STEP_PERCENT": "10",
        "TRAFFIC_WAIT_SECONDS": "300",
        "BAKING_PERIOD_SECONDS": "600",
        "ROLLBACK_ALARM_NAMES": "p-endpoint-5xx-errors,p-endpoint-model-latency",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize(
    ("mode", "step_key"), [("CANARY", "CanarySize"), ("LINEAR", "LinearStepSize"), ("ALL_AT_ONCE", None)]
)
def test_the_traffic_routing_has_only_the_step_of_its_mode(
    rollout_env: None, monkeypatch: pytest.MonkeyPatch, mode: str, step_key: str | None
) -> None:
    monkeypatch.setenv("TRAFFIC_SHIFTING_MODE", mode)
    config = deployment_config()
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    steps = {k for k in routing if k in ("CanarySize", "LinearStepSize")}
    assert steps == ({step_key} if step_key else set())
    assert routing["Type"] == mode and routing["WaitIntervalInSeconds"] == 300
    assert config["BlueGreenUpdatePolicy"]["TerminationWaitInSeconds"] == 600
    assert config["AutoRollbackConfiguration"]["Alarms"] == [
        {"AlarmName": "p-endpoint-5xx-errors"},
        {"AlarmName": "p-endpoint-model-latency"},
    ]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TRAFFIC_SHIFTING_MODE", "ROLLING", "TRAFFIC_SHIFTING_MODE must be one of"),
        ("TRAFFIC_STEP_PERCENT", "0", "TRAFFIC_STEP_PERCENT must be between 1 and 100"),
        ("TRAFFIC_WAIT_SECONDS", "ten", "TRAFFIC_WAIT_SECONDS must be an integer"),
        ("ROLLBACK_ALARM_NAMES", "", "ROLLBACK_ALARM_NAMES is not set"),
    ],
)
def test_a_bad_rollout_setting_is_named(
    rollout_env: None, monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        deployment_config()


def test_the_newest_approved_package_is_chosen_not_the_oldest(aws: None) -> None:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_model_package_group(ModelPackageGroupName="abalone")
    arns = [
        sagemaker.create_model_package(ModelPackageGroupName="abalone", ModelApprovalStatus=status)["ModelPackageArn"]
        for status in ("Approved", "Approved", "PendingManualApproval", "Approved")
    ]
    assert newest_approved("abalone", excluding=arns[3], sagemaker=sagemaker) == arns[1]
    assert newest_approved("abalone", excluding="", sagemaker=sagemaker) == arns[3]


def test_a_redeploy_is_named_after_the_rejection() -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/abalone/7"
    first = redeploy_execution_name(arn, 7, "2026-11-26T08:00:00+00:00")
    assert first == redeploy_execution_name(arn, 7, "2026-11-26T08:00:00+00:00")
    assert first != redeploy_execution_name(arn, 7, "2026-11-27T08:00:00+00:00")
    assert first.startswith("redeploy-after-v7-") and len(first) <= 80


@pytest.fixture
def janitor_env(aws: None, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    for name, value in {
        "STACK_NAME": "abalone-mlops",
        "PIPELINE_NAME": "abalone-mlops-pipeline",
        "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:abalone-mlops-train-deploy",
    }.items():
        monkeypatch.setenv(name, value)
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(custom_resource, "send", lambda url, body, timeout_seconds=10.0: sent.append(body))
    return sent


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_answer_success_and_delete_nothing(
    janitor_env: list[dict[str, Any]], load_event: LoadEvent, lambda_context: Any, request_type: str
) -> None:
    event = dict(load_event("deployment_janitor/cfn-delete.json"), RequestType=request_type)
    answer = janitor_app.cleanup_handler(event, lambda_context)
    assert answer["Status"] == "SUCCESS"
    assert [body["Status"] for body in janitor_env] == ["SUCCESS"] and janitor_env[0]["Data"] == {}


def test_a_failed_clean_up_is_reported_to_cloudformation_then_raised(
    janitor_env: list[dict[str, Any]], load_event: LoadEvent, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIPELINE_NAME")
    with pytest.raises(ValueError, match="PIPELINE_NAME is not set"):
        janitor_app.cleanup_handler(load_event("deployment_janitor/cfn-delete.json"), lambda_context)
    (body,) = janitor_env
    assert body["Status"] == "FAILED" and "PIPELINE_NAME" in body["Reason"]


def test_a_request_that_is_not_from_cloudformation_is_refused(
    janitor_env: list[dict[str, Any]], lambda_context: Any
) -> None:
    with pytest.raises(ValueError, match="not a CloudFormation custom resource request"):
        janitor_app.cleanup_handler({"RequestType": "Delete"}, lambda_context)
    assert janitor_env == []
