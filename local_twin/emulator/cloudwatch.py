"""CloudWatch metric alarms that evaluate and act, which moto 5.2.5's never do (it stores them, always ``OK``).

AWS's behaviour, from the CloudWatch user guide ("Using Amazon CloudWatch alarms", "Alarm evaluation", "Configuring
how CloudWatch alarms treat missing data", "Alarm events and EventBridge") and the API reference (PutMetricAlarm,
SetAlarmState):

- a new alarm starts ``INSUFFICIENT_DATA`` with the reason "Unchecked: Initial alarm creation" (moto: ``OK``); putting
  an alarm that exists keeps its state ("When you update an existing alarm, its state is left unchanged");
- an alarm is evaluated when data of its metric (namespace, name and the exact set of dimensions, and its unit if it
  has one) is put, and when it is created or updated; SetAlarmState sets the state directly ("When the updated state
  differs from the previous value, the action configured for the appropriate state is invoked");
- on a state change: ``StateValue``, ``StateReason``, ``StateReasonData`` and ``StateUpdatedTimestamp`` are set; when
  ``ActionsEnabled``, each SNS topic of ``AlarmActions`` / ``OKActions`` / ``InsufficientDataActions`` gets the alarm
  notification -- subject ``ALARM: "<name>" in <region name>``, the JSON message with ``AlarmName``,
  ``AlarmDescription``, ``AWSAccountId``, ``AlarmConfigurationUpdatedTimestamp``, ``NewStateValue``,
  ``NewStateReason``, ``StateChangeTime``, ``Region``, ``AlarmArn``, ``OldStateValue``, ``OKActions``,
  ``AlarmActions``, ``InsufficientDataActions`` and ``Trigger`` (``MetricName``, ``Namespace``, ``StatisticType``,
  ``Statistic`` in capitals, ``Unit``, ``Dimensions`` as ``{"value", "name"}``, ``Period``, ``EvaluationPeriods``,
  ``DatapointsToAlarm``, ``ComparisonOperator``, ``Threshold``, ``TreatMissingData``,
  ``EvaluateLowSampleCountPercentile``), after real notifications and the aws/aws-lambda-go test payload
  ``events/testdata/cloudwatch-alarm-sns-payload-single-metric.json``; whatever the actions, a
  ``CloudWatch Alarm State Change`` event (source ``aws.cloudwatch``, the alarm's ARN as resource, ``detail`` with
  ``alarmName``, ``configuration`` -- ``description``, ``metrics[].metricStat`` --, ``previousState`` and ``state``,
  each ``value``, ``reason``, ``reasonData``, ``timestamp``) goes to the account's default event bus, as the user
  guide's example shows;
- reasons in CloudWatch's words: ``Threshold Crossed: 1 out of the last 1 datapoints [0.5 (01/12/26 08:00:00)] was
  greater than the threshold (0.1) (minimum 1 datapoint for OK -> ALARM transition).`` (``was not greater than`` for
  OK), ``Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as
  [NonBreaching].``, and ``reasonData`` ``{"version":"1.0","queryDate":...,"startDate":...,"statistic":...,
  "period":...,"recentDatapoints":[...],"threshold":...}`` (plus ``evaluatedDatapoints`` [I]).

Simplified, and documented as such:

- periods are aligned to multiples of ``Period`` since the epoch and the evaluation range is the ``EvaluationPeriods``
  periods ending with the one that holds the current time (:attr:`Alarms.clock`), the current one included: CloudWatch
  evaluates complete periods a little later, the local twin wants the answer at once;
- ``DatapointsToAlarm`` (M of N): ``ALARM`` when at least M of the N periods breach; ``OK`` otherwise; with no
  datapoint in the range: ``missing`` (the default) → ``INSUFFICIENT_DATA``, ``notBreaching`` → ``OK``,
  ``breaching`` → ``ALARM``, ``ignore`` → unchanged; with some datapoints, a missing period counts as breaching
  only for ``breaching`` (CloudWatch's look-back beyond N periods for ``missing`` is not reproduced);
- statistics SampleCount, Average, Sum, Minimum, Maximum; of metric math, only an alarm whose one returned
  expression is ``MAX``, ``MIN``, ``SUM`` or ``AVG`` of an array of its metrics (``MAX([m0, m1])``): per period, the
  function of the metrics that have a datapoint in it, as the metric math reference describes these functions applied
  to an array of time series ("returns the maximum value for each timestamp"); other expressions, extended statistics
  (percentiles), anomaly detection and composite alarms are never evaluated (they keep their state; SetAlarmState
  still acts);
- actions other than SNS topics (Auto Scaling, EC2, Systems Manager, Lambda) are recorded in :attr:`Alarms.unsupported`,
  not run; the "Insufficient Data" reason wording and the ``evaluatedDatapoints`` member are inferred [I].
"""

from __future__ import annotations

import json
import math
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
from moto.cloudwatch.models import (
    Alarm,
    CloudWatchBackend,
    MetricAggregatedDatum,
    MetricDataQuery,
    MetricDatum,
    cloudwatch_backends,
)
from moto.events.models import events_backends
from moto.sns.models import sns_backends
from moto.utilities.arns import parse_arn

from local_twin.emulator import core
from local_twin.monitor.analyzer import java_double

DETAIL_TYPE = "CloudWatch Alarm State Change"
INITIAL_REASON = "Unchecked: Initial alarm creation"
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
COMPARISONS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}
_STATE_ACTIONS = {"ALARM": "alarm_actions", "OK": "ok_actions", "INSUFFICIENT_DATA": "insufficient_data_actions"}


class Alarms:
    """How the emulated CloudWatch evaluates alarms, and what their state changes sent.

    - :attr:`clock`: "now" for evaluations (UTC);
    - :attr:`changes`: every state change, in order: alarm, old and new state, reason, the SNS messages sent
      (``{"TopicArn", "Subject", "Message"}``) and the EventBridge event's detail;
    - :attr:`unsupported`: actions not run (not SNS topics) and SNS topics that could not be published to;
    - :meth:`evaluate`: evaluate alarms now (after moving :attr:`clock`, for instance).
    """

    def __init__(self) -> None:
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.changes: list[dict[str, Any]] = []
        self.unsupported: list[str] = []
        self._lock = threading.RLock()

    def clear(self) -> None:
        with self._lock:
            self.changes.clear()
            self.unsupported.clear()
        self.clock = lambda: datetime.now(UTC)

    def evaluate(
        self, alarm_names: Iterable[str] | None = None, *, account_id: str | None = None, region: str | None = None
    ) -> None:
        emulator = core.active()
        backend = cloudwatch_backends[account_id or emulator.account_id][region or emulator.region]
        names = set(alarm_names) if alarm_names is not None else None
        for alarm in list(backend.alarms.values()):
            if names is None or alarm.name in names:
                _evaluate(backend, alarm)


# --- reading metrics --------------------------------------------------------------------------------------------------
def _moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), tz=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _dimension_set(dimensions: Iterable[Any]) -> frozenset[tuple[str, str]]:
    return frozenset((str(d.name), str(d.value)) for d in dimensions)


def _matches(metric: tuple[str, str, frozenset[tuple[str, str]], str | None], datum: Any) -> bool:
    namespace, name, dimensions, unit = metric
    return bool(
        datum.namespace == namespace
        and datum.name == name
        and _dimension_set(datum.dimensions) == dimensions
        and (not unit or datum.unit == unit)
    )


ARRAY_FUNCTIONS: dict[str, Callable[[list[float]], float]] = {
    "MAX": max,
    "MIN": min,
    "SUM": sum,
    "AVG": lambda values: sum(values) / len(values),
}
_ARRAY_CALL = re.compile(r"^\s*(MAX|MIN|SUM|AVG)\(\s*\[([A-Za-z0-9_,\s]+)\]\s*\)\s*$")


@dataclass(frozen=True)
class _Series:
    """One metric an alarm reads: what identifies it, and the statistic and period it is read with."""

    metric: tuple[str, str, frozenset[tuple[str, str]], str | None]  # namespace, name, dimensions, unit
    statistic: str
    period: int


@dataclass(frozen=True)
class _Reading:
    """How an alarm turns metric data into one value per period: one series, or a function of several."""

    series: tuple[_Series, ...]
    function: str | None  # None: the single series itself
    period: int

    def names(self) -> set[str]:
        return {s.metric[1] for s in self.series}


def _reading(alarm: Alarm) -> _Reading | None:
    """The alarm's reading, or None when this emulator does not evaluate it (module docstring)."""
    if alarm.extended_statistic or getattr(alarm, "rule", None) or alarm.comparison_operator not in COMPARISONS:
        return None
    if not alarm.evaluation_periods:
        return None
    if not alarm.metric_data_queries:
        if not (alarm.metric_name and alarm.namespace and alarm.statistic in STATISTICS and alarm.period):
            return None
        metric = (str(alarm.namespace), str(alarm.metric_name), _dimension_set(alarm.dimensions), alarm.unit)
        single = _Series(metric, str(alarm.statistic), int(alarm.period))
        return _Reading((single,), None, single.period)
    return _math_reading(alarm.metric_data_queries)


def _math_reading(queries: list[MetricDataQuery]) -> _Reading | None:
    returned = [q for q in queries if q.expression and str(q.return_data).lower() != "false"]
    if len(returned) != 1:
        return None
    call = _ARRAY_CALL.match(str(returned[0].expression))
    if call is None:
        return None
    by_id = {str(q.id): q for q in queries}
    series = []
    for query_id in (part.strip() for part in call.group(2).split(",")):
        stat = getattr(by_id.get(query_id), "metric_stat", None)
        if stat is None or stat.stat not in STATISTICS or not stat.period:
            return None
        metric = stat.metric
        key = (str(metric.namespace), str(metric.metric_name), _dimension_set(metric.dimensions), stat.unit)
        series.append(_Series(key, str(stat.stat), int(stat.period)))
    periods = {s.period for s in series}
    if len(periods) != 1:
        return None
    return _Reading(tuple(series), call.group(1), periods.pop())


def _statistic(statistic: str, data: list[Any]) -> tuple[float, float]:
    """(value, sample count) of a period's data, as GetMetricStatistics computes it."""
    singles = [float(d.value) for d in data if isinstance(d, MetricDatum)]
    sets = [d for d in data if isinstance(d, MetricAggregatedDatum)]
    count = float(len(singles)) + sum(float(s.sample_count) for s in sets)
    total = sum(singles) + sum(float(s.sum) for s in sets)
    if statistic == "SampleCount":
        return count, count
    if statistic == "Sum":
        return total, count
    if statistic == "Average":
        return total / count, count
    if statistic == "Minimum":
        return min(singles + [float(s.min) for s in sets]), count
    return max(singles + [float(s.max) for s in sets]), count


# --- formats ----------------------------------------------------------------------------------------------------------
def _cw_time(moment: datetime) -> str:
    """``2019-10-01T13:56:40.987+0000``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _listed(points: list[tuple[datetime, float]]) -> str:
    return ", ".join(f"{java_double(value)} ({start.strftime('%d/%m/%y %H:%M:%S')})" for start, value in points)


def _evaluate(backend: CloudWatchBackend, alarm: Alarm) -> None:
    """Evaluate one alarm now and act on a change of state (module docstring)."""
    reading = _reading(alarm)
    if reading is None:
        return
    alarms = core.active().alarms
    now = alarms.clock().astimezone(UTC)
    period = reading.period
    count = int(alarm.evaluation_periods)
    required = int(alarm.datapoints_to_alarm or count)
    newest = math.floor(now.timestamp() / period) * period
    starts = [datetime.fromtimestamp(newest - k * period, tz=UTC) for k in range(count)]  # newest first
    oldest = starts[-1]
    data = [[d for d in backend.metric_data if _matches(series.metric, d)] for series in reading.series]
    points: list[tuple[datetime, float, float]] = []  # (period start, value, sample count), newest first
    for start in starts:
        values, samples = [], 0.0
        for series, series_data in zip(reading.series, data, strict=True):
            inside = [d for d in series_data if start <= _moment(d.timestamp) < start + timedelta(seconds=period)]
            if inside:
                value, count_in = _statistic(series.statistic, inside)
                values.append(value)
                samples += count_in
        if values:
            combined = values[0] if reading.function is None else ARRAY_FUNCTIONS[reading.function](values)
            points.append((start, combined, samples))
    text, breaches = COMPARISONS[str(alarm.comparison_operator)]
    threshold = float(alarm.threshold)
    treat = str(alarm.treat_missing_data or "missing")
    missing = count - len(points)
    breaching = [(s, v) for s, v, _ in points if breaches(v, threshold)]
    fine = [(s, v) for s, v, _ in points if not breaches(v, threshold)]
    old = str(alarm.state_value)
    if not points:
        if treat == "ignore":
            return
        if treat == "missing":
            new = "INSUFFICIENT_DATA"
            reason = f"Insufficient Data: {_plural(count, 'datapoint')} {'was' if count == 1 else 'were'} unknown."
        else:
            new = "ALARM" if treat == "breaching" else "OK"
            kind = "Breaching" if treat == "breaching" else "NonBreaching"
            reason = (
                f"Threshold Crossed: no datapoints were received for {_plural(count, 'period')} and "
                f"{_plural(count, 'missing datapoint')} {'was' if count == 1 else 'were'} treated as [{kind}]."
            )
    else:
        crossing = len(breaching) + (missing if treat == "breaching" else 0)
        new = "ALARM" if crossing >= required else "OK"
        shown = breaching if new == "ALARM" else fine
        listed = len(shown) if new == "ALARM" else count - crossing
        verb = "was" if len(shown) == 1 else "were"
        negation = "" if new == "ALARM" else "not "
        reason = (
            f"Threshold Crossed: {listed} out of the last {count} datapoints [{_listed(shown)}] {verb} {negation}"
            f"{text} the threshold ({java_double(threshold)}) (minimum {_plural(required, 'datapoint')} for "
            f"{old} -> {new} transition)."
        )
    if new == old:
        return
    reason_data = json.dumps(
        {
            "version": "1.0",
            "queryDate": _cw_time(now),
            "startDate": _cw_time(oldest),
            **({"statistic": alarm.statistic} if reading.function is None else {}),
            "period": period,
            "recentDatapoints": [v for _, v, _ in reversed(points)],
            "threshold": threshold,
            "evaluatedDatapoints": [{"timestamp": _cw_time(s), "sampleCount": n, "value": v} for s, v, n in points],
        },
        separators=(",", ":"),
    )
    _change(backend, alarm, new, reason, reason_data)


# --- acting -----------------------------------------------------------------------------------------------------------
def _region_name(region: str) -> str:
    for partition in botocore.session.get_session().get_data("endpoints")["partitions"]:
        described = partition.get("regions", {}).get(region, {}).get("description")
        if described:
            return str(described)
    return region


def _state(value: str, reason: str, reason_data: str | None, moment: datetime) -> dict[str, Any]:
    state: dict[str, Any] = {"reason": reason}
    if reason_data and reason_data != "{}":
        state["reasonData"] = reason_data
    state["timestamp"] = _cw_time(moment)
    state["value"] = value
    return state


def _notification(backend: CloudWatchBackend, alarm: Alarm, old: str, moment: datetime) -> dict[str, Any]:
    statistic = str(alarm.statistic or "")
    return {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description or None,
        "AWSAccountId": backend.account_id,
        "AlarmConfigurationUpdatedTimestamp": _cw_time(_moment(alarm.configuration_updated_timestamp)),
        "NewStateValue": alarm.state_value,
        "NewStateReason": alarm.state_reason,
        "StateChangeTime": _cw_time(moment),
        "Region": _region_name(backend.region_name),
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": old,
        "OKActions": list(alarm.ok_actions or []),
        "AlarmActions": list(alarm.alarm_actions or []),
        "InsufficientDataActions": list(alarm.insufficient_data_actions or []),
        "Trigger": {
            **(_math_trigger(alarm) if alarm.metric_data_queries else _metric_trigger(alarm, statistic)),
            "Period": int(alarm.period or 0),
            "EvaluationPeriods": int(alarm.evaluation_periods or 0),
            "DatapointsToAlarm": int(alarm.datapoints_to_alarm or alarm.evaluation_periods or 0),
            "ComparisonOperator": alarm.comparison_operator,
            "Threshold": float(alarm.threshold) if alarm.threshold is not None else None,
            "TreatMissingData": alarm.treat_missing_data or "missing",
            "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile or "",
        },
    }


def _metric_trigger(alarm: Alarm, statistic: str) -> dict[str, Any]:
    return {
        "MetricName": alarm.metric_name,
        "Namespace": alarm.namespace,
        "StatisticType": "Statistic",
        "Statistic": statistic.upper(),
        "Unit": alarm.unit or None,
        "Dimensions": [{"value": d.value, "name": d.name} for d in alarm.dimensions],
    }


def _math_trigger(alarm: Alarm) -> dict[str, Any]:
    """A metric math alarm's trigger lists its queries (``Metrics``) instead of one metric [I: the member names follow
    PutMetricAlarm's MetricDataQuery, as the Lambda/SNS payloads of metric math alarms show them]."""
    metrics: list[dict[str, Any]] = []
    for query in alarm.metric_data_queries:
        entry: dict[str, Any] = {"Id": query.id, "ReturnData": str(query.return_data).lower() != "false"}
        if query.label:
            entry["Label"] = query.label
        if query.expression:
            entry["Expression"] = query.expression
        if query.metric_stat is not None:
            metric = query.metric_stat.metric
            entry["MetricStat"] = {
                "Metric": {
                    "Dimensions": [{"value": d.value, "name": d.name} for d in metric.dimensions],
                    "MetricName": metric.metric_name,
                    "Namespace": metric.namespace,
                },
                "Period": int(query.metric_stat.period or 0),
                "Stat": query.metric_stat.stat,
            }
        metrics.append(entry)
    return {"Metrics": metrics}


def _event_metrics(alarm: Alarm) -> list[dict[str, Any]]:
    """``configuration.metrics`` of the state-change event: one entry per query of a metric math alarm (the user
    guide's "Alarm events and EventBridge" example shows a metric math alarm's ``expression`` entries)."""
    entries: list[dict[str, Any]] = []
    for query in alarm.metric_data_queries:
        entry: dict[str, Any] = {"id": query.id, "returnData": str(query.return_data).lower() != "false"}
        if query.label:
            entry["label"] = query.label
        if query.expression:
            entry["expression"] = query.expression
        if query.metric_stat is not None:
            metric = query.metric_stat.metric
            entry["metricStat"] = {
                "metric": {
                    "dimensions": {d.name: d.value for d in metric.dimensions},
                    "name": metric.metric_name,
                    "namespace": metric.namespace,
                },
                "period": int(query.metric_stat.period or 0),
                "stat": query.metric_stat.stat,
            }
        entries.append(entry)
    return entries


def _event_detail(alarm: Alarm, previous: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    configuration: dict[str, Any] = {}
    if alarm.description:
        configuration["description"] = alarm.description
    if alarm.metric_name:
        configuration["metrics"] = [
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, alarm.alarm_arn)),
                "metricStat": {
                    "metric": {
                        "dimensions": {d.name: d.value for d in alarm.dimensions},
                        "name": alarm.metric_name,
                        "namespace": alarm.namespace,
                    },
                    "period": int(alarm.period or 0),
                    "stat": alarm.statistic,
                },
                "returnData": True,
            }
        ]
    elif alarm.metric_data_queries:
        configuration["metrics"] = _event_metrics(alarm)
    return {"alarmName": alarm.name, "configuration": configuration, "previousState": previous, "state": state}


def _change(backend: CloudWatchBackend, alarm: Alarm, new: str, reason: str, reason_data: str | None) -> None:
    """Set the alarm's new state and act on it (SNS actions if enabled, the EventBridge event always)."""
    old, old_reason, old_data = str(alarm.state_value), str(alarm.state_reason), alarm.state_reason_data
    old_time = _moment(alarm.state_updated_timestamp)
    alarm.update_state(reason, reason_data or "{}", new)
    moment = _moment(alarm.state_updated_timestamp)
    _acted(backend, alarm, old, _state(old, old_reason, old_data, old_time), moment)


def _acted(backend: CloudWatchBackend, alarm: Alarm, old: str, previous: dict[str, Any], moment: datetime) -> None:
    alarms = core.active().alarms
    state = _state(str(alarm.state_value), str(alarm.state_reason), alarm.state_reason_data, moment)
    sent: list[dict[str, Any]] = []
    if alarm.actions_enabled:
        message = _notification(backend, alarm, old, moment)
        subject = f'{alarm.state_value}: "{alarm.name}" in {message["Region"]}'[:100]
        for action in getattr(alarm, _STATE_ACTIONS[str(alarm.state_value)]) or []:
            arn = parse_arn(action) if action.startswith("arn:") else None
            if arn is None or arn.service != "sns":
                with alarms._lock:
                    alarms.unsupported.append(f"{alarm.name}: action {action} is not run locally (only SNS topics)")
                continue
            body = json.dumps(message)
            try:
                sns_backends[arn.account][arn.region].publish(body, arn=action, subject=subject)
            except Exception as error:  # noqa: BLE001 - a failed action does not undo the state change, as in AWS
                with alarms._lock:
                    alarms.unsupported.append(f"{alarm.name}: publishing to {action} failed: {error}")
                continue
            sent.append({"TopicArn": action, "Subject": subject, "Message": body})
    detail = _event_detail(alarm, previous, state)
    events_backends[backend.account_id][backend.region_name].put_events(
        [
            {
                "Source": "aws.cloudwatch",
                "DetailType": DETAIL_TYPE,
                "Detail": json.dumps(detail),
                "Resources": [alarm.alarm_arn],
                "EventBusName": "default",
            }
        ]
    )
    with alarms._lock:
        alarms.changes.append(
            {
                "AlarmName": alarm.name,
                "OldStateValue": old,
                "NewStateValue": alarm.state_value,
                "NewStateReason": alarm.state_reason,
                "Notifications": sent,
                "Event": detail,
            }
        )


# --- patches ----------------------------------------------------------------------------------------------------------
def _wrap_put_metric_data(original: Callable[..., None]) -> Callable[..., None]:
    def put_metric_data(self: CloudWatchBackend, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        original(self, namespace, metric_data)
        names = {str(m.get("MetricName")) for m in metric_data}
        for alarm in list(self.alarms.values()):
            reading = _reading(alarm)
            if (
                reading is not None
                and any(s.metric[0] == namespace for s in reading.series)
                and reading.names() & names
            ):
                _evaluate(self, alarm)

    return put_metric_data


def _wrap_put_metric_alarm(original: Callable[..., Alarm]) -> Callable[..., Alarm]:
    def put_metric_alarm(self: CloudWatchBackend, name: str, *args: Any, **kwargs: Any) -> Alarm:
        previous = self.alarms.get(name)
        alarm = original(self, name, *args, **kwargs)
        if previous is not None:
            alarm.state_value, alarm.state_reason = previous.state_value, previous.state_reason
            alarm.state_reason_data = previous.state_reason_data
            alarm.state_updated_timestamp, alarm.history = previous.state_updated_timestamp, previous.history
        else:
            alarm.state_value, alarm.state_reason, alarm.state_reason_data = "INSUFFICIENT_DATA", INITIAL_REASON, "{}"
        _evaluate(self, alarm)
        return alarm

    return put_metric_alarm


def _wrap_set_alarm_state(original: Callable[..., None]) -> Callable[..., None]:
    def set_alarm_state(
        self: CloudWatchBackend, alarm_name: str, reason: str, reason_data: str, state_value: str
    ) -> None:
        alarm = self.alarms.get(alarm_name)
        before = None
        if alarm is not None:
            before = (
                str(alarm.state_value),
                _state(
                    str(alarm.state_value),
                    str(alarm.state_reason),
                    alarm.state_reason_data,
                    _moment(alarm.state_updated_timestamp),
                ),
            )
        original(self, alarm_name, reason, reason_data, state_value)
        if alarm is not None and before is not None and before[0] != state_value:
            _acted(self, alarm, before[0], before[1], _moment(alarm.state_updated_timestamp))

    return set_alarm_state


def patches() -> list[tuple[Any, str, Any]]:
    return [
        (CloudWatchBackend, "put_metric_data", _wrap_put_metric_data(CloudWatchBackend.put_metric_data)),
        (CloudWatchBackend, "put_metric_alarm", _wrap_put_metric_alarm(CloudWatchBackend.put_metric_alarm)),
        (CloudWatchBackend, "set_alarm_state", _wrap_set_alarm_state(CloudWatchBackend.set_alarm_state)),
    ]


def compatibility_problems() -> list[str]:
    problems = [
        f"CloudWatchBackend.{name} is gone"
        for name in ("put_metric_data", "put_metric_alarm", "set_alarm_state")
        if not callable(getattr(CloudWatchBackend, name, None))
    ]
    names = Alarm.__init__.__code__.co_names
    for attribute in (
        "state_value",
        "state_reason",
        "state_reason_data",
        "state_updated_timestamp",
        "treat_missing_data",
        "datapoints_to_alarm",
        "actions_enabled",
        "ok_actions",
        "insufficient_data_actions",
    ):
        if attribute not in names:
            problems.append(f"cloudwatch Alarm no longer sets {attribute}")
    if not callable(getattr(Alarm, "update_state", None)):
        problems.append("cloudwatch Alarm.update_state is gone")
    if "metric_data" not in CloudWatchBackend.__init__.__code__.co_names:
        problems.append("CloudWatchBackend no longer keeps metric_data")
    return problems
