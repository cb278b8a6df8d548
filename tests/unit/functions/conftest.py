"""Fixtures for the handler unit tests: moto in-process (no network), environment as the template sets it."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

REGION = "us-east-1"
STATE_MACHINE_NAME = "abalone-mlops-train-deploy"
STATE_MACHINE_ARN = f"arn:aws:states:{REGION}:123456789012:stateMachine:{STATE_MACHINE_NAME}"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    with mock_aws():
        yield


@pytest.fixture
def approval_env(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The on_model_approved environment, and a state machine (recorded, not executed) to start."""
    monkeypatch.setenv("MODEL_PACKAGE_GROUP_NAME", "abalone")
    monkeypatch.setenv("STATE_MACHINE_ARN", STATE_MACHINE_ARN)
    monkeypatch.setenv("DEFAULT_DEPLOYMENT_TARGET", "endpoint")
    boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name=STATE_MACHINE_NAME,
        definition='{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}',
        roleArn="arn:aws:iam::123456789012:role/states",
    )
    boto3.client("sagemaker", region_name=REGION).create_model_package_group(ModelPackageGroupName="abalone")
