"""on_model_approved: one deployment per approval, whatever EventBridge or the train path deliver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import boto3
import pytest
from aws_lambda_powertools.utilities.parser import ValidationError
from on_model_approved import app
from on_model_approved.deployment import WrongModelPackageGroup, execution_name

from tests.unit.functions.conftest import REGION, STATE_MACHINE_ARN

ApprovalStatus = Literal["Approved", "PendingManualApproval", "Rejected"]
LoadEvent = Callable[[str], dict[str, Any]]


def register(status: ApprovalStatus = "Approved", group: str = "abalone") -> str:
    arn: str = boto3.client("sagemaker", region_name=REGION).create_model_package(
        ModelPackageGroupName=group, ModelApprovalStatus=status
    )["ModelPackageArn"]
    return arn


def set_status(arn: str, status: ApprovalStatus) -> None:
    boto3.client("sagemaker", region_name=REGION).update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)


def executions() -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return [dict(e) for e in sfn.list_executions(stateMachineArn=STATE_MACHINE_ARN)["executions"]]


@pytest.mark.usefixtures("approval_env")
class TestApprovalEvents:
    def test_an_approval_starts_one_deploy_execution(self, load_event: LoadEvent, lambda_context: Any) -> None:
        register()
        result = app.lambda_handler(load_event("on_model_approved/approved.json"), lambda_context)
        assert result["Status"] == "started"
        (execution,) = executions()
        assert execution["name"] == result["ExecutionName"]
        assert len(execution["name"]) <= 80 and execution["name"].startswith("deploy-v1-")

    def test_duplicate_delivery_and_a_second_event_for_the_same_change_start_nothing(
        self, load_event: LoadEvent, lambda_context: Any
    ) -> None:
        register()
        first = app.lambda_handler(load_event("on_model_approved/approved.json"), lambda_context)
        again = app.lambda_handler(load_event("on_model_approved/approved.json"), lambda_context)
        other_id = app.lambda_handler(load_event("on_model_approved/approved-duplicate.json"), lambda_context)
        # the same event again is the same StartExecution call (Step Functions returns the existing execution);
        # another event for the same change is refused by name
        assert first["Status"] == "started" and again["ExecutionArn"] == first["ExecutionArn"]
        assert other_id["Status"] == "duplicate" and other_id["ExecutionName"] == first["ExecutionName"]
        assert len(executions()) == 1

    def test_a_re_approval_of_the_same_version_is_a_new_deployment(
        self, load_event: LoadEvent, lambda_context: Any
    ) -> None:
        arn = register()
        first = app.lambda_handler(load_event("on_model_approved/approved.json"), lambda_context)
        set_status(arn, "Rejected")
        set_status(arn, "Approved")
        second = app.lambda_handler(load_event("on_model_approved/approved.json"), lambda_context)
        assert first["Status"] == second["Status"] == "started"
        assert first["ExecutionName"] != second["ExecutionName"]
        assert len(executions()) == 2

    def test_a_stale_approval_event_deploys_nothing(self, load_event: LoadEvent, lambda_context: Any) -> None:
        arn = register()
        set_status(arn, "Rejected")
        result = app.lambda_handler(load_event("on_model_approved/approved.json"), lambda_context)
        assert result["Status"] == "not-approved"
        assert executions() == []

    @pytest.mark.parametrize("fixture", ["rejected.json", "pending.json"])
    def test_unapproved_statuses_are_refused(self, fixture: str, load_event: LoadEvent, lambda_context: Any) -> None:
        register()
        with pytest.raises(ValueError, match="only Approved packages are deployed"):
            app.lambda_handler(load_event(f"on_model_approved/{fixture}"), lambda_context)
        assert executions() == []

    def test_another_groups_event_is_refused(self, load_event: LoadEvent, lambda_context: Any) -> None:
        with pytest.raises(WrongModelPackageGroup, match="'churn'"):
            app.lambda_handler(load_event("on_model_approved/another-group.json"), lambda_context)
        assert executions() == []

    def test_a_malformed_event_is_a_validation_error_naming_the_fields(
        self, load_event: LoadEvent, lambda_context: Any
    ) -> None:
        with pytest.raises(ValidationError) as raised:
            app.lambda_handler(load_event("on_model_approved/malformed.json"), lambda_context)
        assert "ModelPackageArn" in str(raised.value) and "ModelPackageVersion" in str(raised.value)
        assert executions() == []


@pytest.mark.usefixtures("approval_env")
class TestTrainPathStarter:
    def test_a_package_registered_approved_is_deployed_once_by_the_train_path_and_its_event(
        self, load_event: LoadEvent, lambda_context: Any
    ) -> None:
        register("Approved")
        from_train = app.start_deployment_handler(load_event("on_model_approved/start-deployment.json"), lambda_context)
        from_event = app.lambda_handler(load_event("on_model_approved/approved.json"), lambda_context)
        assert from_train["Status"] == "started" and from_event["Status"] == "duplicate"
        assert from_train["ExecutionName"] == from_event["ExecutionName"]
        assert len(executions()) == 1

    def test_a_package_of_another_group_is_refused(self, lambda_context: Any) -> None:
        boto3.client("sagemaker", region_name=REGION).create_model_package_group(ModelPackageGroupName="churn")
        arn = register(group="churn")
        with pytest.raises(WrongModelPackageGroup):
            app.start_deployment_handler(
                {"ModelPackageArn": arn, "Target": "batch", "TrainingExecution": "t1"}, lambda_context
            )
        assert executions() == []

    def test_an_unknown_target_is_a_validation_error(self, lambda_context: Any) -> None:
        with pytest.raises(ValidationError, match="Target"):
            app.start_deployment_handler(
                {
                    "ModelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/abalone/1",
                    "Target": "x",
                    "TrainingExecution": "t1",
                },
                lambda_context,
            )


def test_missing_configuration_is_named(aws: None, load_event: LoadEvent, lambda_context: Any) -> None:
    with pytest.raises(ValueError, match="MODEL_PACKAGE_GROUP_NAME, STATE_MACHINE_ARN, DEFAULT_DEPLOYMENT_TARGET"):
        app.lambda_handler(load_event("on_model_approved/approved.json"), lambda_context)


def test_execution_names_are_deterministic_and_within_limits() -> None:
    from datetime import UTC, datetime

    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/abalone/123456"
    when = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    name = execution_name(arn, 123456, when)
    assert name == execution_name(arn, 123456, when)
    assert name != execution_name(arn, 123456, when.replace(minute=1))
    assert len(name) <= 80 and all(c.isalnum() or c == "-" for c in name)
