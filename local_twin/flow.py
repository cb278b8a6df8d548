"""The stages of ``make local``: the whole train → approve → deploy flow on one machine, against the emulated account.

``emulator``   the emulated AWS account on a free loopback port (local_twin.emulator); every client talks to it
``provision``  the resources of template.yaml, the functions from the packages ``sam build`` made; the data uploaded
``upsert``     the upsert function (as CloudFormation's custom resource would invoke it) creates the pipeline
``train``      a training execution of the train state machine; the pipeline runs for real (local pipeline runner)
``approve``    the package is approved as a reviewer would (UpdateModelPackage); SageMaker's state-change event goes
               through the template's EventBridge rule to its function, which starts the deploy execution
``deploy``     the deploy execution (endpoint or batch transform)
``serve``      endpoint: the test split scored through the local endpoint
``monitor``    endpoint: the test records (``--drift``: shifted ones) sent through InvokeEndpoint, which captures them;
               the endpoint's data-quality schedule run now on the capture; the drift alarm evaluated on its metrics
``transform``  batch: the transform job's ``.out`` file read back from the emulated S3

``--accounts 3`` runs the same stages across a registry, a staging and a production account instead
(:mod:`local_twin.three_accounts`).

The emulator's runners plug the local work in: :class:`LocalPipelines` runs a pipeline execution when
StartPipelineExecution is called, :class:`LocalServing` starts a serving container when an endpoint is created or
updated and runs a transform job when one is created; each reports back to the emulator through its callbacks.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from local_twin.report import (
    LOG_NAME,
    ExecutionSummary,
    Reporter,
    StageError,
    StageRecord,
    Summary,
    record_failure,
)
from mlops_shared.pipeline_names import DATA_KEY, PREPROCESS_STEP

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT / "data" / "abalone.csv"
DEFAULT_OUTPUT_DIR = REPO_ROOT / "build" / "local-run"
Target = Literal["endpoint", "batch"]
TARGETS: tuple[Target, ...] = ("endpoint", "batch")
# Template parameters of the local stack. The polls are every second (the Wait states really sleep), for at most
# 30 minutes; everything else is the template's default, as `sam deploy` would use it.
# Data capture samples every request, so that the monitoring run judges the same records on every run.
LOCAL_TEMPLATE_PARAMETERS = {"PollIntervalSeconds": "1", "MaxPolls": "1800", "DataCaptureSamplingPercent": "100"}
# --drift: the numeric measurements of every record sent to the monitored endpoint are multiplied by this (the sex
# column is kept), a shift of every feature's distribution the baseline check must catch.
DRIFT_FACTOR = 1.6
MONITORED_ROWS_PER_REQUEST = 10
# where a deploy execution without BatchInputS3Uri reads (functions/deployments/settings.py)
BATCH_INPUT_PREFIX = "batch/input/"
EXECUTION_TIMEOUT_SECONDS = 1800
STATE_MACHINE_TAG = "sagemaker-secure-mlops:execution"  # what the deploy path tags its transform jobs with


@dataclass(frozen=True)
class Options:
    target: Target = "endpoint"
    approve: bool = True
    pipeline_parameters: Mapping[str, str] = field(default_factory=dict)
    data: Path = DEFAULT_DATA
    keep_running: bool = False
    output_dir: Path = DEFAULT_OUTPUT_DIR
    region: str = "us-east-1"
    port: int = 0
    drift: bool = False
    accounts: int = 1  # 3: registry, staging and production accounts (local_twin.three_accounts)


def run_flow(options: Options, reporter: Reporter, after: Callable[[LocalRun], None] | None = None) -> Summary:
    """Run every stage; the summary says how far it got and why it stopped.

    ``after``: called with the run while the emulated account is still up (``--keep-running`` waits there).
    """
    summary = Summary(
        target=options.target,
        approve=options.approve,
        data=str(options.data),
        pipeline_parameters=dict(options.pipeline_parameters),
    )
    started = time.perf_counter()
    options.output_dir.mkdir(parents=True, exist_ok=True)
    for stale in (
        "predictions.csv",
        "test.csv",
        "evaluation.json",
        "approval-event.json",
        "constraint_violations.json",
        "report.html",
        "transform",
        "logs",
    ):
        _remove(options.output_dir / stale)
    try:
        with _logs_to(options.output_dir / LOG_NAME):
            run_class = LocalRun
            if options.accounts == 3:
                from local_twin.three_accounts import ThreeAccountRun

                run_class = ThreeAccountRun
            run_class(options, reporter, summary).execute(after)
    except KeyboardInterrupt as exc:
        record_failure(summary, _failed_stage(reporter) or "run", exc)
    except Exception as exc:  # noqa: BLE001 - every failure ends in the summary, named by its stage
        record_failure(summary, _failed_stage(reporter) or "run", exc)
    summary.stages = list(reporter.stages)
    summary.total_seconds = round(time.perf_counter() - started, 3)
    return summary


def _failed_stage(reporter: Reporter) -> str | None:
    failed = [stage.name for stage in reporter.stages if stage.status == "failed"]
    return failed[-1] if failed else None


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


@contextmanager
def _logs_to(path: Path) -> Iterator[None]:
    """Library logs and warnings go to run.log, not the screen (the functions' own logs are in logs/)."""
    with path.open("w", encoding="utf-8") as log, redirect_stdout(log), redirect_stderr(log):
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        saved_level = root.level
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default")
                yield
        finally:
            root.removeHandler(handler)
            root.setLevel(saved_level)


class LocalRun:
    """One run of the flow; each method is a stage."""

    def __init__(self, options: Options, reporter: Reporter, summary: Summary) -> None:
        self.options = options
        self.reporter = reporter
        self.summary = summary
        self.run_id = time.strftime("%Y%m%d-%H%M%S")
        self.workdir = options.output_dir / "work"
        self.package: dict[str, Any] = {}
        self.test_split_uri: str | None = None
        self.deploy_executions: list[str] = []

    def execute(self, after: Callable[[LocalRun], None] | None = None) -> None:
        _remove(self.workdir)
        self.workdir.mkdir(parents=True)
        with ExitStack() as stack:
            with self.reporter.stage("emulator", "starting the emulated AWS account on a loopback port") as record:
                from local_twin.emulator import start  # moto's import is most of this stage's time

                self.aws = stack.enter_context(
                    start(self.options.region, log_dir=self.options.output_dir / "logs", port=self.options.port)
                )
                self.summary.emulator_url = self.aws.url
                record.detail = self.aws.url
            self.pipelines = LocalPipelines(self)
            self.aws.pipelines.runner = self.pipelines
            stack.callback(self.pipelines.join)
            self.serving = LocalServing(self)
            self.aws.deployments.endpoint_runner = self.serving.endpoint_changed
            self.aws.deployments.transform_runner = self.serving.transform_job_created
            stack.callback(self.serving.close)
            try:
                self._stages()
            finally:
                if after is not None:
                    after(self)

    def _stages(self) -> None:
        with self.reporter.stage("provision", "creating the resources of template.yaml") as record:
            self.provision(record)
        with self.reporter.stage("upsert", "the upsert function creates the SageMaker pipeline") as record:
            self.upsert(record)
        with self.reporter.stage("train", "training execution of the state machine; the pipeline runs") as record:
            self.train(record)
        if not self.options.approve:
            for name in ("approve", "deploy", self.score_stage):
                self.reporter.skip(name, "--no-approve: the model waits for a reviewer")
            return
        with self.reporter.stage("approve", "approving the model package as a reviewer would") as record:
            self.approve(record)
        with self.reporter.stage("deploy", f"deploy execution of the state machine ({self.options.target})") as record:
            self.deploy(record)
        if self.options.target == "endpoint":
            with self.reporter.stage("serve", "scoring the test split through the local endpoint") as record:
                self.serve(record)
            what = "shifted records (--drift)" if self.options.drift else "the test records"
            with self.reporter.stage("monitor", f"{what} captured, the data-quality monitor run, alarms") as record:
                self.monitor(record)
        else:
            with self.reporter.stage("transform", "reading the transform job's output") as record:
                self.transform(record)

    @property
    def score_stage(self) -> str:
        return "serve" if self.options.target == "endpoint" else "transform"

    # --- clients --------------------------------------------------------------------------------------------------
    @property
    def s3(self) -> Any:
        return self.aws.client("s3")

    @property
    def sagemaker(self) -> Any:
        return self.aws.client("sagemaker")

    @property
    def sfn(self) -> Any:
        return self.aws.client("stepfunctions")

    # --- provision ------------------------------------------------------------------------------------------------
    def provision(self, record: StageRecord) -> None:
        from local_twin.emulator import SECURITY_GROUPS, STACK_NAME, SUBNETS, provision

        parameters = {
            **LOCAL_TEMPLATE_PARAMETERS,
            "PrivateSubnetIds": ",".join(SUBNETS),
            "SecurityGroupIds": ",".join(SECURITY_GROUPS),
            "DefaultDeploymentTarget": self.options.target,
        }
        self.stack = provision(self.aws, parameters=parameters, stack_name=STACK_NAME)
        self.bucket = self.stack.ref(self.stack.only("AWS::S3::Bucket"))
        self.kms_key_arn = self.stack.attribute(self.stack.only("AWS::KMS::Key"), "Arn")
        self.train_machine_arn = self.stack.ref("TrainStateMachine")
        self.deploy_machine_arn = self.stack.ref("DeployStateMachine")
        self.summary.resources = dict(self.stack.created)
        self.summary.resources_not_created = dict(self.stack.not_created)
        self.summary.provision_adjustments = list(self.stack.adjustments)
        with self.options.data.open("rb") as data:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=DATA_KEY,
                Body=data,
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=self.kms_key_arn,
            )
        record.detail = f"{len(self.stack.created)} resources; data at s3://{self.bucket}/{DATA_KEY}"

    def invoke(self, logical_id: str, event: Mapping[str, Any]) -> dict[str, Any]:
        """Invoke a function of the template through the emulated Lambda API (its python3.13 worker runs it)."""
        response = self.aws.client("lambda").invoke(
            FunctionName=self.stack.function_names[logical_id], Payload=json.dumps(event).encode()
        )
        payload: dict[str, Any] = json.loads(response["Payload"].read() or b"{}")
        if response.get("FunctionError"):
            raise StageError(f"{logical_id} failed: {payload.get('errorType')}: {payload.get('errorMessage')}")
        return payload

    # --- upsert ---------------------------------------------------------------------------------------------------
    def upsert(self, record: StageRecord) -> None:
        # What CloudFormation does at deploy time through the Pipeline custom resource, as a direct invocation.
        service_token = self.stack.template["Resources"]["Pipeline"]["Properties"]["ServiceToken"]["Fn::GetAtt"]
        function = service_token[0] if isinstance(service_token, list) else str(service_token).split(".")[0]
        result = self.invoke(function, {"Operation": "upsert", "Reason": "make local: stack created"})
        self.pipeline_name = str(result["PipelineName"])
        record.detail = f"pipeline {self.pipeline_name}"
        if self.options.pipeline_parameters:
            definition = json.loads(
                self.sagemaker.describe_pipeline(PipelineName=self.pipeline_name)["PipelineDefinition"]
            )
            known = {parameter["Name"] for parameter in definition.get("Parameters", [])}
            unknown = sorted(set(self.options.pipeline_parameters) - known)
            if unknown:
                raise StageError(
                    f"--param {', '.join(unknown)}: the pipeline has no such parameter "
                    f"(it has: {', '.join(sorted(known))})"
                )

    # --- train ----------------------------------------------------------------------------------------------------
    def train(self, record: StageRecord) -> None:
        execution_input = {"PipelineParameters": dict(self.options.pipeline_parameters)}
        started = datetime.now(UTC)
        execution = self.run_execution(f"train-{self.run_id}", "train", execution_input)
        pipeline_arn = self.pipelines.last_arn
        if pipeline_arn:
            self.summary.pipeline_execution_arn = pipeline_arn
            described = self.sagemaker.describe_pipeline_execution(PipelineExecutionArn=pipeline_arn)
            self.summary.pipeline_status = described["PipelineExecutionStatus"]
            steps = self.sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=pipeline_arn)
            self.summary.pipeline_steps = [
                {
                    "name": step["StepName"],
                    "status": step["StepStatus"],
                    "seconds": _seconds(step.get("StartTime"), step.get("EndTime")),
                    **({"failure_reason": step["FailureReason"]} if step.get("FailureReason") else {}),
                }
                for step in steps["PipelineExecutionSteps"]
            ]
        failed_steps = [step for step in self.summary.pipeline_steps if step["status"] == "Failed"]
        if execution.status != "SUCCEEDED":
            cause = "; ".join(
                f"pipeline step {step['name']} failed: {_last_line(step.get('failure_reason', '?'))}"
                for step in failed_steps
            )
            if any(step["name"] == PREPROCESS_STEP for step in failed_steps):
                cause += f" (the data file given: {self.options.data})"
            raise StageError(cause or f"training execution {execution.status}: {execution.output}")
        result = self.pipelines.result(pipeline_arn) if pipeline_arn else None
        package_arn = result.model_package_arn if result else None
        if not package_arn:
            raise StageError(
                f"the training execution ended in {execution.states[-1]!r} without a registered model package"
            )
        self.describe_package(package_arn)
        self.test_split_uri = _test_split_uri(result)
        if self.summary.approval_status == "Approved":
            # Registered already Approved (--param ModelApprovalStatus=Approved): SageMaker's event for the new
            # package reaches the deployment function as any approval does.
            self.deploy_executions = self.executions_started_by_events(started)
        mse = "?" if self.summary.test_mse is None else f"{self.summary.test_mse:.4f}"
        record.detail = (
            f"test MSE {mse}; package version {self.summary.model_package_version}, {self.summary.approval_status}"
        )

    def describe_package(self, package_arn: str) -> None:
        package = self.sagemaker.describe_model_package(ModelPackageName=package_arn)
        self.package = package
        self.summary.model_package_arn = package_arn
        self.summary.model_package_version = int(package["ModelPackageVersion"])
        self.summary.approval_status = package["ModelApprovalStatus"]
        report_uri = package.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")
        if report_uri:
            report = json.loads(self.get(report_uri))
            (self.options.output_dir / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
            self.summary.evaluation_report = report_uri
            self.summary.test_mse = float(report["regression_metrics"]["mse"]["value"])

    def get(self, uri: str, account_id: str | None = None) -> bytes:
        """An object's bytes, read as ``account_id`` (default: the run's account) reads it."""
        from local_twin.storage import split_uri

        bucket, key = split_uri(uri)
        body: bytes = self.aws.client("s3", account_id).get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    # --- approve --------------------------------------------------------------------------------------------------
    def approve(self, record: StageRecord) -> None:
        if self.deploy_executions:
            self.summary.approval_event_matched_rule = True
            record.detail = "registered Approved: SageMaker's event started the deployment during training"
            return
        started = datetime.now(UTC)
        package_arn = str(self.summary.model_package_arn)
        self.sagemaker.update_model_package(
            ModelPackageArn=package_arn,
            ModelApprovalStatus="Approved",
            ApprovalDescription="approved by make local, as a reviewer would in SageMaker Studio",
        )
        self.describe_package(package_arn)
        self.deploy_executions = self.executions_started_by_events(started)
        sent = [
            event for event in self.aws.model_package_events.sent if event["detail"]["ModelPackageArn"] == package_arn
        ]
        if sent:
            (self.options.output_dir / "approval-event.json").write_text(json.dumps(sent[-1], indent=2) + "\n")
        self.summary.approval_event_matched_rule = bool(self.deploy_executions)
        if not self.deploy_executions:
            errors = [r for r in self.aws.lambdas.records if r.asynchronous and r.error_type]
            why = f"; the function failed: {errors[-1].error_type}: {errors[-1].error_message}" if errors else ""
            raise StageError(f"the approval started no deploy execution ({len(sent)} events sent){why}")
        record.detail = f"{self.summary.approval_status}; SageMaker's event reached the rule's function; deploy started"

    def executions_started_by_events(self, since: datetime) -> list[str]:
        """Deploy executions started since ``since``, once the functions the events reached have finished."""
        self.aws.lambdas.wait_for_async()
        listed = self.sfn.list_executions(stateMachineArn=self.deploy_machine_arn)["executions"]
        return [
            execution["executionArn"]
            for execution in sorted(listed, key=lambda e: e["startDate"])
            if execution["startDate"] >= since
        ]

    # --- deploy ---------------------------------------------------------------------------------------------------
    def deploy(self, record: StageRecord) -> None:
        for arn in self.deploy_executions:
            execution = self.wait_for(arn, "deploy")
            if execution.status != "SUCCEEDED":
                last = execution.states[-1] if execution.states else "?"
                raise StageError(f"deploy execution {execution.status} in state {last}: {execution.output}")
            record.detail = f"{execution.name}: {' → '.join(execution.states[-3:])}"

    # --- serve ----------------------------------------------------------------------------------------------------
    def serve(self, record: StageRecord) -> None:
        """Score the test split through the endpoint the deploy execution brought InService."""
        self.serve_endpoint(record, self.output("EndpointName", "abalone-mlops-endpoint"), None)

    def serve_endpoint(self, record: StageRecord, endpoint_name: str, account_id: str | None) -> None:
        """Score the test split through an endpoint (of ``account_id``, default: the run's account)."""
        from local_twin.serving import score_rows

        endpoint = self.aws.client("sagemaker", account_id).describe_endpoint(EndpointName=endpoint_name)
        if endpoint["EndpointStatus"] != "InService":
            raise StageError(
                f"endpoint {endpoint_name} is {endpoint['EndpointStatus']}: {endpoint.get('FailureReason')}"
            )
        container = self.serving.endpoints.get((account_id or self.aws.account_id, endpoint_name))
        if container is None:
            raise StageError(f"endpoint {endpoint_name} is InService but no local container serves it")
        self.summary.endpoint_name = endpoint_name
        self.summary.endpoint_url = container.url
        rows = self.test_rows()
        # Every raw test record in one request, as a client holding them would send it.
        predictions = score_rows(container.url, [record for _, record in rows], per_request=len(rows))
        self.record_predictions([label for label, _ in rows], predictions)
        (self.options.output_dir / "predictions.csv").write_text("".join(f"{value}\n" for value in predictions))
        self.summary.predictions_file = str(self.options.output_dir / "predictions.csv")
        self.check_served_as_evaluated()
        self.sample(container.url, rows[0][1])
        record.detail = f"{container.url}: {len(predictions)} predictions, MSE {self.summary.predictions_mse:.4f}"

    def check_served_as_evaluated(self) -> None:
        """The endpoint's MSE on the raw test records is the evaluation's (which the pipeline's Transform step
        computed in the serving container): any difference is a train/serve skew, not noise."""
        served, evaluated = self.summary.predictions_mse, self.summary.test_mse
        if served is None or evaluated is None:
            return
        if abs(served - evaluated) > 1e-9 * max(1.0, abs(evaluated)):
            raise StageError(
                f"the endpoint's MSE on the test split ({served!r}) differs from the evaluation report's "
                f"({evaluated!r}): the deployed model does not serve as the pipeline evaluated it"
            )

    def sample(self, url: str, record: str) -> None:
        """One raw record and the endpoint's answer, for the summary (the README's curl sends the same)."""
        from local_twin.serving.client import invoke

        answer = invoke(url, record.encode(), "text/csv", "application/json")
        if answer.status != 200:
            raise StageError(f"the endpoint answered {answer.status} to the sample record {record!r}: {answer.body}")
        self.summary.sample_record = record
        self.summary.sample_prediction = answer.body.strip()

    def output(self, name: str, default: str) -> str:
        from cfn import Resolver

        output = self.stack.template.get("Outputs", {}).get(name)
        if output is None:
            return default
        return str(Resolver(self.stack.template, self.stack.values).resolve(output["Value"]))

    def model_container(
        self, model_name: str, model_dir: Path, account_id: str | None = None
    ) -> tuple[str, Path, dict[str, str]]:
        """What a SageMaker Model (of ``account_id``, default: the run's account) runs: its image, its unpacked model
        archive and its container environment. A model made from another account's package reads that package and
        its archive across accounts, as SageMaker does with the model's account's access."""
        from local_twin.serving import extract_model_archive

        sagemaker = self.aws.client("sagemaker", account_id)
        described = sagemaker.describe_model(ModelName=model_name)
        container = described.get("PrimaryContainer") or described["Containers"][0]
        if container.get("ModelPackageName"):
            package = sagemaker.describe_model_package(ModelPackageName=container["ModelPackageName"])
            container = {**package["InferenceSpecification"]["Containers"][0], **container}
        archive = self.get(container["ModelDataUrl"], account_id)
        environment = {str(k): str(v) for k, v in (container.get("Environment") or {}).items()}
        return str(container["Image"]), extract_model_archive(archive, model_dir), environment

    def record_predictions(self, labels: Sequence[float], predictions: Sequence[float]) -> None:
        if len(labels) != len(predictions):
            raise StageError(f"{len(predictions)} predictions for {len(labels)} test rows")
        self.summary.predictions_count = len(predictions)
        squared = [(prediction - label) ** 2 for prediction, label in zip(predictions, labels, strict=True)]
        self.summary.predictions_mse = sum(squared) / max(len(squared), 1)

    def stage_batch_input(self) -> None:
        """The test split's raw records (label column dropped) where a deploy execution reads its batch input."""
        rows = self.test_rows()
        key = f"{BATCH_INPUT_PREFIX}test.csv"
        body = ("\n".join(features for _, features in rows) + "\n").encode()
        self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=self.kms_key_arn
        )
        self.reporter.note(f"batch input: {len(rows)} test rows at s3://{self.bucket}/{key}")

    def test_rows(self) -> list[tuple[float, str]]:
        """(label, raw record CSV) for every row of the test split the pipeline wrote (label-first, no header)."""
        if not self.test_split_uri:
            raise StageError("the pipeline result names no test split (preprocess output 'test')")
        from local_twin.storage import split_uri

        bucket, prefix = split_uri(self.test_split_uri)
        keys = [
            item["Key"]
            for item in self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix.rstrip("/") + "/").get("Contents", [])
        ]
        if len(keys) != 1:
            raise StageError(f"expected one file in the test split {self.test_split_uri}, found {keys}")
        text = self.get(f"s3://{bucket}/{keys[0]}").decode()
        (self.options.output_dir / "test.csv").write_text(text)
        self.summary.test_split = f"s3://{bucket}/{keys[0]}"
        rows = []
        for line in text.splitlines():
            if line.strip():
                label, _, record = line.partition(",")
                rows.append((float(label), record))
        return rows

    # --- monitor --------------------------------------------------------------------------------------------------
    def monitor(self, record: StageRecord) -> None:
        """Traffic through SageMaker Runtime (captured by the endpoint), the schedule's execution run now, and what
        CloudWatch made of its metrics: the drift alarm's state and the notification it sent."""
        endpoint_name = self.summary.endpoint_name or self.output("EndpointName", "abalone-mlops-endpoint")
        schedule = self.template_value("DeployStepsFunction", "Environment", "Variables", "MONITORING_SCHEDULE_NAME")
        try:
            self.sagemaker.describe_monitoring_schedule(MonitoringScheduleName=schedule)
        except self.sagemaker.exceptions.ResourceNotFound as error:
            raise StageError(f"the deployment created no monitoring schedule {schedule}: {error}") from error
        records = [features for _, features in self.test_rows()]
        if self.options.drift:
            records = [shift_record(features, DRIFT_FACTOR) for features in records]
        runtime = self.aws.client("sagemaker-runtime")
        for start in range(0, len(records), MONITORED_ROWS_PER_REQUEST):
            body = "\n".join(records[start : start + MONITORED_ROWS_PER_REQUEST]) + "\n"
            runtime.invoke_endpoint(EndpointName=endpoint_name, Body=body.encode(), ContentType="text/csv")
        changes_before = len(self.aws.alarms.changes)
        run = self.aws.monitoring.run_now(schedule)
        if run.status not in ("Completed", "CompletedWithViolations"):
            raise StageError(
                f"the monitoring execution of {schedule} is {run.status}: {run.summary.get('FailureReason')}"
            )
        alarm_name = self.template_value("DataDriftAlarm", "AlarmName")
        [alarm] = self.aws.client("cloudwatch").describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"] or [{}]
        notifications = [
            message
            for change in self.aws.alarms.changes[changes_before:]
            if change.get("AlarmName") == alarm_name
            for message in change.get("Notifications", [])
        ]
        self.summary.violations = sorted({str(v["feature_name"]) for v in run.violations})
        self.summary.drift = {
            "records_sent": len(records),
            "shifted": self.options.drift,
            "schedule": schedule,
            "execution_status": run.status,
            "rows_analyzed": run.rows,
            "report": run.report_uri,
            "largest_distance": max(run.distances.values(), default=None),
            "distances": {name: round(value, 4) for name, value in sorted(run.distances.items())},
            "constraint_violations": run.violations,
            "alarm": alarm_name,
            "alarm_state": alarm.get("StateValue"),
            "alarm_reason": alarm.get("StateReason"),
            "notification": notifications[-1]["Subject"] if notifications else None,
        }
        (self.options.output_dir / "constraint_violations.json").write_text(
            json.dumps({"violations": run.violations}, indent=2) + "\n"
        )
        violated = ", ".join(self.summary.violations) or "none"
        record.detail = f"{run.rows} rows, {run.status}; violated: {violated}; {alarm_name} {alarm.get('StateValue')}"

    def template_value(self, logical_id: str, *path: str) -> str:
        """A property of a template resource, as the local stack resolved it (e.g. a function's environment)."""
        from cfn import Resolver

        value: Any = self.stack.template.get("Resources", {}).get(logical_id, {}).get("Properties", {})
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            raise StageError(f"template.yaml has no {'.'.join((logical_id, *path))}")
        return str(Resolver(self.stack.template, self.stack.values).resolve(value))

    # --- transform ------------------------------------------------------------------------------------------------
    def transform(self, record: StageRecord) -> None:
        """Read the output of the transform job the deploy execution ran, and check it row by row."""
        listed = self.sagemaker.list_transform_jobs(SortBy="CreationTime", SortOrder="Descending")
        jobs = [job for job in listed["TransformJobSummaries"] if job["TransformJobName"] in self.serving.transforms]
        if not jobs:
            raise StageError("the deploy execution created no transform job")
        name = jobs[0]["TransformJobName"]
        job = self.sagemaker.describe_transform_job(TransformJobName=name)
        if job["TransformJobStatus"] != "Completed":
            raise StageError(f"transform job {name} is {job['TransformJobStatus']}: {job.get('FailureReason')}")
        result = self.serving.transforms[name]
        self.summary.transform_job_name = name
        self.summary.transform_output = list(result.outputs)
        local_dir = self.options.output_dir / "transform"
        local_dir.mkdir(parents=True, exist_ok=True)
        rows = self.test_rows()
        predictions: list[float] = []
        for uri in result.outputs:
            body = self.get(uri).decode()
            (local_dir / uri.rsplit("/", 1)[-1]).write_text(body)
            predictions.extend(float(line.rsplit(",", 1)[1]) for line in body.splitlines() if line.strip())
        self.record_predictions([label for label, _ in rows], predictions)
        self.check_served_as_evaluated()
        self.summary.predictions_file = str(local_dir)
        record.detail = f"{name}: {result.records} records → {', '.join(result.outputs)}"

    # --- executions -----------------------------------------------------------------------------------------------
    def run_execution(self, name: str, mode: str, execution_input: Mapping[str, Any]) -> ExecutionSummary:
        started = self.sfn.start_execution(
            stateMachineArn=self.train_machine_arn, name=name, input=json.dumps(execution_input)
        )
        return self.wait_for(started["executionArn"], mode)

    def wait_for(self, execution_arn: str, mode: str, account_id: str | None = None) -> ExecutionSummary:
        """Poll an execution (of ``account_id``, default: the run's account) to its end, showing each state as it is
        entered; its summary is kept in the run's."""
        sfn = self.aws.client("stepfunctions", account_id)
        deadline = time.monotonic() + EXECUTION_TIMEOUT_SECONDS
        seen = 0
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            states = self.states_entered(execution_arn, account_id)
            for state in states[seen:]:
                if state not in states[:seen]:  # a poll loop re-enters its states every second: show them once
                    self.reporter.note(f"{mode} execution: {state}")
                seen += 1
            if described["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise StageError(f"{mode} execution still running after {EXECUTION_TIMEOUT_SECONDS} s")
            time.sleep(0.25)
        output = json.loads(described["output"]) if described.get("output") else None
        if described["status"] != "SUCCEEDED":
            output = {"error": described.get("error"), "cause": described.get("cause")}
        summary = ExecutionSummary(
            name=described["name"],
            arn=execution_arn,
            mode=mode,
            status=described["status"],
            states=states,
            output=output,
        )
        self.summary.executions.append(summary)
        return summary

    def states_entered(self, execution_arn: str, account_id: str | None = None) -> list[str]:
        events: list[dict[str, Any]] = []
        sfn = self.aws.client("stepfunctions", account_id)
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(page["events"])
        return [event["stateEnteredEventDetails"]["name"] for event in events if "stateEnteredEventDetails" in event]


def shift_record(features: str, factor: float) -> str:
    """A raw record (``sex,length,...``) with every numeric measurement multiplied by ``factor``."""
    sex, *measurements = features.split(",")
    return ",".join([sex, *(f"{float(value) * factor:.4f}" for value in measurements)])


def _last_line(text: str) -> str:
    """The last non-empty line: for a job's traceback, the exception and its message."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[-1] if lines else str(text)


def _seconds(start: Any, end: Any) -> float | None:
    if start is None or end is None:
        return None
    return round(float((end - start).total_seconds()), 3)


def _test_split_uri(result: Any) -> str | None:
    for step in result.steps:
        if step.step_name == PREPROCESS_STEP and "test" in step.outputs:
            return str(step.outputs["test"])
    return None


class LocalPipelines:
    """Plugged into the emulator's StartPipelineExecution: runs the local pipeline runner in a thread per execution
    and reports each step as it starts and ends, so DescribePipelineExecution follows the real progress."""

    def __init__(self, run: LocalRun) -> None:
        self.run = run
        self.threads: list[threading.Thread] = []
        self.results: dict[str, Any] = {}
        self.last_arn: str | None = None
        self._lock = threading.Lock()

    def __call__(self, start: Any) -> None:
        self.last_arn = start.execution_arn
        thread = threading.Thread(target=self._execute, args=(start,), name="pipeline-execution", daemon=True)
        self.threads.append(thread)
        thread.start()

    def result(self, execution_arn: str) -> Any:
        return self.results.get(execution_arn)

    def join(self) -> None:
        for thread in self.threads:
            thread.join()

    def _execute(self, start: Any) -> None:
        from local_twin.pipeline_runner import PipelineRunner, S3Store

        records: dict[str, Any] = {}
        report = self.run.aws.pipelines.report

        def on_step(step: Any) -> None:
            with self._lock:
                records[step.step_name] = step
                report(start.execution_arn, "Executing", steps=[r.to_api() for r in records.values()])
            self.run.reporter.note(f"pipeline step {step.step_name}: {step.step_status}")
            if step.step_name == PREPROCESS_STEP and step.step_status == "Succeeded" and "test" in step.outputs:
                self.run.test_split_uri = str(step.outputs["test"])
                if self.run.options.target == "batch":
                    # What a user does before a batch deployment: put the rows to score where it reads them. Done
                    # as soon as the split exists, because a package registered Approved deploys during training.
                    self.run.stage_batch_input()

        try:
            runner = PipelineRunner(
                start.definition,
                store=S3Store(self.run.s3, kms_key_id=self.run.kms_key_arn),
                sagemaker_client=self.run.sagemaker,
                workdir=self.run.workdir / "pipeline",
                pipeline_name=start.pipeline_name,
            )
            result = runner.run(start.parameters, on_step=on_step, execution_arn=start.execution_arn)
        except Exception as exc:  # noqa: BLE001 - a runner error must fail the execution, never leave it Executing
            with self._lock:
                report(
                    start.execution_arn,
                    "Failed",
                    f"local pipeline runner: {exc}",
                    [r.to_api() for r in records.values()],
                )
            return
        self.results[start.execution_arn] = result
        with self._lock:
            report(start.execution_arn, result.status, result.failure_reason or "", [r.to_api() for r in result.steps])


class LocalServing:
    """Plugged into the emulator's CreateEndpoint / UpdateEndpoint / CreateTransformJob: starts the model's serving
    container (a process, local_twin.serving) or runs the transform job in a thread, and reports the outcome, so the
    deploy execution's poll loops see Creating → InService (or Failed) and InProgress → Completed (or Failed)."""

    def __init__(self, run: LocalRun) -> None:
        self.run = run
        self.endpoints: dict[tuple[str, str], Any] = {}  # (account, endpoint name) → its ServingContainer
        self.transforms: dict[str, Any] = {}  # job name → TransformResult
        self.threads: list[threading.Thread] = []
        self._count = 0
        self._lock = threading.Lock()

    def _start(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _work_dir(self, kind: str) -> Path:
        with self._lock:
            self._count += 1
            return self.run.workdir / f"{kind}-{self._count}"

    def endpoint_changed(self, endpoint_name: str, config_name: str, account_id: str) -> None:
        self._start(lambda: self._serve(endpoint_name, config_name, account_id), f"endpoint-{endpoint_name}")

    def _serve(self, endpoint_name: str, config_name: str, account_id: str) -> None:
        from local_twin.serving import ServingContainer

        report = self.run.aws.deployments.report_endpoint
        work = self._work_dir("endpoint")
        try:
            sagemaker = self.run.aws.client("sagemaker", account_id)
            config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
            image, model_dir, environment = self.run.model_container(
                config["ProductionVariants"][0]["ModelName"], work / "model", account_id
            )
            container = ServingContainer(image, model_dir, environment, work_dir=work).start()
        except Exception as exc:  # noqa: BLE001 - any failure is the endpoint's FailureReason, as in SageMaker
            report(endpoint_name, f"{type(exc).__name__}: {exc}", account_id=account_id)
            return
        with self._lock:
            previous = self.endpoints.get((account_id, endpoint_name))
            self.endpoints[(account_id, endpoint_name)] = container
        # InvokeEndpoint (in the endpoint's account) now reaches it, and captures
        self.run.aws.runtime.serve(endpoint_name, container.url, account_id)
        if previous is not None:
            previous.stop()
        where = "" if account_id == self.run.aws.account_id else f" (account {account_id})"
        self.run.reporter.note(f"endpoint {endpoint_name}{where}: serving on {container.url}")
        report(endpoint_name, account_id=account_id)

    def transform_job_created(self, job: dict[str, Any], account_id: str) -> None:
        name = str(job["TransformJobName"])
        tags = {tag.get("Key") for tag in job.get("Tags") or [] if isinstance(tag, dict)}
        if STATE_MACHINE_TAG not in tags:
            self.run.aws.deployments.report_transform_job(name)  # a pipeline's own job: its runner does the work
            return
        self._start(lambda: self._transform(job, account_id), f"transform-{name}")

    def _transform(self, job: dict[str, Any], account_id: str) -> None:
        from local_twin.serving import ServingContainer
        from local_twin.serving.batch_transform import TransformSpec, run_transform

        name = str(job["TransformJobName"])
        report = self.run.aws.deployments.report_transform_job
        work = self._work_dir("transform")
        try:
            spec = TransformSpec.from_description(job)
            image, model_dir, environment = self.run.model_container(spec.model_name, work / "model", account_id)
            with ServingContainer(image, model_dir, environment, work_dir=work, batch=True) as container:
                result = run_transform(spec, container.url, self.run.aws.client("s3", account_id))
        except Exception as exc:  # noqa: BLE001 - any failure is the job's FailureReason, as in SageMaker
            report(name, f"{type(exc).__name__}: {exc}")
            return
        self.transforms[name] = result
        self.run.reporter.note(f"transform job {name}: {result.records} records")
        report(name)

    def close(self) -> None:
        for thread in self.threads:
            thread.join()
        with self._lock:
            containers = list(self.endpoints.values())
            self.endpoints.clear()
        for container in containers:
            container.stop()
