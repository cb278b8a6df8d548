"""CloudWatch metric alarms on the emulated account evaluate when data is put and act as CloudWatch does: the SNS
alarm notification to the alarm's topics, the "CloudWatch Alarm State Change" event to the default bus."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_twin.emulator import Emulator
from tests.integration.emulator.conftest import Resources, unique

NOW = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
NAMESPACE = "LocalTwin/Tests"


class Alarming:
    """An SNS topic whose messages land in a queue, a rule whose events land in another, and the alarms a test puts
    (all removed after the test; the alarms' clock is fixed at :data:`NOW`)."""

    def __init__(self, aws: Emulator, resources: Resources) -> None:
        self.aws, self.resources = aws, resources
        self.cloudwatch, self.sns = aws.client("cloudwatch"), aws.client("sns")
        self.metric = unique("metric")
        self.alarms: list[str] = []
        self.topic = str(self.sns.create_topic(Name=unique("alarms"))["TopicArn"])
        self.notifications, queue_arn = resources.queue()
        self.sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=queue_arn)
        self.events, events_arn = resources.queue()
        resources.rule(
            {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]},
            [{"Id": "queue", "Arn": events_arn}],
        )
        aws.alarms.clock = lambda: NOW

    def alarm(self, **settings: Any) -> str:
        name = unique("alarm")
        single_metric = {
            "Namespace": NAMESPACE,
            "MetricName": self.metric,
            "Dimensions": [{"Name": "Endpoint", "Value": "ep"}],
            "Statistic": "Average",
            "Period": 300,
        }
        self.cloudwatch.put_metric_alarm(
            **{
                "AlarmName": name,
                "AlarmDescription": "too high",
                **({} if "Metrics" in settings else single_metric),
                "EvaluationPeriods": 1,
                "Threshold": 1.0,
                "ComparisonOperator": "GreaterThanThreshold",
                "AlarmActions": [self.topic],
                "OKActions": [self.topic],
                **settings,
            }
        )
        self.alarms.append(name)
        return name

    def put(self, value: float, at: datetime = NOW, dimensions: list[dict[str, str]] | None = None) -> None:
        self.cloudwatch.put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {
                    "MetricName": self.metric,
                    "Dimensions": dimensions if dimensions is not None else [{"Name": "Endpoint", "Value": "ep"}],
                    "Timestamp": at,
                    "Value": value,
                }
            ],
        )

    def state(self, name: str) -> dict[str, Any]:
        alarms: list[dict[str, Any]] = self.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        return alarms[0]

    def messages(self, count: int) -> list[dict[str, Any]]:
        return [json.loads(m["Body"]) for m in self.resources.receive(self.notifications, count)]

    def received_events(self, count: int) -> list[dict[str, Any]]:
        return [json.loads(m["Body"]) for m in self.resources.receive(self.events, count)]

    def cleanup(self) -> None:
        if self.alarms:
            self.cloudwatch.delete_alarms(AlarmNames=self.alarms)
        with suppress(ClientError):
            self.sns.delete_topic(TopicArn=self.topic)
        self.aws.alarms.clear()


@pytest.fixture
def alarming(aws: Emulator, resources: Resources) -> Iterator[Alarming]:
    made = Alarming(aws, resources)
    yield made
    made.cleanup()


def test_a_new_alarm_has_insufficient_data_until_its_metric_arrives(alarming: Alarming) -> None:
    name = alarming.alarm()

    state = alarming.state(name)

    assert (state["StateValue"], state["StateReason"]) == ("INSUFFICIENT_DATA", "Unchecked: Initial alarm creation")
    assert alarming.resources.queue_is_empty(alarming.notifications)


def test_a_breaching_datapoint_sends_the_alarm_notification_to_the_topic(alarming: Alarming) -> None:
    name = alarming.alarm()

    alarming.put(2.5)

    state = alarming.state(name)
    reason = (
        "Threshold Crossed: 1 out of the last 1 datapoints [2.5 (01/12/26 08:30:00)] was greater than the threshold "
        "(1.0) (minimum 1 datapoint for INSUFFICIENT_DATA -> ALARM transition)."
    )
    assert (state["StateValue"], state["StateReason"]) == ("ALARM", reason)
    reason_data = json.loads(state["StateReasonData"])
    assert {k: reason_data[k] for k in ("version", "statistic", "period", "recentDatapoints", "threshold")} == {
        "version": "1.0",
        "statistic": "Average",
        "period": 300,
        "recentDatapoints": [2.5],
        "threshold": 1.0,
    }
    [envelope] = alarming.messages(1)
    assert envelope["Type"] == "Notification" and envelope["TopicArn"] == alarming.topic
    assert envelope["Subject"] == f'ALARM: "{name}" in US East (N. Virginia)'
    message = json.loads(envelope["Message"])
    assert {
        k: message[k] for k in ("AlarmName", "AlarmDescription", "AWSAccountId", "NewStateValue", "OldStateValue")
    } == {
        "AlarmName": name,
        "AlarmDescription": "too high",
        "AWSAccountId": "123456789012",
        "NewStateValue": "ALARM",
        "OldStateValue": "INSUFFICIENT_DATA",
    }
    assert message["NewStateReason"] == reason
    assert message["Region"] == "US East (N. Virginia)"
    assert message["AlarmArn"] == f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000", message["StateChangeTime"])
    assert message["Trigger"] == {
        "MetricName": alarming.metric,
        "Namespace": NAMESPACE,
        "StatisticType": "Statistic",
        "Statistic": "AVERAGE",
        "Unit": None,
        "Dimensions": [{"value": "ep", "name": "Endpoint"}],
        "Period": 300,
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 1.0,
        "TreatMissingData": "missing",
        "EvaluateLowSampleCountPercentile": "",
    }


def test_the_state_change_is_an_eventbridge_event_a_rule_delivers(alarming: Alarming) -> None:
    name = alarming.alarm()

    alarming.put(2.5)

    [event] = list(alarming.received_events(1))
    assert event["source"] == "aws.cloudwatch"
    assert event["detail-type"] == "CloudWatch Alarm State Change"
    assert event["account"] == "123456789012" and event["region"] == "us-east-1"
    assert event["resources"] == [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"]
    detail = event["detail"]
    assert list(detail) == ["alarmName", "configuration", "previousState", "state"]
    assert detail["alarmName"] == name
    assert detail["previousState"]["value"] == "INSUFFICIENT_DATA"
    assert detail["state"]["value"] == "ALARM"
    assert detail["state"]["reason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [2.5 ")
    assert json.loads(detail["state"]["reasonData"])["recentDatapoints"] == [2.5]
    assert detail["configuration"]["description"] == "too high"
    assert detail["configuration"]["metrics"][0]["metricStat"] == {
        "metric": {"dimensions": {"Endpoint": "ep"}, "name": alarming.metric, "namespace": NAMESPACE},
        "period": 300,
        "stat": "Average",
    }


def test_recovery_runs_the_ok_actions_and_an_unchanged_state_sends_nothing(alarming: Alarming) -> None:
    name = alarming.alarm()
    alarming.put(2.5)
    alarming.messages(1)

    alarming.put(0.1, at=NOW + timedelta(minutes=1))  # same period: the average (1.3) stays above the threshold
    unchanged = alarming.resources.queue_is_empty(alarming.notifications)
    alarming.aws.alarms.clock = lambda: NOW + timedelta(minutes=5)
    alarming.put(0.5, at=NOW + timedelta(minutes=5))

    assert unchanged
    [envelope] = alarming.messages(1)
    message = json.loads(envelope["Message"])
    assert envelope["Subject"] == f'OK: "{name}" in US East (N. Virginia)'
    assert (message["OldStateValue"], message["NewStateValue"]) == ("ALARM", "OK")
    assert message["NewStateReason"] == (
        "Threshold Crossed: 1 out of the last 1 datapoints [0.5 (01/12/26 08:35:00)] was not greater than the "
        "threshold (1.0) (minimum 1 datapoint for ALARM -> OK transition)."
    )


def test_only_data_of_the_alarms_exact_dimensions_counts(alarming: Alarming) -> None:
    name = alarming.alarm()

    alarming.put(9.0, dimensions=[{"Name": "Endpoint", "Value": "ep"}, {"Name": "MonitoringSchedule", "Value": "s"}])
    alarming.put(9.0, dimensions=[{"Name": "Endpoint", "Value": "other"}])

    assert alarming.state(name)["StateValue"] == "INSUFFICIENT_DATA"


def test_m_out_of_n_datapoints_must_breach(alarming: Alarming) -> None:
    name = alarming.alarm(EvaluationPeriods=3, DatapointsToAlarm=2)

    alarming.put(5.0, at=NOW - timedelta(minutes=10))
    after_one = alarming.state(name)["StateValue"]
    alarming.put(5.0)

    state = alarming.state(name)
    assert after_one == "OK"
    assert state["StateValue"] == "ALARM"
    assert state["StateReason"] == (
        "Threshold Crossed: 2 out of the last 3 datapoints [5.0 (01/12/26 08:30:00), 5.0 (01/12/26 08:20:00)] were "
        "greater than the threshold (1.0) (minimum 2 datapoints for OK -> ALARM transition)."
    )


def test_missing_data_treated_as_not_breaching_makes_a_new_alarm_ok(alarming: Alarming) -> None:
    name = alarming.alarm(TreatMissingData="notBreaching")

    state = alarming.state(name)

    assert state["StateValue"] == "OK"
    assert state["StateReason"] == (
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as "
        "[NonBreaching]."
    )


def test_set_alarm_state_acts_as_a_state_change_does(alarming: Alarming) -> None:
    name = alarming.alarm()

    alarming.cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="testing the actions")
    alarming.cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="no change, no action")

    [envelope] = alarming.messages(1)
    assert json.loads(envelope["Message"])["NewStateReason"] == "testing the actions"
    [event] = alarming.received_events(1)
    assert (event["detail"]["previousState"]["value"], event["detail"]["state"]["value"]) == (
        "INSUFFICIENT_DATA",
        "ALARM",
    )
    assert alarming.resources.queue_is_empty(alarming.notifications)


def test_disabled_actions_send_no_notification_but_the_event_still_goes(alarming: Alarming) -> None:
    name = alarming.alarm(ActionsEnabled=False)

    alarming.put(2.5)

    assert alarming.state(name)["StateValue"] == "ALARM"
    assert alarming.received_events(1)[0]["detail"]["state"]["value"] == "ALARM"
    assert alarming.resources.queue_is_empty(alarming.notifications)


def test_putting_an_existing_alarm_again_keeps_its_state(alarming: Alarming) -> None:
    name = alarming.alarm()
    alarming.put(2.5)

    alarming.cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace=NAMESPACE,
        MetricName=alarming.metric,
        Dimensions=[{"Name": "Endpoint", "Value": "ep"}],
        Statistic="Average",
        Period=300,
        EvaluationPeriods=1,
        Threshold=2.0,
        ComparisonOperator="GreaterThanThreshold",
    )

    assert alarming.state(name)["StateValue"] == "ALARM"
    assert alarming.state(name)["Threshold"] == 2.0


def test_a_max_of_metrics_alarm_breaches_when_any_one_of_them_does(alarming: Alarming) -> None:
    """The template's drift alarm: ``MAX([m0, m1])`` of two features' drift metrics, per period."""
    other = unique("metric")
    stats = [
        {
            "Id": query_id,
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": NAMESPACE,
                    "MetricName": metric,
                    "Dimensions": [{"Name": "Endpoint", "Value": "ep"}],
                },
                "Period": 300,
                "Stat": "Maximum",
            },
        }
        for query_id, metric in (("m0", alarming.metric), ("m1", other))
    ]
    name = alarming.alarm(
        Metrics=[{"Id": "drift", "Expression": "MAX([m0, m1])", "ReturnData": True}, *stats],
    )
    alarming.put(0.5)
    assert alarming.state(name)["StateValue"] == "OK"

    alarming.cloudwatch.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {"MetricName": other, "Dimensions": [{"Name": "Endpoint", "Value": "ep"}], "Timestamp": NOW, "Value": 3.0}
        ],
    )

    state = alarming.state(name)
    assert state["StateValue"] == "ALARM"
    assert "[3.0 (01/12/26 08:30:00)] was greater than the threshold (1.0)" in state["StateReason"]
    [_, alarm_message] = alarming.messages(2)
    trigger = json.loads(alarm_message["Message"])["Trigger"]
    assert [m["Id"] for m in trigger["Metrics"]] == ["drift", "m0", "m1"]
    assert trigger["Metrics"][0]["Expression"] == "MAX([m0, m1])"
