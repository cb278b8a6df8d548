"""The deploy steps' data-quality monitoring (deployments/monitoring.py) and the retrain-on-drift loop
(training/retrain.py).

moto has no monitoring-schedule API, so SageMaker's answers come from botocore's Stubber, which checks every request
exactly (the job definition's network, encryption and baseline) and fails on any call not expected. The emulator's
integration tests run the same code against the monitoring API the local twin implements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber

from deployments import monitoring
from deployments.monitoring import MonitoringSettings
from deployments.settings import monitoring_settings
from mlops_shared.settings import ConfigurationError
from tests.unit.functions.conftest import REGION
from training import retrain

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

PREFIX = "abalone-mlops"
ENDPOINT = f"{PREFIX}-endpoint"
SCHEDULE = f"{PREFIX}-data-quality"
KEY = f"arn:aws:kms:{REGION}:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
ROLE = "arn:aws:iam::123456789012:role/abalone-mlops-SageMakerExecutionRole"
ANALYZER = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
CONFIG = MonitoringSettings(
    schedule_name=SCHEDULE,
    schedule_expression="cron(0 * ? * * *)",
    instance_type="ml.m5.large",
    execution_role_arn=ROLE,
    kms_key_arn=KEY,
    subnet_ids=("subnet-a", "subnet-b"),
    security_group_ids=("sg-1",),
    analyzer_image_uri=ANALYZER,
    reports_uri="s3://artifacts/monitoring",
    stack_name=PREFIX,
)
BASELINE = "s3://artifacts/pipeline-runs/x7k2/BaselineDataQuality"
NOW = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


def package(version: int, with_baseline: bool = True) -> dict[str, Any]:
    described: dict[str, Any] = {
        "ModelPackageArn": f"arn:aws:sagemaker:{REGION}:123456789012:model-package/abalone/{version}",
        "ModelPackageVersion": version,
    }
    if with_baseline:
        described["DriftCheckBaselines"] = {
            "ModelDataQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": f"{BASELINE}/statistics.json"},
                "Constraints": {"ContentType": "application/json", "S3Uri": f"{BASELINE}/constraints.json"},
            }
        }
    return described


@pytest.fixture
def sagemaker() -> Iterator[Stubber]:
    client = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def client(stubber: Stubber) -> SageMakerClient:
    sagemaker: SageMakerClient = stubber.client  # type: ignore[assignment]  # the stubbed boto3 client
    return sagemaker


def no_schedule(stubber: Stubber) -> None:
    stubber.add_client_error(
        "describe_monitoring_schedule",
        "ResourceNotFound",
        f"Monitoring schedule {SCHEDULE} does not exist.",
        expected_params={"MonitoringScheduleName": SCHEDULE},
    )


def schedule_on(stubber: Stubber, definition: str) -> None:
    stubber.add_response(
        "describe_monitoring_schedule",
        {
            "MonitoringScheduleArn": f"arn:aws:sagemaker:{REGION}:123456789012:monitoring-schedule/{SCHEDULE}",
            "MonitoringScheduleName": SCHEDULE,
            "MonitoringScheduleStatus": "Scheduled",
            "CreationTime": NOW,
            "LastModifiedTime": NOW,
            "MonitoringScheduleConfig": {"MonitoringJobDefinitionName": definition, "MonitoringType": "DataQuality"},
        },
        {"MonitoringScheduleName": SCHEDULE},
    )


def expected_definition(name: str) -> dict[str, Any]:
    """The job definition every schedule of the project runs: isolated, in the VPC, encrypted with the project key."""
    return {
        "JobDefinitionName": name,
        "DataQualityBaselineConfig": {
            "ConstraintsResource": {"S3Uri": f"{BASELINE}/constraints.json"},
            "StatisticsResource": {"S3Uri": f"{BASELINE}/statistics.json"},
        },
        "DataQualityAppSpecification": {
            "ImageUri": ANALYZER,
            "Environment": {"publish_cloudwatch_metrics": "Enabled"},
        },
        "DataQualityJobInput": {
            "EndpointInput": {
                "EndpointName": ENDPOINT,
                "LocalPath": "/opt/ml/processing/input/endpoint",
                "S3InputMode": "File",
                "S3DataDistributionType": "FullyReplicated",
            }
        },
        "DataQualityJobOutputConfig": {
            "MonitoringOutputs": [
                {
                    "S3Output": {
                        "S3Uri": "s3://artifacts/monitoring",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    }
                }
            ],
            "KmsKeyId": KEY,
        },
        "JobResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 20,
                "VolumeKmsKeyId": KEY,
            }
        },
        "NetworkConfig": {
            "EnableInterContainerTrafficEncryption": True,
            "EnableNetworkIsolation": True,
            "VpcConfig": {"Subnets": ["subnet-a", "subnet-b"], "SecurityGroupIds": ["sg-1"]},
        },
        "RoleArn": ROLE,
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "Tags": [{"Key": monitoring.STACK_TAG, "Value": PREFIX}],
    }


def schedule_config(definition: str) -> dict[str, Any]:
    return {
        "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
        "MonitoringJobDefinitionName": definition,
        "MonitoringType": "DataQuality",
    }


def run_monitor(stubber: Stubber, version: int, with_baseline: bool = True) -> dict[str, Any]:
    return monitoring.monitor(
        ENDPOINT, package(version, with_baseline), f"deploy-v{version}-abc", PREFIX, CONFIG, client(stubber)
    )


class TestMonitor:
    def test_a_first_deployment_creates_the_schedule_on_the_versions_baseline(self, sagemaker: Stubber) -> None:
        definition = monitoring.job_definition_name(PREFIX, 2, "deploy-v2-abc")
        no_schedule(sagemaker)
        sagemaker.add_response(
            "create_data_quality_job_definition", {"JobDefinitionArn": "arn:d"}, expected_definition(definition)
        )
        sagemaker.add_response(
            "create_monitoring_schedule",
            {"MonitoringScheduleArn": "arn:s"},
            {
                "MonitoringScheduleName": SCHEDULE,
                "MonitoringScheduleConfig": schedule_config(definition),
                "Tags": [{"Key": monitoring.STACK_TAG, "Value": PREFIX}],
            },
        )

        result = run_monitor(sagemaker, 2)

        assert result == {
            "Monitored": True,
            "Schedule": SCHEDULE,
            "JobDefinition": definition,
            "Note": "version 2's requests are checked against its baseline (cron(0 * ? * * *))",
        }

    def test_a_new_version_moves_the_schedule_to_its_own_baseline_and_drops_the_old_definition(
        self, sagemaker: Stubber
    ) -> None:
        old = monitoring.job_definition_name(PREFIX, 2, "deploy-v2-abc")
        new = monitoring.job_definition_name(PREFIX, 3, "deploy-v3-abc")
        schedule_on(sagemaker, old)
        sagemaker.add_response(
            "create_data_quality_job_definition", {"JobDefinitionArn": "arn:d"}, expected_definition(new)
        )
        sagemaker.add_response(
            "update_monitoring_schedule",
            {"MonitoringScheduleArn": "arn:s"},
            {"MonitoringScheduleName": SCHEDULE, "MonitoringScheduleConfig": schedule_config(new)},
        )
        sagemaker.add_response("delete_data_quality_job_definition", {}, {"JobDefinitionName": old})

        assert run_monitor(sagemaker, 3)["JobDefinition"] == new

    def test_a_retried_step_finds_its_definition_and_schedule_in_place(self, sagemaker: Stubber) -> None:
        definition = monitoring.job_definition_name(PREFIX, 3, "deploy-v3-abc")
        schedule_on(sagemaker, definition)
        sagemaker.add_client_error(
            "create_data_quality_job_definition", "ResourceInUse", f"{definition} already exists"
        )

        assert run_monitor(sagemaker, 3)["Monitored"] is True  # no update, no delete: the Stubber would fail

    def test_a_version_without_baseline_removes_the_old_schedule_and_says_so(self, sagemaker: Stubber) -> None:
        schedule_on(sagemaker, monitoring.job_definition_name(PREFIX, 2, "deploy-v2-abc"))
        sagemaker.add_response("delete_monitoring_schedule", {}, {"MonitoringScheduleName": SCHEDULE})

        result = run_monitor(sagemaker, 3, with_baseline=False)

        assert result == {
            "Monitored": False,
            "Schedule": None,
            "JobDefinition": None,
            "Note": f"version 3 has no data-quality baseline: its requests are not monitored (schedule {SCHEDULE} "
            "was removed)",
        }

    def test_definition_names_fit_sagemakers_limit(self) -> None:
        name = monitoring.job_definition_name("p" * 30, 123_456, "deploy-v123456-0123456789abcdef0123-19")
        assert len(name) <= 63 and name.startswith("p" * 30 + "-dq-v123456-")


class TestStopMonitoring:
    def test_the_schedule_and_its_definition_go(self, sagemaker: Stubber) -> None:
        schedule_on(sagemaker, "abalone-mlops-dq-v2-0a1b2c3d")
        sagemaker.add_response("delete_monitoring_schedule", {}, {"MonitoringScheduleName": SCHEDULE})
        sagemaker.add_response(
            "delete_data_quality_job_definition", {}, {"JobDefinitionName": "abalone-mlops-dq-v2-0a1b2c3d"}
        )
        assert monitoring.stop_monitoring(SCHEDULE, client(stubber=sagemaker)) is True

    def test_no_schedule_is_nothing_to_do(self, sagemaker: Stubber) -> None:
        no_schedule(sagemaker)
        assert monitoring.stop_monitoring(SCHEDULE, client(stubber=sagemaker)) is False


class TestMonitoringSettings:
    ENV = {
        "MONITORING_SCHEDULE_NAME": SCHEDULE,
        "MONITORING_SCHEDULE_EXPRESSION": "cron(0 * ? * * *)",
        "MONITORING_INSTANCE_TYPE": "ml.m5.large",
        "SAGEMAKER_EXECUTION_ROLE_ARN": ROLE,
        "KMS_KEY_ARN": KEY,
        "SUBNET_IDS": "subnet-a,subnet-b",
        "SECURITY_GROUP_IDS": "sg-1",
        "ARTIFACTS_BUCKET": "artifacts",
        "STACK_NAME": PREFIX,
        "AWS_REGION": REGION,
    }

    def test_the_analyzer_image_comes_from_the_rendered_image_table(self) -> None:
        """The repository's build/image-uris.json here; $LAMBDA_TASK_ROOT/build/ in the package."""
        config = monitoring_settings(self.ENV)
        assert config.analyzer_image_uri == ANALYZER
        assert (config.subnet_ids, config.reports_uri) == (("subnet-a", "subnet-b"), "s3://artifacts/monitoring")

    def test_every_missing_variable_is_named(self) -> None:
        env = {k: v for k, v in self.ENV.items() if k not in ("KMS_KEY_ARN", "SUBNET_IDS")}
        with pytest.raises(ConfigurationError, match="environment variables not set: KMS_KEY_ARN, SUBNET_IDS"):
            monitoring_settings(env)

    def test_a_package_without_the_image_table_is_named(self, tmp_path: Any) -> None:
        with pytest.raises(ConfigurationError, match="image-uris.json is missing"):
            monitoring_settings({**self.ENV, "LAMBDA_TASK_ROOT": str(tmp_path)})


# ======================================================================================================================
# the loop back
# ======================================================================================================================
@pytest.fixture
def train_machine(aws: None) -> str:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn: str = sfn.create_state_machine(
        name=f"{PREFIX}-train",
        definition='{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}',
        roleArn="arn:aws:iam::123456789012:role/states",
    )["stateMachineArn"]
    return arn


class TestRetrain:
    def test_drift_starts_todays_training_run_and_only_one(self, train_machine: str) -> None:
        sfn = boto3.client("stepfunctions", region_name=REGION)

        first = retrain.retrain(f"{PREFIX}-persistent-data-drift", "ALARM", NOW, train_machine, sfn)
        again = retrain.retrain(
            f"{PREFIX}-persistent-data-drift", "ALARM", NOW + dt.timedelta(hours=5), train_machine, sfn
        )
        tomorrow = retrain.retrain(
            f"{PREFIX}-persistent-data-drift", "ALARM", NOW + dt.timedelta(days=1), train_machine, sfn
        )

        assert (first.status, again.status, tomorrow.status) == ("started", "already-started-today", "started")
        names = sorted(e["name"] for e in sfn.list_executions(stateMachineArn=train_machine)["executions"])
        assert names == ["drift-2026-12-01", "drift-2026-12-02"]

    def test_a_return_to_ok_starts_nothing(self, train_machine: str) -> None:
        sfn = boto3.client("stepfunctions", region_name=REGION)
        outcome = retrain.retrain(f"{PREFIX}-persistent-data-drift", "OK", NOW, train_machine, sfn)
        assert outcome.as_dict() == {
            "Status": "ignored",
            "Reason": f"alarm {PREFIX}-persistent-data-drift went to OK, not ALARM",
            "ExecutionArn": None,
        }
        assert sfn.list_executions(stateMachineArn=train_machine)["executions"] == []


class TestRetrainHandler:
    """The handler as EventBridge invokes it, with the fixture of a real "CloudWatch Alarm State Change" event."""

    def test_the_alarm_event_starts_a_training_run(
        self,
        train_machine: str,
        load_event: Any,
        lambda_context: Any,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        from training import app

        monkeypatch.setenv("TRAIN_STATE_MACHINE_ARN", train_machine)

        result = app.retrain_handler(load_event("training/alarm-state-change.json"), lambda_context)

        assert result["Status"] == "started"
        assert result["ExecutionArn"].startswith(train_machine.replace(":stateMachine:", ":execution:") + ":drift-")

    def test_another_event_is_refused_naming_the_wrong_fields(
        self, train_machine: str, load_event: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from training import app

        monkeypatch.setenv("TRAIN_STATE_MACHINE_ARN", train_machine)
        event = load_event("training/alarm-state-change.json")
        del event["detail"]["alarmName"]

        with pytest.raises(retrain.InvalidEvent, match="alarmName"):
            app.retrain_handler(event, lambda_context)
