"""SageMaker Model Monitor's schedules and executions, which moto 5.2.5 lacks, after botocore's SageMaker model and
the SageMaker developer guide; executions are run on demand by :meth:`Monitoring.run_now`.

=================================== ===============================================================================
moto (5.2.5)                        with the emulator
=================================== ===============================================================================
Create/Describe/List/Delete-        kept, with AWS's checks added on create: the name pattern
DataQualityJobDefinition            ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`` (ValidationException in AWS's "1 validation
                                    error detected" wording) and ``ResourceInUse`` for a name in use (moto replaced
                                    the definition). ListDataQualityJobDefinitions: moto answers the placeholder
                                    ``"EndpointName"``; here the definition's endpoint, and the API's filters
                                    (EndpointName, NameContains, CreationTimeBefore/After), SortBy (Name,
                                    CreationTime), SortOrder, MaxResults/NextToken
CreateMonitoringSchedule,           implemented per botocore's shapes (MonitoringScheduleSummary,
DescribeMonitoringSchedule,         MonitoringExecutionSummary, their filters and sort keys); Describe has
UpdateMonitoringSchedule,           ``LastMonitoringExecutionSummary`` once an execution ran, ``EndpointName``,
DeleteMonitoringSchedule,           ``MonitoringType``; Stop sets ``Stopped``, Start ``Scheduled``; an unknown schedule
ListMonitoringSchedules,            is ``ResourceNotFound`` (the error botocore declares for Describe, Update,
ListMonitoringExecutions,           Delete, Start, Stop); a name in use ``ResourceInUse``
Start/StopMonitoringSchedule
missing
=================================== ===============================================================================

Checks on CreateMonitoringSchedule / UpdateMonitoringSchedule (the wording of AWS's messages is not published for
most of them [U]; the error codes follow botocore's model, which declares only ResourceInUse and
ResourceLimitExceeded for CreateMonitoringSchedule, so every bad input is a ``ValidationException``):

- the schedule name's pattern; exactly one of ``MonitoringJobDefinition`` and ``MonitoringJobDefinitionName``; a
  ``MonitoringType`` of the API's enum (default ``DataQuality`` with a definition name [I]); a ``ScheduleConfig``;
- a ``ScheduleExpression`` that is ``NOW`` (then ``DataAnalysisStartTime`` and ``DataAnalysisEndTime`` are required,
  developer guide "Schedule expressions") or ``cron(...)`` with six fields; the developer guide's hourly, daily and
  every-N-hours forms are what SageMaker accepts, any other cron is refused here only if malformed [I];
- a job definition that exists (for DataQuality, a data-quality job definition);
- an endpoint that exists ("SageMaker verifies that an endpoint exists", aws/sagemaker-python-sdk issue #4873).

A new schedule is ``Scheduled`` at once (AWS shows ``Pending`` for a moment first).

Executions (:meth:`Monitoring.run_now`: schedules are hourly at the earliest, the local twin cannot wait) do what
SageMaker's data-quality execution does, per the developer guide ("Schedule monitoring jobs", "Interpret results",
"BYOC contract inputs") and the sources in docs/monitoring.md ("Sources"):

- the window: from the previous execution's scheduled time (the first execution: one hour, as an hourly schedule's)
  to this one's, rounded up to a whole second because capture records carry whole seconds [I];
- the captured data: every object under ``<DestinationS3Uri>/<endpoint>/`` of the endpoint's current endpoint config
  whose ``yyyy/mm/dd/hh`` folder overlaps the window, records kept when ``start <= inferenceTime < end``; CSV rows,
  the output's values first when it was captured (:mod:`local_twin.monitor.capture`);
- no rows: ``Failed`` with ``FailureReason`` "Job inputs had no data" and no processing job (as AWS reports it);
- else the analyzer (:mod:`local_twin.monitor.analyzer`) against the baseline's ``StatisticsResource`` /
  ``ConstraintsResource``: ``Completed``, or ``CompletedWithViolations``; ``statistics.json`` and
  ``constraint_violations.json`` written to ``<MonitoringOutputs[0].S3Output.S3Uri>/<endpoint>/<schedule>/yyyy/mm/dd/
  hh/`` (the scheduled hour, as AWS's sample listing shows), SSE-KMS with the output config's ``KmsKeyId``; the
  constraints.json AWS also writes there is not written [U: its content];
- a baseline or analysis that fails: ``Failed`` with ``AlgorithmError: <reason>`` [U: AWS's wording];
- the metrics (analyzer's namespace ``aws/sagemaker/Endpoints/data-metrics``, dimensions ``Endpoint`` and
  ``MonitoringSchedule``, timestamp the scheduled time [I]) put to CloudWatch unless the job environment sets
  ``publish_cloudwatch_metrics`` to ``Disabled`` (the default is to publish: "To stop the monitoring jobs from
  publishing metrics, set publish_cloudwatch_metrics to Disabled", developer guide, monitoring CloudWatch pages) or
  the constraints' ``emit_metrics`` is ``Disabled``;
- ``ProcessingJobArn``: ``processing-job/model-monitoring-<yyyymmddhhmm>-<hex>`` [I: the name format]; no processing
  job is created in the emulated account.

Not implemented: StartTimeOffset/EndTimeOffset and DataAnalysisStartTime/EndTime (the window above is used), batch
transform inputs, record preprocessor and post-analytics scripts, the other monitoring types' executions
(ModelQuality, ModelBias, ModelExplainability schedules can be created, :meth:`Monitoring.run_now` refuses them).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.models import FakeDataQualityJobDefinition, FakeEndpoint, SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse

from local_twin.emulator import core
from local_twin.monitor import analyzer, capture

NAME_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"  # botocore: MonitoringScheduleName, MonitoringJobDefinitionName
MONITORING_TYPES = ("DataQuality", "ModelQuality", "ModelBias", "ModelExplainability")
SCHEDULE_STATUSES = ("Pending", "Failed", "Scheduled", "Stopped")
NO_DATA = "Job inputs had no data"
ADDED_ACTIONS = (
    "create_monitoring_schedule",
    "describe_monitoring_schedule",
    "update_monitoring_schedule",
    "delete_monitoring_schedule",
    "list_monitoring_schedules",
    "list_monitoring_executions",
    "start_monitoring_schedule",
    "stop_monitoring_schedule",
)
DEFAULT_MAX_RESULTS = 10  # the List* APIs' default page size [I]


class MonitoringError(RuntimeError):
    """:meth:`Monitoring.run_now` cannot run the schedule (unknown, stopped, or of a type not run locally)."""


@dataclass
class _Schedule:
    name: str
    arn: str
    account: str
    region: str
    config: dict[str, Any]
    monitoring_type: str
    endpoint_name: str | None
    tags: list[dict[str, str]]
    status: str = "Scheduled"
    failure_reason: str | None = None
    creation_time: datetime = field(default_factory=utcnow)
    last_modified_time: datetime = field(default_factory=utcnow)
    executions: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "MonitoringScheduleName": self.name,
            "MonitoringScheduleArn": self.arn,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "MonitoringScheduleStatus": self.status,
            "MonitoringType": self.monitoring_type,
        }
        if self.endpoint_name:
            summary["EndpointName"] = self.endpoint_name
        if self.config.get("MonitoringJobDefinitionName"):
            summary["MonitoringJobDefinitionName"] = self.config["MonitoringJobDefinitionName"]
        return summary

    def described(self) -> dict[str, Any]:
        described = {**self.summary(), "MonitoringScheduleConfig": self.config}
        described.pop("MonitoringJobDefinitionName", None)
        if self.failure_reason:
            described["FailureReason"] = self.failure_reason
        if self.executions:
            described["LastMonitoringExecutionSummary"] = dict(self.executions[-1])
        return described


@dataclass(frozen=True)
class MonitoringRun:
    """What :meth:`Monitoring.run_now` did: the execution as ListMonitoringExecutions reports it, and its outputs."""

    summary: dict[str, Any]
    window: tuple[datetime, datetime]
    rows: int
    report_uri: str | None = None  # the folder of statistics.json and constraint_violations.json
    violations: list[dict[str, str]] = field(default_factory=list)
    distances: dict[str, float] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)  # the PutMetricData data published

    @property
    def status(self) -> str:
        return str(self.summary["MonitoringExecutionStatus"])


@dataclass(frozen=True)
class _JobSpec:
    """A data-quality job as a schedule runs it (from a job definition or the schedule's inline definition)."""

    definition_name: str | None
    endpoint_name: str
    statistics_uri: str | None
    constraints_uri: str | None
    output_uri: str
    output_kms_key_id: str | None
    environment: dict[str, str]


class Monitoring:
    """The emulated account's monitoring schedules, and the way to run one's execution now.

    - :meth:`run_now`: run the schedule's next execution at once (or at ``scheduled_time``), synchronously;
    - :attr:`clock`: the time an execution is scheduled at when none is given (UTC);
    - :meth:`executions`: a schedule's executions, oldest first (MonitoringExecutionSummary shapes).
    """

    def __init__(self) -> None:
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.runs: list[MonitoringRun] = []
        self._schedules: dict[tuple[str, str, str], _Schedule] = {}
        self._lock = threading.RLock()

    def clear(self) -> None:
        with self._lock:
            self._schedules.clear()
            self.runs.clear()
        self.clock = lambda: datetime.now(UTC)

    # --- the store --------------------------------------------------------------------------------------------------
    def _get(self, account: str, region: str, name: str) -> _Schedule:
        with self._lock:
            schedule = self._schedules.get((account, region, name))
        if schedule is None:
            arn = _arn(account, region, name)
            raise ResourceNotFound(f"Monitoring schedule {arn} does not exist.")
        return schedule

    def _all(self, account: str, region: str) -> list[_Schedule]:
        with self._lock:
            return [s for (a, r, _), s in self._schedules.items() if (a, r) == (account, region)]

    def executions(
        self, schedule_name: str, *, account_id: str | None = None, region: str | None = None
    ) -> list[dict[str, Any]]:
        account, region_name = _where(account_id, region)
        return [dict(e) for e in self._get(account, region_name, schedule_name).executions]

    # --- executions -------------------------------------------------------------------------------------------------
    def run_now(
        self,
        schedule_name: str,
        *,
        scheduled_time: datetime | None = None,
        account_id: str | None = None,
        region: str | None = None,
    ) -> MonitoringRun:
        """Run the schedule's execution now, as SageMaker runs it at its scheduled time (see the module docstring).

        Raises :class:`MonitoringError` for an unknown or stopped schedule, or a monitoring type other than
        DataQuality; everything else that goes wrong is the execution's ``Failed`` status and reason.
        """
        account, region_name = _where(account_id, region)
        try:
            schedule = self._get(account, region_name, schedule_name)
        except ResourceNotFound as error:
            raise MonitoringError(str(error.message)) from error
        if schedule.status != "Scheduled":
            raise MonitoringError(f"monitoring schedule {schedule_name} is {schedule.status}, not Scheduled")
        if schedule.monitoring_type != "DataQuality":
            raise MonitoringError(f"only DataQuality executions run locally, not {schedule.monitoring_type}")
        moment = (scheduled_time or self.clock()).astimezone(UTC)
        end = _ceil_second(moment)
        with self._lock:
            previous = schedule.executions[-1]["ScheduledTime"] if schedule.executions else None
        start = previous if previous is not None else end - timedelta(hours=1)
        execution: dict[str, Any] = {
            "MonitoringScheduleName": schedule.name,
            "ScheduledTime": end,
            "CreationTime": utcnow(),
            "LastModifiedTime": utcnow(),
            "MonitoringExecutionStatus": "InProgress",
            "MonitoringType": schedule.monitoring_type,
        }
        if schedule.endpoint_name:
            execution["EndpointName"] = schedule.endpoint_name
        if schedule.config.get("MonitoringJobDefinitionName"):
            execution["MonitoringJobDefinitionName"] = schedule.config["MonitoringJobDefinitionName"]
        with self._lock:
            schedule.executions.append(execution)
        run = _Execution(schedule, execution, start, end).run()
        execution["LastModifiedTime"] = utcnow()
        with self._lock:
            self.runs.append(run)
        return run


def _where(account_id: str | None, region: str | None) -> tuple[str, str]:
    emulator = core.active()
    return account_id or emulator.account_id, region or emulator.region


def _arn(account: str, region: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:monitoring-schedule/{name.lower()}"


def _ceil_second(moment: datetime) -> datetime:
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


class _Execution:
    """One data-quality execution (module docstring): reads, analyses, writes, publishes, records."""

    def __init__(self, schedule: _Schedule, execution: dict[str, Any], start: datetime, end: datetime) -> None:
        self.schedule = schedule
        self.execution = execution
        self.start, self.end = start, end
        self.emulator = core.active()
        self.s3 = self.emulator.client("s3")

    def _finish(self, status: str, reason: str | None = None, **outputs: Any) -> MonitoringRun:
        self.execution["MonitoringExecutionStatus"] = status
        if reason:
            self.execution["FailureReason"] = reason[:1024]
        return MonitoringRun(dict(self.execution), (self.start, self.end), **outputs)

    def _read(self, uri: str) -> bytes:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        body: bytes = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def _captured_rows(self, spec: _JobSpec) -> list[capture.CapturedRow]:
        backend = sagemaker_backends[self.schedule.account][self.schedule.region]
        endpoint = backend.endpoints.get(spec.endpoint_name)
        config = backend.endpoint_configs.get(endpoint.endpoint_config_name) if endpoint else None
        destination = str(((config.data_capture_config if config else None) or {}).get("DestinationS3Uri", ""))
        if not destination:
            return []
        bucket, _, prefix = destination.removeprefix("s3://").partition("/")
        base = "/".join(p for p in (prefix.strip("/"), spec.endpoint_name) if p) + "/"
        keys: list[str] = []
        paginator = self.s3.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=bucket, Prefix=base):
                keys.extend(item["Key"] for item in page.get("Contents", []))
        except self.s3.exceptions.NoSuchBucket:
            return []
        rows: list[capture.CapturedRow] = []
        for key in sorted(keys):
            folder = _hour_folder(key[len(base) :])
            if folder is None or folder + timedelta(hours=1) <= self.start or folder >= self.end:
                continue
            records = capture.read_records(self._read(f"s3://{bucket}/{key}").decode("utf-8"))
            for row in capture.rows_of(records):
                if self.start <= row.inference_time < self.end:
                    rows.append(row)
        return rows

    def run(self) -> MonitoringRun:
        try:
            spec = _job_spec(self.schedule)
            rows = self._captured_rows(spec)
        except (capture.CaptureFormatError, ValidationError, ResourceNotFound) as error:
            return self._finish("Failed", f"AlgorithmError: {_message(error)}", rows=0)
        if not rows:
            return self._finish("Failed", NO_DATA, rows=0)
        job = f"model-monitoring-{self.end.strftime('%Y%m%d%H%M')}-{uuid.uuid4().hex[:24]}"
        self.execution["ProcessingJobArn"] = (
            f"arn:aws:sagemaker:{self.schedule.region}:{self.schedule.account}:processing-job/{job}"
        )
        try:
            statistics = json.loads(self._read(spec.statistics_uri)) if spec.statistics_uri else None
            constraints = json.loads(self._read(spec.constraints_uri)) if spec.constraints_uri else None
            analysis = analyzer.analyze(analyzer.Dataset.of([r.values for r in rows]), statistics, constraints)
        except (analyzer.AnalyzerError, ValueError, self.s3.exceptions.ClientError) as error:
            return self._finish("Failed", f"AlgorithmError: {_message(error)}", rows=len(rows))
        hour = self.end.strftime("%Y/%m/%d/%H")
        folder = f"{spec.output_uri.rstrip('/')}/{spec.endpoint_name}/{self.schedule.name}/{hour}"
        for name, document in (
            ("statistics.json", analysis.statistics),
            ("constraint_violations.json", analysis.constraint_violations),
        ):
            bucket, _, key = f"{folder}/{name}".removeprefix("s3://").partition("/")
            encryption: dict[str, str] = (
                {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": spec.output_kms_key_id}
                if spec.output_kms_key_id
                else {}
            )
            self.s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document, indent=2).encode(), **encryption)
        metrics: list[dict[str, Any]] = []
        if spec.environment.get("publish_cloudwatch_metrics", "Enabled") == "Enabled" and analysis.emit_metrics:
            metrics = analyzer.cloudwatch_metrics(
                analysis, endpoint=spec.endpoint_name, schedule=self.schedule.name, timestamp=self.end
            )
            cloudwatch = self.emulator.client("cloudwatch")
            for offset in range(0, len(metrics), 1000):  # PutMetricData takes at most 1000 data
                cloudwatch.put_metric_data(Namespace=analyzer.NAMESPACE, MetricData=metrics[offset : offset + 1000])
        status = "CompletedWithViolations" if analysis.violations else "Completed"
        return self._finish(
            status,
            rows=len(rows),
            report_uri=folder,
            violations=analysis.violations,
            distances=analysis.distances,
            metrics=metrics,
        )


def _message(error: Exception) -> str:
    return str(getattr(error, "message", None) or error)


def _hour_folder(relative: str) -> datetime | None:
    """``<variant>/yyyy/mm/dd/hh/file.jsonl`` → the folder's hour (UTC), or None for another layout."""
    parts = relative.split("/")
    if len(parts) != 6:
        return None
    try:
        year, month, day, hour = (int(p) for p in parts[1:5])
        return datetime(year, month, day, hour, tzinfo=UTC)
    except ValueError:
        return None


def _job_spec(schedule: _Schedule) -> _JobSpec:
    config = schedule.config
    backend = sagemaker_backends[schedule.account][schedule.region]
    name = config.get("MonitoringJobDefinitionName")
    if name:
        definition = backend.data_quality_job_definitions.get(name)
        if definition is None:
            raise ResourceNotFound(f"Job definition {name} not found")
        baseline = definition.data_quality_baseline_config or {}
        job_input = definition.data_quality_job_input or {}
        output = definition.data_quality_job_output_config or {}
        environment = dict((definition.data_quality_app_specification or {}).get("Environment") or {})
        environment.update(definition.environment or {})
    else:
        inline = config["MonitoringJobDefinition"]
        baseline = inline.get("BaselineConfig") or {}
        job_input = (inline.get("MonitoringInputs") or [{}])[0]
        output = inline.get("MonitoringOutputConfig") or {}
        environment = dict(inline.get("Environment") or {})
    endpoint_input = job_input.get("EndpointInput")
    if not endpoint_input:
        raise ValidationError(message="only EndpointInput monitoring inputs are analyzed locally")
    outputs = output.get("MonitoringOutputs") or []
    if not outputs:
        raise ValidationError(message="the job has no MonitoringOutputs")
    return _JobSpec(
        definition_name=name,
        endpoint_name=str(endpoint_input["EndpointName"]),
        statistics_uri=(baseline.get("StatisticsResource") or {}).get("S3Uri"),
        constraints_uri=(baseline.get("ConstraintsResource") or {}).get("S3Uri"),
        output_uri=str(outputs[0]["S3Output"]["S3Uri"]),
        output_kms_key_id=output.get("KmsKeyId") or None,
        environment={str(k): str(v) for k, v in environment.items()},
    )


# --- validation ----------------------------------------------------------------------------------------------------
def _check_name(value: Any, field_path: str) -> None:
    if value is None:
        raise ValidationError(
            message=f"1 validation error detected: Value null at '{field_path}' failed to satisfy constraint: "
            "Member must not be null"
        )
    if not re.fullmatch(NAME_PATTERN, str(value)):
        raise ValidationError(
            message=f"1 validation error detected: Value '{value}' at '{field_path}' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {NAME_PATTERN}"
        )


_CRON = re.compile(r"^cron\((\S+\s+){5}\S+\)$")


def _validate_config(backend: SageMakerModelBackend, config: Mapping[str, Any]) -> tuple[str, str | None]:
    """The schedule's monitoring type and endpoint; a ValidationException for anything SageMaker refuses."""
    inline, named = config.get("MonitoringJobDefinition"), config.get("MonitoringJobDefinitionName")
    if bool(inline) == bool(named):
        raise ValidationError(
            message="Exactly one of MonitoringJobDefinition and MonitoringJobDefinitionName must be provided."
        )
    kind = str(config.get("MonitoringType") or "DataQuality")
    if kind not in MONITORING_TYPES:
        raise ValidationError(
            message=f"1 validation error detected: Value '{kind}' at 'monitoringScheduleConfig.monitoringType' "
            f"failed to satisfy constraint: Member must satisfy enum value set: [{', '.join(MONITORING_TYPES)}]"
        )
    schedule = config.get("ScheduleConfig") or {}
    expression = str(schedule.get("ScheduleExpression") or "")
    if expression == "NOW":
        if not (schedule.get("DataAnalysisStartTime") and schedule.get("DataAnalysisEndTime")):
            raise ValidationError(
                message="DataAnalysisStartTime and DataAnalysisEndTime are required with ScheduleExpression NOW."
            )
    elif not _CRON.match(expression):
        raise ValidationError(message=f"Invalid ScheduleExpression: '{expression}'.")
    if named:
        _check_name(named, "monitoringScheduleConfig.monitoringJobDefinitionName")
        definitions: dict[str, Any] = {"DataQuality": backend.data_quality_job_definitions}.get(kind) or {
            "ModelQuality": getattr(backend, "model_quality_job_definitions", {}),
            "ModelBias": getattr(backend, "model_bias_job_definitions", {}),
            "ModelExplainability": getattr(backend, "model_explainability_job_definitions", {}),
        }.get(kind, {})
        definition = definitions.get(named)
        if definition is None:
            raise ValidationError(message=f"Could not find job definition '{named}' of type {kind}.")
        endpoint_name = _definition_endpoint(definition)
    else:
        inputs = (inline or {}).get("MonitoringInputs") or []
        endpoint_name = next((str(i["EndpointInput"]["EndpointName"]) for i in inputs if i.get("EndpointInput")), None)
    if endpoint_name is not None and endpoint_name not in backend.endpoints:
        arn = FakeEndpoint.arn_formatter(endpoint_name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Could not find endpoint '{arn}'.")
    return kind, endpoint_name


def _definition_endpoint(definition: Any) -> str | None:
    for attribute in (
        "data_quality_job_input",
        "model_quality_job_input",
        "model_bias_job_input",
        "model_explainability_job_input",
    ):
        job_input = getattr(definition, attribute, None) or {}
        endpoint = (job_input.get("EndpointInput") or {}).get("EndpointName")
        if endpoint:
            return str(endpoint)
    return None


# --- API -------------------------------------------------------------------------------------------------------------
def _monitoring() -> Monitoring:
    return core.active().monitoring


def _response_create_monitoring_schedule(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("MonitoringScheduleName")
    _check_name(name, "monitoringScheduleName")
    config = self._get_param("MonitoringScheduleConfig")
    if not isinstance(config, dict):
        raise ValidationError(
            message="1 validation error detected: Value null at 'monitoringScheduleConfig' failed to satisfy "
            "constraint: Member must not be null"
        )
    backend = self.sagemaker_backend
    kind, endpoint = _validate_config(backend, config)
    monitoring = _monitoring()
    key = (backend.account_id, backend.region_name, str(name))
    arn = _arn(backend.account_id, backend.region_name, str(name))
    with monitoring._lock:
        if key in monitoring._schedules:
            raise ResourceInUseException(f"Monitoring schedule {arn} already exists.")
        monitoring._schedules[key] = _Schedule(
            name=str(name),
            arn=arn,
            account=backend.account_id,
            region=backend.region_name,
            config={**config, "MonitoringType": kind},
            monitoring_type=kind,
            endpoint_name=endpoint,
            tags=list(self._get_param("Tags") or []),
        )
    return ActionResult({"MonitoringScheduleArn": arn})


def _schedule_of(self: SageMakerResponse) -> _Schedule:
    backend = self.sagemaker_backend
    return _monitoring()._get(backend.account_id, backend.region_name, str(self._get_param("MonitoringScheduleName")))


def _response_describe_monitoring_schedule(self: SageMakerResponse) -> ActionResult:
    return ActionResult(_schedule_of(self).described())


def _response_update_monitoring_schedule(self: SageMakerResponse) -> ActionResult:
    schedule = _schedule_of(self)
    config = self._get_param("MonitoringScheduleConfig") or {}
    kind, endpoint = _validate_config(self.sagemaker_backend, config)
    with _monitoring()._lock:
        schedule.config = {**config, "MonitoringType": kind}
        schedule.monitoring_type, schedule.endpoint_name = kind, endpoint
        schedule.last_modified_time = utcnow()
    return ActionResult({"MonitoringScheduleArn": schedule.arn})


def _response_delete_monitoring_schedule(self: SageMakerResponse) -> EmptyResult:
    schedule = _schedule_of(self)
    monitoring = _monitoring()
    with monitoring._lock:
        monitoring._schedules.pop((schedule.account, schedule.region, schedule.name), None)
    return EmptyResult()


def _set_status(self: SageMakerResponse, status: str) -> EmptyResult:
    schedule = _schedule_of(self)
    with _monitoring()._lock:
        schedule.status = status
        schedule.last_modified_time = utcnow()
    return EmptyResult()


def _response_start_monitoring_schedule(self: SageMakerResponse) -> EmptyResult:
    return _set_status(self, "Scheduled")


def _response_stop_monitoring_schedule(self: SageMakerResponse) -> EmptyResult:
    return _set_status(self, "Stopped")


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) or re.fullmatch(r"\d+(\.\d+)?", str(value)):
        return datetime.fromtimestamp(float(value), tz=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _aware(moment: Any) -> datetime:
    parsed = _time(moment)
    assert parsed is not None
    return parsed


def _in_range(item: Mapping[str, Any], key: str, before: Any, after: Any) -> bool:
    moment = _aware(item[key])
    low, high = _time(after), _time(before)
    return (low is None or moment > low) and (high is None or moment < high)


def _page(self: SageMakerResponse, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
    size = int(self._get_param("MaxResults") or DEFAULT_MAX_RESULTS)
    token = self._get_param("NextToken")
    start = int(token) if token and str(token).isdigit() else 0
    page = items[start : start + size]
    return page, (str(start + size) if start + size < len(items) else None)


def _sorted(
    self: SageMakerResponse, items: list[dict[str, Any]], keys: Mapping[str, str], default: str
) -> list[dict[str, Any]]:
    by = keys[str(self._get_param("SortBy") or default)]
    descending = str(self._get_param("SortOrder") or "Descending") == "Descending"
    return sorted(items, key=lambda item: (item.get(by) is None, item.get(by)), reverse=descending)


def _response_list_monitoring_schedules(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    summaries = [s.summary() for s in _monitoring()._all(backend.account_id, backend.region_name)]
    filters = {
        "EndpointName": self._get_param("EndpointName"),
        "MonitoringScheduleStatus": self._get_param("StatusEquals"),
        "MonitoringJobDefinitionName": self._get_param("MonitoringJobDefinitionName"),
        "MonitoringType": self._get_param("MonitoringTypeEquals"),
    }
    contains = self._get_param("NameContains")
    kept = [
        s
        for s in summaries
        if all(value is None or s.get(key) == value for key, value in filters.items())
        and (not contains or str(contains) in s["MonitoringScheduleName"])
        and _in_range(s, "CreationTime", self._get_param("CreationTimeBefore"), self._get_param("CreationTimeAfter"))
        and _in_range(
            s, "LastModifiedTime", self._get_param("LastModifiedTimeBefore"), self._get_param("LastModifiedTimeAfter")
        )
    ]
    ordered = _sorted(
        self,
        kept,
        {"Name": "MonitoringScheduleName", "CreationTime": "CreationTime", "Status": "MonitoringScheduleStatus"},
        "CreationTime",
    )
    page, token = _page(self, ordered)
    return ActionResult({"MonitoringScheduleSummaries": page, **({"NextToken": token} if token else {})})


def _response_list_monitoring_executions(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    executions = [dict(e) for s in _monitoring()._all(backend.account_id, backend.region_name) for e in s.executions]
    filters = {
        "MonitoringScheduleName": self._get_param("MonitoringScheduleName"),
        "EndpointName": self._get_param("EndpointName"),
        "MonitoringExecutionStatus": self._get_param("StatusEquals"),
        "MonitoringJobDefinitionName": self._get_param("MonitoringJobDefinitionName"),
        "MonitoringType": self._get_param("MonitoringTypeEquals"),
    }
    kept = [
        e
        for e in executions
        if all(value is None or e.get(key) == value for key, value in filters.items())
        and _in_range(e, "ScheduledTime", self._get_param("ScheduledTimeBefore"), self._get_param("ScheduledTimeAfter"))
        and _in_range(e, "CreationTime", self._get_param("CreationTimeBefore"), self._get_param("CreationTimeAfter"))
        and _in_range(
            e, "LastModifiedTime", self._get_param("LastModifiedTimeBefore"), self._get_param("LastModifiedTimeAfter")
        )
    ]
    ordered = _sorted(
        self,
        kept,
        {"CreationTime": "CreationTime", "ScheduledTime": "ScheduledTime", "Status": "MonitoringExecutionStatus"},
        "CreationTime",
    )
    page, token = _page(self, ordered)
    return ActionResult({"MonitoringExecutionSummaries": page, **({"NextToken": token} if token else {})})


def _wrap_create_data_quality_job_definition(original: Callable[..., ActionResult]) -> Callable[..., ActionResult]:
    def create_data_quality_job_definition(self: SageMakerResponse) -> ActionResult:
        name = self._get_param("JobDefinitionName")
        _check_name(name, "jobDefinitionName")
        if name in self.sagemaker_backend.data_quality_job_definitions:
            arn = FakeDataQualityJobDefinition.arn_formatter(
                str(name), self.sagemaker_backend.account_id, self.sagemaker_backend.region_name
            )
            raise ResourceInUseException(f"Job definition {arn} already exists.")
        return original(self)

    return create_data_quality_job_definition


def _response_list_data_quality_job_definitions(self: SageMakerResponse) -> ActionResult:
    definitions = list(self.sagemaker_backend.data_quality_job_definitions.values())
    summaries = []
    for definition in definitions:
        summary: dict[str, Any] = {
            "MonitoringJobDefinitionName": definition.job_definition_name,
            "MonitoringJobDefinitionArn": definition.arn,
            "CreationTime": definition.creation_time,
        }
        endpoint = _definition_endpoint(definition)
        if endpoint:
            summary["EndpointName"] = endpoint
        summaries.append(summary)
    endpoint_filter, contains = self._get_param("EndpointName"), self._get_param("NameContains")
    kept = [
        s
        for s in summaries
        if (endpoint_filter is None or s.get("EndpointName") == endpoint_filter)
        and (not contains or str(contains) in s["MonitoringJobDefinitionName"])
        and _in_range(s, "CreationTime", self._get_param("CreationTimeBefore"), self._get_param("CreationTimeAfter"))
    ]
    keys = {"Name": "MonitoringJobDefinitionName", "CreationTime": "CreationTime"}
    ordered = _sorted(self, kept, keys, "CreationTime")
    page, token = _page(self, ordered)
    return ActionResult({"JobDefinitionSummaries": page, **({"NextToken": token} if token else {})})


# --- installing --------------------------------------------------------------------------------------------------
def _schedule_by_arn(backend: SageMakerModelBackend, arn: str) -> _Schedule | None:
    """The schedule an ARN names, or None when the ARN is not a monitoring schedule's (moto's resources)."""
    if ":monitoring-schedule/" not in arn:
        return None
    name = arn.rsplit("/", 1)[1]
    schedules = _monitoring()._all(backend.account_id, backend.region_name)
    found = next((s for s in schedules if s.arn == arn or s.name.lower() == name.lower()), None)
    if found is None:
        raise ResourceNotFound(f"Monitoring schedule {arn} does not exist.")
    return found


def _wrap_tags(original: Callable[..., Any], operation: str) -> Callable[..., Any]:
    """AddTags / ListTags / DeleteTags on a monitoring schedule's ARN, which moto's tag store does not know (the API
    reference lists monitoring schedules among the taggable SageMaker resources, "AddTags")."""

    def tags(self: SageMakerModelBackend, arn: str, *args: Any, **kwargs: Any) -> Any:
        schedule = _schedule_by_arn(self, arn)
        if schedule is None:
            return original(self, arn, *args, **kwargs)
        if operation == "list":  # moto's list_tags is paginated: (page, next token)
            return list(schedule.tags), None
        if operation == "add":
            added = list(args[0] if args else kwargs.get("tags") or [])
            keys = {t["Key"] for t in added}
            schedule.tags = [t for t in schedule.tags if t["Key"] not in keys] + added
            return list(schedule.tags)
        removed = set(args[0] if args else kwargs.get("tag_keys") or [])
        schedule.tags = [t for t in schedule.tags if t["Key"] not in removed]
        return None

    return tags


def patches() -> list[tuple[Any, str, Any]]:
    return [
        (SageMakerModelBackend, "list_tags", _wrap_tags(SageMakerModelBackend.list_tags, "list")),
        (SageMakerModelBackend, "add_tags", _wrap_tags(SageMakerModelBackend.add_tags, "add")),
        (SageMakerModelBackend, "delete_tags", _wrap_tags(SageMakerModelBackend.delete_tags, "delete")),
        (SageMakerResponse, "create_monitoring_schedule", _response_create_monitoring_schedule),
        (SageMakerResponse, "describe_monitoring_schedule", _response_describe_monitoring_schedule),
        (SageMakerResponse, "update_monitoring_schedule", _response_update_monitoring_schedule),
        (SageMakerResponse, "delete_monitoring_schedule", _response_delete_monitoring_schedule),
        (SageMakerResponse, "list_monitoring_schedules", _response_list_monitoring_schedules),
        (SageMakerResponse, "list_monitoring_executions", _response_list_monitoring_executions),
        (SageMakerResponse, "start_monitoring_schedule", _response_start_monitoring_schedule),
        (SageMakerResponse, "stop_monitoring_schedule", _response_stop_monitoring_schedule),
        (
            SageMakerResponse,
            "create_data_quality_job_definition",
            _wrap_create_data_quality_job_definition(SageMakerResponse.create_data_quality_job_definition),
        ),
        (SageMakerResponse, "list_data_quality_job_definitions", _response_list_data_quality_job_definitions),
    ]


def compatibility_problems() -> list[str]:
    problems = [
        f"moto now implements SageMaker {name}: remove the emulator's version"
        for name in ADDED_ACTIONS
        if name in vars(SageMakerResponse)
    ]
    for name in ("create_data_quality_job_definition", "list_data_quality_job_definitions"):
        if name not in vars(SageMakerResponse):
            problems.append(f"SageMakerResponse.{name} is gone")
    init_names = FakeDataQualityJobDefinition.__init__.__code__.co_names
    for attribute in (
        "data_quality_baseline_config",
        "data_quality_app_specification",
        "data_quality_job_input",
        "data_quality_job_output_config",
        "environment",
        "creation_time",
    ):
        if attribute not in init_names:
            problems.append(f"FakeDataQualityJobDefinition no longer sets {attribute}")
    if "data_quality_job_definitions" not in SageMakerModelBackend.__init__.__code__.co_names:
        problems.append("SageMakerModelBackend no longer keeps data_quality_job_definitions")
    return problems
