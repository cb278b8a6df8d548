"""Model Monitor on the emulated account: the schedule APIs moto lacks (botocore's shapes, AWS's errors) and a
data-quality execution run now on the endpoint's captured data, with and without drift, and without data."""

from __future__ import annotations

import json
import random
import warnings
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import xgboost as xgb
from botocore.exceptions import ClientError

from local_twin.emulator import Emulator, MonitoringError
from local_twin.monitor import analyzer
from local_twin.serving import ServingContainer
from tests.integration.emulator.conftest import Resources, unique

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
ANALYZER = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-0000000000aa"
NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
HOUR = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _rows(count: int, seed: int, shift: float = 0.0) -> str:
    generator = random.Random(seed)
    return "".join(",".join(f"{generator.uniform(0, 1) + shift:.4f}" for _ in range(3)) + "\n" for _ in range(count))


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServingContainer]:
    rows = np.random.default_rng(9).uniform(0.0, 1.0, size=(30, 3))
    booster = xgb.train(
        {"objective": "reg:squarederror", "max_depth": 2, "nthread": 1},
        xgb.DMatrix(rows, label=rows.sum(axis=1)),
        num_boost_round=3,
    )
    model_dir = tmp_path_factory.mktemp("monitoring-model")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        booster.save_model(str(model_dir / "xgboost-model"))
    with ServingContainer(IMAGE, model_dir, {}, work_dir=tmp_path_factory.mktemp("monitoring-container")) as serving:
        yield serving


class Monitored:
    """An endpoint that captures its input, its baseline in S3, and what a test creates for it (removed after)."""

    def __init__(self, aws: Emulator, container: ServingContainer) -> None:
        self.aws = aws
        self.sagemaker, self.s3 = aws.client("sagemaker"), aws.client("s3")
        self.bucket = unique("monitoring")
        self.endpoint = unique("mon")
        self.definitions: list[str] = []
        self.schedules: list[str] = []
        self.s3.create_bucket(Bucket=self.bucket)
        self.sagemaker.create_model(ModelName=self.endpoint, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
        self.sagemaker.create_endpoint_config(
            EndpointConfigName=self.endpoint,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": self.endpoint,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
            DataCaptureConfig={
                "EnableCapture": True,
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": f"s3://{self.bucket}/datacapture",
                "CaptureOptions": [{"CaptureMode": "Input"}],
                "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
            },
        )
        self.sagemaker.create_endpoint(EndpointName=self.endpoint, EndpointConfigName=self.endpoint)
        aws.runtime.serve(self.endpoint, container.url)
        baseline = analyzer.suggest_baseline(analyzer.read_csv(_rows(400, seed=1), header=False))
        self.s3.put_object(Bucket=self.bucket, Key="baseline/statistics.json", Body=json.dumps(baseline.statistics))
        self.s3.put_object(Bucket=self.bucket, Key="baseline/constraints.json", Body=json.dumps(baseline.constraints))

    def definition(self, environment: dict[str, str] | None = None, name: str | None = None) -> str:
        name = name or unique("dq")
        self.sagemaker.create_data_quality_job_definition(
            JobDefinitionName=name,
            DataQualityBaselineConfig={
                "ConstraintsResource": {"S3Uri": f"s3://{self.bucket}/baseline/constraints.json"},
                "StatisticsResource": {"S3Uri": f"s3://{self.bucket}/baseline/statistics.json"},
            },
            DataQualityAppSpecification={"ImageUri": ANALYZER, "Environment": environment or {}},
            DataQualityJobInput={
                "EndpointInput": {"EndpointName": self.endpoint, "LocalPath": "/opt/ml/processing/input/endpoint"}
            },
            DataQualityJobOutputConfig={
                "MonitoringOutputs": [
                    {"S3Output": {"S3Uri": f"s3://{self.bucket}/reports", "LocalPath": "/opt/ml/processing/output"}}
                ],
                "KmsKeyId": KMS_KEY,
            },
            JobResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}},
            RoleArn=ROLE,
        )
        self.definitions.append(name)
        return name

    def schedule(self, definition: str | None = None, name: str | None = None, **config: Any) -> str:
        name = name or unique("sched")
        settings: dict[str, Any] = {
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
            "MonitoringType": "DataQuality",
            **config,
        }
        if "MonitoringJobDefinition" not in settings:
            settings.setdefault("MonitoringJobDefinitionName", definition or self.definition())
        self.sagemaker.create_monitoring_schedule(MonitoringScheduleName=name, MonitoringScheduleConfig=settings)
        self.schedules.append(name)
        return name

    def send(self, rows: str, at: datetime) -> None:
        self.aws.runtime.clock = lambda: at
        self.aws.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=self.endpoint, Body=rows, ContentType="text/csv"
        )

    def read(self, uri: str) -> Any:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return self.s3.get_object(Bucket=bucket, Key=key)

    def cleanup(self) -> None:
        self.aws.runtime.unserve(self.endpoint)
        for name in self.schedules:
            with suppress(ClientError):
                self.sagemaker.delete_monitoring_schedule(MonitoringScheduleName=name)
        for name in self.definitions:
            with suppress(ClientError):
                self.sagemaker.delete_data_quality_job_definition(JobDefinitionName=name)
        with suppress(ClientError):
            self.sagemaker.delete_endpoint(EndpointName=self.endpoint)
            self.sagemaker.delete_endpoint_config(EndpointConfigName=self.endpoint)
            self.sagemaker.delete_model(ModelName=self.endpoint)
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for item in page.get("Contents", []):
                self.s3.delete_object(Bucket=self.bucket, Key=item["Key"])
        self.s3.delete_bucket(Bucket=self.bucket)
        self.aws.runtime.clear()


@pytest.fixture
def monitored(aws: Emulator, container: ServingContainer) -> Iterator[Monitored]:
    made = Monitored(aws, container)
    yield made
    made.cleanup()


def _error(call: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    error = raised.value.response["Error"]
    return {"Code": error.get("Code", ""), "Message": error.get("Message", "")}


# --- the APIs --------------------------------------------------------------------------------------------------------
def test_a_schedule_is_created_described_listed_stopped_started_updated_and_deleted(monitored: Monitored) -> None:
    sagemaker = monitored.sagemaker
    definition = monitored.definition()

    name = monitored.schedule(definition)
    described = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)
    listed = sagemaker.list_monitoring_schedules(EndpointName=monitored.endpoint)["MonitoringScheduleSummaries"]
    sagemaker.stop_monitoring_schedule(MonitoringScheduleName=name)
    stopped = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)["MonitoringScheduleStatus"]
    sagemaker.start_monitoring_schedule(MonitoringScheduleName=name)
    sagemaker.update_monitoring_schedule(
        MonitoringScheduleName=name,
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "cron(0 12 ? * * *)"},
            "MonitoringJobDefinitionName": definition,
            "MonitoringType": "DataQuality",
        },
    )
    updated = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)
    sagemaker.delete_monitoring_schedule(MonitoringScheduleName=name)

    assert described["MonitoringScheduleArn"] == f"arn:aws:sagemaker:us-east-1:123456789012:monitoring-schedule/{name}"
    assert described["MonitoringScheduleStatus"] == "Scheduled"
    assert described["EndpointName"] == monitored.endpoint
    assert described["MonitoringType"] == "DataQuality"
    assert described["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"] == definition
    assert "LastMonitoringExecutionSummary" not in described
    assert [(s["MonitoringScheduleName"], s["MonitoringJobDefinitionName"]) for s in listed] == [(name, definition)]
    assert stopped == "Stopped"
    assert updated["MonitoringScheduleStatus"] == "Scheduled"
    assert updated["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] == "cron(0 12 ? * * *)"
    assert _error(sagemaker.describe_monitoring_schedule, MonitoringScheduleName=name)["Code"] == "ResourceNotFound"
    assert sagemaker.list_monitoring_schedules(EndpointName=monitored.endpoint)["MonitoringScheduleSummaries"] == []


def test_job_definitions_list_their_endpoint_and_refuse_a_name_in_use(monitored: Monitored) -> None:
    name = monitored.definition()

    listed = monitored.sagemaker.list_data_quality_job_definitions(EndpointName=monitored.endpoint)
    duplicate = _error(monitored.definition, name=name)
    bad = _error(monitored.definition, name="no_underscores")

    assert [(s["MonitoringJobDefinitionName"], s["EndpointName"]) for s in listed["JobDefinitionSummaries"]] == [
        (name, monitored.endpoint)
    ]
    assert duplicate["Code"] == "ResourceInUse"
    assert bad["Code"] == "ValidationException"
    assert "failed to satisfy constraint: Member must satisfy regular expression pattern" in bad["Message"]


@pytest.mark.parametrize(
    ("name", "config", "code", "message"),
    [
        ("bad_name", {}, "ValidationException", "at 'monitoringScheduleName' failed to satisfy constraint"),
        (None, {"MonitoringJobDefinitionName": "no-such-definition"}, "ValidationException", "no-such-definition"),
        (
            None,
            {"ScheduleConfig": {"ScheduleExpression": "Hourly: cron(0 * ? * * *)"}},
            "ValidationException",
            "Hourly",
        ),
        (None, {"ScheduleConfig": {"ScheduleExpression": "NOW"}}, "ValidationException", "DataAnalysisStartTime"),
        (None, {"MonitoringType": "Drift"}, "ValidationException", "Member must satisfy enum value set"),
    ],
)
def test_bad_schedules_are_refused_with_aws_errors(
    monitored: Monitored, name: str | None, config: dict[str, Any], code: str, message: str
) -> None:
    error = _error(monitored.schedule, name=name, **config)

    assert error["Code"] == code
    assert message in error["Message"]


def test_a_schedule_for_an_endpoint_that_does_not_exist_is_refused(monitored: Monitored) -> None:
    error = _error(
        monitored.schedule,
        MonitoringJobDefinition={
            "MonitoringInputs": [{"EndpointInput": {"EndpointName": "no-such-endpoint", "LocalPath": "/opt/ml/x"}}],
            "MonitoringOutputConfig": {
                "MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://b/r", "LocalPath": "/opt/ml/processing/output"}}]
            },
            "MonitoringResources": {
                "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}
            },
            "MonitoringAppSpecification": {"ImageUri": ANALYZER},
            "RoleArn": ROLE,
        },
    )

    assert error["Code"] == "ValidationException"
    assert "no-such-endpoint" in error["Message"]


def test_a_second_schedule_of_the_same_name_is_in_use(monitored: Monitored) -> None:
    name = monitored.schedule()

    assert _error(monitored.schedule, name=name)["Code"] == "ResourceInUse"


# --- executions ------------------------------------------------------------------------------------------------------
def test_an_execution_on_data_like_the_baseline_completes_and_writes_its_reports(
    aws: Emulator, monitored: Monitored
) -> None:
    name = monitored.schedule()
    monitored.send(_rows(200, seed=2), HOUR + timedelta(minutes=10))

    run = aws.monitoring.run_now(name, scheduled_time=HOUR + timedelta(minutes=30))

    assert run.status == "Completed"
    assert run.rows == 200 and run.violations == []
    assert run.report_uri == f"s3://{monitored.bucket}/reports/{monitored.endpoint}/{name}/2026/12/01/08"
    statistics = monitored.read(f"{run.report_uri}/statistics.json")
    violations = monitored.read(f"{run.report_uri}/constraint_violations.json")
    assert (statistics["ServerSideEncryption"], statistics["SSEKMSKeyId"]) == ("aws:kms", KMS_KEY)
    assert json.loads(statistics["Body"].read())["dataset"] == {"item_count": 200}
    assert json.loads(violations["Body"].read()) == {"violations": []}
    summary = monitored.sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)[
        "LastMonitoringExecutionSummary"
    ]
    assert summary["MonitoringExecutionStatus"] == "Completed"
    assert summary["ScheduledTime"] == HOUR + timedelta(minutes=30)
    assert summary["ProcessingJobArn"].startswith(
        "arn:aws:sagemaker:us-east-1:123456789012:processing-job/model-monitoring-202612010830-"
    )
    assert summary["EndpointName"] == monitored.endpoint
    executions = monitored.sagemaker.list_monitoring_executions(MonitoringScheduleName=name)
    assert [e["MonitoringExecutionStatus"] for e in executions["MonitoringExecutionSummaries"]] == ["Completed"]


def test_drifted_data_completes_with_violations_and_publishes_the_drift_metrics(
    aws: Emulator, monitored: Monitored
) -> None:
    name = monitored.schedule()
    monitored.send(_rows(200, seed=3, shift=0.5), HOUR + timedelta(minutes=5))

    run = aws.monitoring.run_now(name, scheduled_time=HOUR + timedelta(minutes=20))

    assert run.status == "CompletedWithViolations"
    assert {(v["feature_name"], v["constraint_check_type"]) for v in run.violations} == {
        ("_c0", "baseline_drift_check"),
        ("_c1", "baseline_drift_check"),
        ("_c2", "baseline_drift_check"),
    }
    report = json.loads(monitored.read(f"{run.report_uri}/constraint_violations.json")["Body"].read())
    assert report == {"violations": run.violations}
    statistics = aws.client("cloudwatch").get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="feature_baseline_drift__c0",
        Dimensions=[{"Name": "Endpoint", "Value": monitored.endpoint}, {"Name": "MonitoringSchedule", "Value": name}],
        StartTime=HOUR,
        EndTime=HOUR + timedelta(hours=1),
        Period=3600,
        Statistics=["Maximum"],
    )
    assert [p["Maximum"] for p in statistics["Datapoints"]] == [pytest.approx(run.distances["_c0"])]
    assert run.distances["_c0"] > 0.1


def test_without_captured_data_the_execution_fails_as_aws_reports_it(aws: Emulator, monitored: Monitored) -> None:
    name = monitored.schedule()

    run = aws.monitoring.run_now(name, scheduled_time=HOUR)

    assert run.status == "Failed"
    assert run.summary["FailureReason"] == "Job inputs had no data"
    assert "ProcessingJobArn" not in run.summary
    described = monitored.sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)
    assert described["LastMonitoringExecutionSummary"]["FailureReason"] == "Job inputs had no data"


def test_each_execution_reads_only_what_was_captured_since_the_previous_one(
    aws: Emulator, monitored: Monitored
) -> None:
    name = monitored.schedule()
    monitored.send(_rows(50, seed=4), HOUR + timedelta(minutes=1))
    first = aws.monitoring.run_now(name, scheduled_time=HOUR + timedelta(minutes=2))
    monitored.send(_rows(70, seed=5), HOUR + timedelta(minutes=3))
    second = aws.monitoring.run_now(name, scheduled_time=HOUR + timedelta(minutes=4))
    third = aws.monitoring.run_now(name, scheduled_time=HOUR + timedelta(minutes=5))

    assert (first.rows, second.rows, third.rows) == (50, 70, 0)
    assert third.summary["FailureReason"] == "Job inputs had no data"
    listed = monitored.sagemaker.list_monitoring_executions(
        MonitoringScheduleName=name, SortBy="ScheduledTime", SortOrder="Ascending"
    )["MonitoringExecutionSummaries"]
    assert [e["MonitoringExecutionStatus"] for e in listed] == ["Completed", "Completed", "Failed"]


def test_disabled_metrics_are_not_published(aws: Emulator, monitored: Monitored) -> None:
    name = monitored.schedule(monitored.definition({"publish_cloudwatch_metrics": "Disabled"}))
    monitored.send(_rows(20, seed=6), HOUR + timedelta(minutes=1))

    run = aws.monitoring.run_now(name, scheduled_time=HOUR + timedelta(minutes=2))

    assert run.status == "Completed" and run.metrics == []
    listed = aws.client("cloudwatch").list_metrics(
        Namespace=NAMESPACE, Dimensions=[{"Name": "MonitoringSchedule", "Value": name}]
    )
    assert listed["Metrics"] == []


def test_a_stopped_schedule_does_not_run(aws: Emulator, monitored: Monitored) -> None:
    name = monitored.schedule()
    monitored.sagemaker.stop_monitoring_schedule(MonitoringScheduleName=name)

    with pytest.raises(MonitoringError, match="is Stopped"):
        aws.monitoring.run_now(name)


def test_a_drift_alarm_sends_its_state_change_to_an_eventbridge_rule(
    aws: Emulator, monitored: Monitored, resources: Resources
) -> None:
    """The drift loop-back: a monitoring execution's metric breaches an alarm, whose state change reaches a rule."""
    name = monitored.schedule()
    alarm = unique("drift")
    url, arn = resources.queue()
    resources.rule(
        {
            "source": ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            "detail": {"alarmName": [alarm]},
        },
        [{"Id": "queue", "Arn": arn}],
    )
    cloudwatch = aws.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        Namespace=NAMESPACE,
        MetricName="feature_baseline_drift__c1",
        Dimensions=[{"Name": "Endpoint", "Value": monitored.endpoint}, {"Name": "MonitoringSchedule", "Value": name}],
        Statistic="Maximum",
        Period=3600,
        EvaluationPeriods=1,
        Threshold=0.1,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    aws.alarms.clock = lambda: HOUR + timedelta(minutes=40)
    try:
        monitored.send(_rows(200, seed=7, shift=0.5), HOUR + timedelta(minutes=30))
        aws.monitoring.run_now(name, scheduled_time=HOUR + timedelta(minutes=35))
        events = [json.loads(m["Body"]) for m in resources.receive(url, 2)]
    finally:
        aws.alarms.clear()
        cloudwatch.delete_alarms(AlarmNames=[alarm])

    assert [(e["detail"]["previousState"]["value"], e["detail"]["state"]["value"]) for e in events] == [
        ("INSUFFICIENT_DATA", "OK"),  # created: no datapoint yet, missing data not breaching
        ("OK", "ALARM"),
    ]
    assert events[1]["resources"] == [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}"]
    assert events[1]["detail"]["state"]["reason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [")
