"""training: the train state machine's steps -- start (the input checked, defaults from the template), check (one
poll of the pipeline execution; the last one stops it), finish (what the run registered, told to the team).

S3, SNS and SQS are moto's. SageMaker's pipeline-execution calls are answered by botocore's Stubber, which checks
each request and answer against SageMaker's API model: moto has neither ListPipelineExecutionSteps nor
StopPipelineExecution, and its executions are always Succeeded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber
from pydantic import ValidationError

from mlops_shared.pipeline_names import (
    EVALUATE_STEP,
    PARAMETER_DEFAULTS,
    REGISTER_STEP,
    SERVING_MODEL_STEP,
    TRAIN_STEP,
)
from mlops_shared.settings import ConfigurationError
from tests.unit.functions.conftest import REGION
from training import app, steps

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

LoadEvent = Callable[[str], dict[str, Any]]

ACCOUNT = "123456789012"
PREFIX = "abalone-mlops"
BUCKET = f"{PREFIX}-artifacts"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:{PREFIX}-notifications"
EXECUTION_ID = "x7k2m9q4r1t8"
PIPELINE_EXECUTION = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{PREFIX}-pipeline/execution/{EXECUTION_ID}"
RUN_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{PREFIX}-train:nightly-2026-11-26"
PACKAGE = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/abalone/3"
REPORT_KEY = f"pipeline-runs/{EXECUTION_ID}/{EVALUATE_STEP}/evaluation/evaluation.json"
CONSOLE_LINK = (
    f"\n\nExecution: https://{REGION}.console.aws.amazon.com/states/home?region={REGION}#/v2/executions/details/"
    f"{RUN_ARN}"
)

# The environment as template.yaml sets it for TrainStepsFunction: Globals.Function.Environment and its own.
TEMPLATE_ENV = {
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "MODEL_PACKAGE_GROUP_NAME": "abalone",
    "RESOURCE_PREFIX": PREFIX,
    "ENDPOINT_NAME": f"{PREFIX}-endpoint",
    "ARTIFACTS_BUCKET": BUCKET,
    "NOTIFICATION_TOPIC_ARN": TOPIC,
    "DEFAULT_DEPLOYMENT_TARGET": "endpoint",
    "WHEN_NO_APPROVED_MODEL": "KeepLastModel",
    "POLL_SECONDS": "60",
    "MAX_POLLS": "240",
    "POWERTOOLS_SERVICE_NAME": "train-steps",
    "AWS_REGION": REGION,
}


@pytest.fixture
def template_env(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in TEMPLATE_ENV.items():
        monkeypatch.setenv(name, value)


@dataclass(frozen=True)
class AwsClients:
    sagemaker: SageMakerClient
    s3: S3Client
    sns: SNSClient
    sqs: SQSClient


@pytest.fixture(scope="module")
def aws_clients() -> AwsClients:
    """Made once: moto intercepts them while each test's mock_aws is active (its services start empty)."""
    fake = {"region_name": REGION, "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return AwsClients(
        sagemaker=boto3.client("sagemaker", **fake),  # type: ignore[call-overload]
        s3=boto3.client("s3", **fake),  # type: ignore[call-overload]
        sns=boto3.client("sns", **fake),  # type: ignore[call-overload]
        sqs=boto3.client("sqs", **fake),  # type: ignore[call-overload]
    )


@dataclass
class Team:
    """The artifacts bucket, and the team's topic with a queue subscribed to read what it was told."""

    clients: AwsClients
    queue_url: str

    def report(self, body: bytes | dict[str, Any]) -> None:
        """The evaluation step's report, where the pipeline writes it."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.clients.s3.put_object(Bucket=BUCKET, Key=REPORT_KEY, Body=data)

    def notifications(self) -> list[dict[str, Any]]:
        received = self.clients.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return [json.loads(message["Body"]) for message in received.get("Messages", [])]


@pytest.fixture
def team(template_env: None, aws_clients: AwsClients) -> Team:
    aws_clients.s3.create_bucket(Bucket=BUCKET)
    topic = aws_clients.sns.create_topic(Name=f"{PREFIX}-notifications")["TopicArn"]
    queue = aws_clients.sqs.create_queue(QueueName="team-inbox")["QueueUrl"]
    queue_arn = aws_clients.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    aws_clients.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["QueueArn"])
    return Team(aws_clients, queue)


@pytest.fixture
def sagemaker(aws_clients: AwsClients) -> Iterator[Stubber]:
    """SageMaker's answers, given by each test in the order the code asks; every one must have been asked for."""
    with Stubber(aws_clients.sagemaker) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def clients(aws_clients: AwsClients) -> steps.Clients:
    return steps.Clients(aws_clients.sagemaker, aws_clients.s3, aws_clients.sns)


# ======================================================================================================================
# start
# ======================================================================================================================
@pytest.mark.usefixtures("template_env")
class TestStart:
    def test_an_empty_input_takes_the_templates_defaults(self) -> None:
        assert steps.start({}) == {
            "Run": {"PipelineParameters": [], "PollSeconds": 60, "MaxPolls": 240},
            "Check": {"Polls": 0},
        }

    def test_the_input_is_shaped_for_start_pipeline_execution(self) -> None:
        run = steps.start(
            {
                "PipelineParameters": {
                    "TrainingInstanceType": "ml.m5.xlarge",
                    "MseThreshold": 5.5,
                    "ProcessingInstanceCount": 2,
                },
                "PollSeconds": 0,
                "MaxPolls": 3,
            }
        )["Run"]
        # Sorted by name, every value as text (StartPipelineExecution takes strings)
        assert run == {
            "PipelineParameters": [
                {"Name": "MseThreshold", "Value": "5.5"},
                {"Name": "ProcessingInstanceCount", "Value": "2"},
                {"Name": "TrainingInstanceType", "Value": "ml.m5.xlarge"},
            ],
            "PollSeconds": 0,
            "MaxPolls": 3,
        }

    def test_unknown_pipeline_parameters_are_named_with_the_valid_ones(self) -> None:
        with pytest.raises(steps.InvalidInput) as refused:
            steps.start({"PipelineParameters": {"MseTreshold": 5.5, "TrainingInstanceType": "ml.m5.xlarge", "X": 1}})
        assert str(refused.value) == (
            "invalid input: PipelineParameters: Value error, unknown pipeline parameter(s): MseTreshold, X; the "
            f"pipeline's parameters are: {', '.join(PARAMETER_DEFAULTS)}"
        )

    def test_every_bad_field_is_named(self) -> None:
        with pytest.raises(steps.InvalidInput) as refused:
            steps.start({"PollSeconds": -1, "MaxPolls": 0, "Mode": "train"})
        assert str(refused.value) == (
            "invalid input: PollSeconds: Input should be greater than or equal to 0 (got -1); "
            "MaxPolls: Input should be greater than or equal to 1 (got 0); "
            "Mode: Extra inputs are not permitted (got 'train')"
        )

    @pytest.mark.parametrize(
        ("parameters", "problem"),
        [
            ({"bad name": "x"}, "PipelineParameters.bad name.[key]: String should match pattern"),
            ({"MseThreshold": [5]}, "PipelineParameters.MseThreshold"),
            ("MseThreshold=5", "PipelineParameters: Input should be a valid dictionary"),
        ],
    )
    def test_a_malformed_parameter_is_named(self, parameters: Any, problem: str) -> None:
        with pytest.raises(steps.InvalidInput, match=re.escape(problem)):
            steps.start({"PipelineParameters": parameters})

    def test_the_defaults_environment_is_checked(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("MAX_POLLS", "0")
        with pytest.raises(ConfigurationError, match="MAX_POLLS must be between 1 and 10000, got 0"):
            steps.start({})
        # a run that gives its own limit does not need the default
        assert steps.start({"MaxPolls": 7})["Run"]["MaxPolls"] == 7


# ======================================================================================================================
# check
# ======================================================================================================================
RUN = {"PipelineParameters": [], "PollSeconds": 60, "MaxPolls": 3}


def execution_status(sagemaker: Stubber, status: str, failure_reason: str = "") -> None:
    sagemaker.add_response(
        "describe_pipeline_execution",
        {
            "PipelineExecutionArn": PIPELINE_EXECUTION,
            "PipelineExecutionStatus": status,
            "FailureReason": failure_reason,
        },
        {"PipelineExecutionArn": PIPELINE_EXECUTION},
    )


@pytest.mark.usefixtures("template_env")
class TestCheck:
    @pytest.mark.parametrize("status", ["Succeeded", "Failed", "Stopped"])
    def test_an_ended_execution_is_done_even_at_the_last_poll(
        self, aws_clients: AwsClients, sagemaker: Stubber, status: str
    ) -> None:
        execution_status(sagemaker, status)
        answer = steps.check(RUN, PIPELINE_EXECUTION, {"Polls": 2}, clients(aws_clients))
        assert answer == {"Done": True, "Polls": 3, "Status": status}  # and not stopped: no StopPipelineExecution

    @pytest.mark.parametrize("status", ["Executing", "Stopping"])
    def test_a_running_execution_is_polled_again(
        self, aws_clients: AwsClients, sagemaker: Stubber, status: str
    ) -> None:
        execution_status(sagemaker, status)
        answer = steps.check(RUN, PIPELINE_EXECUTION, {"Polls": 1, "Done": False}, clients(aws_clients))
        assert answer == {"Done": False, "Polls": 2, "Status": status}

    def test_the_last_poll_stops_the_execution_and_raises(self, aws_clients: AwsClients, sagemaker: Stubber) -> None:
        # GIVEN the execution still runs at the last poll allowed
        execution_status(sagemaker, "Executing")
        # THEN it is stopped, with a token that makes a retried step's stop the same request
        token = hashlib.sha256(f"stop|{PIPELINE_EXECUTION}".encode()).hexdigest()
        sagemaker.add_response(
            "stop_pipeline_execution",
            {"PipelineExecutionArn": PIPELINE_EXECUTION},
            {"PipelineExecutionArn": PIPELINE_EXECUTION, "ClientRequestToken": token},
        )
        with pytest.raises(steps.PipelineTimedOut) as timed_out:
            steps.check(RUN, PIPELINE_EXECUTION, {"Polls": 2}, clients(aws_clients))
        assert str(timed_out.value) == f"pipeline execution {PIPELINE_EXECUTION} still Executing after 3 polls: stopped"


# ======================================================================================================================
# outcome, finish, describe_outcome
# ======================================================================================================================
NOW = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)


def a_step(name: str, status: str, **extra: Any) -> dict[str, Any]:
    return {"StepName": name, "StepStatus": status, "StartTime": NOW, **extra}


def pipeline_ended(
    sagemaker: Stubber,
    status: str,
    pipeline_steps: list[dict[str, Any]],
    package_status: str | None = None,
    failure_reason: str = "",
) -> None:
    """SageMaker's answers about an ended execution: its status, its steps, and the package it registered."""
    execution_status(sagemaker, status, failure_reason)
    sagemaker.add_response(
        "list_pipeline_execution_steps",
        {"PipelineExecutionSteps": pipeline_steps},
        {"PipelineExecutionArn": PIPELINE_EXECUTION},
    )
    if package_status is not None:
        sagemaker.add_response(
            "describe_model_package",
            {
                "ModelPackageName": "abalone",
                "ModelPackageGroupName": "abalone",
                "ModelPackageVersion": 3,
                "ModelPackageArn": PACKAGE,
                "CreationTime": NOW,
                "ModelPackageStatus": "Completed",
                "ModelPackageStatusDetails": {"ValidationStatuses": []},
                "ModelApprovalStatus": package_status,
            },
            {"ModelPackageName": PACKAGE},
        )


REGISTERED = [
    a_step(REGISTER_STEP, "Succeeded", Metadata={"RegisterModel": {"Arn": PACKAGE}}),
    a_step("CheckMseThreshold", "Succeeded", Metadata={"Condition": {"Outcome": "True"}}),
    a_step(EVALUATE_STEP, "Succeeded"),
]
MODEL_ARN_PREFIX = f"arn:aws:sagemaker:{REGION}:123456789012:model/"
REPORT = {"regression_metrics": {"mse": {"value": 4.567891, "standard_deviation": 2.1}}}
STATE = {
    "Run": RUN,
    "Pipeline": {"PipelineName": f"{PREFIX}-pipeline"},
    "Execution": {"PipelineExecutionArn": PIPELINE_EXECUTION},
    "Check": {"Done": True, "Polls": 17, "Status": "Succeeded"},
}


def finish(aws_clients: AwsClients, state: dict[str, Any]) -> dict[str, Any]:
    return steps.finish(RUN_ARN, state, TOPIC, REGION, clients(aws_clients))


class TestFinish:
    def test_a_package_registered_approved_is_told_with_its_test_mse(
        self, team: Team, sagemaker: Stubber, aws_clients: AwsClients
    ) -> None:
        # GIVEN the run registered version 3 Approved, and the evaluation step wrote its report
        pipeline_ended(sagemaker, "Succeeded", REGISTERED, package_status="Approved")
        team.report(REPORT)
        # WHEN the run finishes
        result = finish(aws_clients, STATE)
        # THEN the team is told, with the MSE read from the report
        message = (
            f"Outcome: registered Approved. Model package {PACKAGE} (version 3, test MSE 4.5679) was registered "
            "Approved: SageMaker's registry event deploys it if it is the highest Approved version."
        )
        assert result == {
            "Outcome": "RegisteredApproved",
            "Failed": False,
            "Subject": "Model version 3 registered Approved",
            "Message": message + CONSOLE_LINK,
            "Error": "",
            "Cause": "",
            "Mse": 4.567891,  # the dashboard's training-run MSE metric
        }
        (notification,) = team.notifications()
        assert (notification["Subject"], notification["Message"]) == (result["Subject"], result["Message"])

    def test_a_package_awaiting_approval_says_so(self, team: Team, sagemaker: Stubber, aws_clients: AwsClients) -> None:
        pipeline_ended(sagemaker, "Succeeded", REGISTERED, package_status="PendingManualApproval")
        team.report(REPORT)
        result = finish(aws_clients, STATE)
        assert (result["Outcome"], result["Failed"]) == ("AwaitingApproval", False)
        assert result["Subject"] == "Model version 3 awaits approval"
        assert result["Message"] == (
            f"Outcome: awaiting approval. Model package {PACKAGE} (version 3, test MSE 4.5679) is "
            "PendingManualApproval: approve it in the Model Registry to deploy it." + CONSOLE_LINK
        )

    @pytest.mark.parametrize(
        "report",
        [
            pytest.param(None, id="no report"),
            pytest.param(b"MSE: 4.5", id="not JSON"),
            pytest.param({"regression_metrics": {"mse": {"value": "4.5"}}}, id="not a number"),
            pytest.param({"regression_metrics": {"rmse": {"value": 2.1}}}, id="no mse"),
            pytest.param({"regression_metrics": [4.5]}, id="another shape"),
        ],
    )
    def test_an_unreadable_report_only_leaves_the_mse_out(
        self, team: Team, sagemaker: Stubber, aws_clients: AwsClients, report: bytes | dict[str, Any] | None
    ) -> None:
        pipeline_ended(sagemaker, "Succeeded", REGISTERED, package_status="PendingManualApproval")
        if report is not None:
            team.report(report)
        result = finish(aws_clients, STATE)
        assert result["Outcome"] == "AwaitingApproval"
        assert "(version 3, test MSE not read)" in result["Message"]

    def test_the_serving_check_model_is_deleted_once_the_run_ended(
        self, team: Team, sagemaker: Stubber, aws_clients: AwsClients
    ) -> None:
        # GIVEN the pipeline made a model only to score its test split through it
        model = "pipelines-x7k2m9q4r1t8-CreateServingModel-C-a1b2c3"
        with_model = [
            *REGISTERED,
            a_step(SERVING_MODEL_STEP, "Succeeded", Metadata={"Model": {"Arn": f"{MODEL_ARN_PREFIX}{model}"}}),
        ]
        pipeline_ended(sagemaker, "Succeeded", with_model, package_status="Approved")
        sagemaker.add_response("delete_model", {}, {"ModelName": model})
        team.report(REPORT)
        # WHEN the run finishes THEN it is deleted (the Stubber fails the test if DeleteModel is not called)
        result = finish(aws_clients, STATE)
        assert result["Outcome"] == "RegisteredApproved"
        assert "serving-check model" not in result["Message"]

    def test_a_serving_check_model_that_cannot_be_deleted_is_named_not_fatal(
        self, team: Team, sagemaker: Stubber, aws_clients: AwsClients
    ) -> None:
        model = "pipelines-x7k2m9q4r1t8-CreateServingModel-C-a1b2c3"
        with_model = [
            *REGISTERED,
            a_step(SERVING_MODEL_STEP, "Succeeded", Metadata={"Model": {"Arn": f"{MODEL_ARN_PREFIX}{model}"}}),
        ]
        pipeline_ended(sagemaker, "Succeeded", with_model, package_status="Approved")
        sagemaker.add_client_error("delete_model", "AccessDeniedException", "not authorized to perform DeleteModel")
        team.report(REPORT)

        result = finish(aws_clients, STATE)

        assert result["Outcome"] == "RegisteredApproved" and not result["Failed"]
        assert f"The serving-check model {model} was not deleted" in result["Message"]
        assert "AccessDeniedException" in result["Message"]

    def test_a_run_that_registered_nothing_says_so(
        self, team: Team, sagemaker: Stubber, aws_clients: AwsClients
    ) -> None:
        pipeline_ended(sagemaker, "Succeeded", [a_step(EVALUATE_STEP, "Succeeded")])
        result = finish(aws_clients, STATE)
        assert (result["Outcome"], result["Failed"], result["Subject"]) == (
            "NothingRegistered",
            False,
            "Training run registered no model",
        )
        assert result["Message"] == (
            "Outcome: nothing registered. The pipeline succeeded without registering a model package." + CONSOLE_LINK
        )

    def test_a_failed_pipeline_names_its_failed_steps(
        self, team: Team, sagemaker: Stubber, aws_clients: AwsClients
    ) -> None:
        # GIVEN the pipeline failed without a reason of its own; its training step says why
        pipeline_ended(
            sagemaker,
            "Failed",
            [
                a_step(TRAIN_STEP, "Failed", FailureReason="ClientError: ResourceLimitExceeded for ml.m5.xlarge"),
                a_step("PreprocessAbaloneData", "Succeeded"),
            ],
        )
        result = finish(aws_clients, {**STATE, "Check": {"Done": True, "Polls": 4, "Status": "Failed"}})
        reason = f"step {TRAIN_STEP}: ClientError: ResourceLimitExceeded for ml.m5.xlarge"
        assert result == {
            "Outcome": "Failed",
            "Failed": True,
            "Subject": "Training run failed",
            "Message": f"Outcome: failed. The pipeline execution Failed: {reason}" + CONSOLE_LINK,
            "Error": "PipelineFailed",
            "Cause": reason,
            "Mse": None,
        }
        (notification,) = team.notifications()
        assert notification["Subject"] == "Training run failed"

    def test_a_register_step_that_failed_registered_nothing(
        self, team: Team, sagemaker: Stubber, aws_clients: AwsClients
    ) -> None:
        # GIVEN the register step failed, though its metadata names the package it tried to create
        failed_register = a_step(
            REGISTER_STEP,
            "Failed",
            FailureReason="ValidationException: model package group abalone does not exist",
            Metadata={"RegisterModel": {"Arn": PACKAGE}},
        )
        pipeline_ended(sagemaker, "Failed", [failed_register, *REGISTERED[1:]])  # no DescribeModelPackage expected
        result = finish(aws_clients, STATE)
        assert (
            result["Cause"] == f"step {REGISTER_STEP}: ValidationException: model package group abalone does not exist"
        )
        assert PACKAGE not in result["Message"]

    def test_the_pipelines_own_failure_reason_comes_first(
        self, team: Team, sagemaker: Stubber, aws_clients: AwsClients
    ) -> None:
        pipeline_ended(
            sagemaker,
            "Failed",
            [a_step(TRAIN_STEP, "Failed", FailureReason="step reason")],
            failure_reason="Step FailOnHighMse failed: MSE 7.1 above 6.0",
        )
        result = finish(aws_clients, STATE)
        assert result["Cause"] == "Step FailOnHighMse failed: MSE 7.1 above 6.0"

    def test_a_stopped_pipeline_without_a_reason_says_it_stopped(
        self, team: Team, sagemaker: Stubber, aws_clients: AwsClients
    ) -> None:
        pipeline_ended(sagemaker, "Stopped", [a_step(TRAIN_STEP, "Stopped")])
        result = finish(aws_clients, STATE)
        assert (result["Error"], result["Cause"]) == ("PipelineStopped", "pipeline execution Stopped")

    def test_a_caught_lambda_error_is_told_readably(self, team: Team, aws_clients: AwsClients) -> None:
        # GIVEN the check timed out (its Catch recorded the Lambda error), so SageMaker is not asked again
        cause = json.dumps(
            {
                "errorMessage": f"pipeline execution {PIPELINE_EXECUTION} still Executing after 240 polls: stopped",
                "errorType": "PipelineTimedOut",
                "requestId": "r-1",
                "stackTrace": [],
            }
        )
        result = finish(aws_clients, {**STATE, "Failure": {"Error": "PipelineTimedOut", "Cause": cause}})
        assert (result["Outcome"], result["Error"]) == ("Failed", "PipelineTimedOut")
        assert result["Cause"] == f"pipeline execution {PIPELINE_EXECUTION} still Executing after 240 polls: stopped"
        assert result["Message"] == (
            f"Outcome: failed. The training run failed: PipelineTimedOut: {result['Cause']}" + CONSOLE_LINK
        )

    def test_a_run_that_never_started_the_pipeline_says_so(self, team: Team, aws_clients: AwsClients) -> None:
        result = finish(aws_clients, {"Run": RUN})
        assert (result["Error"], result["Cause"]) == ("Error", "the run stopped before the pipeline started")

    def test_without_a_topic_client_nothing_is_published(self, team: Team, aws_clients: AwsClients) -> None:
        result = steps.finish(
            RUN_ARN, {"Failure": {"Error": "E", "Cause": "c"}}, TOPIC, REGION, steps.Clients(aws_clients.sagemaker)
        )
        assert result["Failed"] is True
        assert team.notifications() == []


class TestDescribeOutcome:
    BASE = {
        "Status": "Succeeded",
        "FailureReason": "",
        "ModelPackageArn": PACKAGE,
        "ModelPackageVersion": 3,
        "ModelApprovalStatus": "Approved",
        "Mse": 4.5,
    }

    @pytest.mark.parametrize(
        ("changes", "outcome", "subject", "message"),
        [
            (
                {},
                "RegisteredApproved",
                "Model version 3 registered Approved",
                f"Outcome: registered Approved. Model package {PACKAGE} (version 3, test MSE 4.5000) was registered",
            ),
            (
                {"ModelApprovalStatus": "PendingManualApproval", "Mse": None},
                "AwaitingApproval",
                "Model version 3 awaits approval",
                f"Outcome: awaiting approval. Model package {PACKAGE} (version 3, test MSE not read) is "
                "PendingManualApproval",
            ),
            (
                {"ModelPackageArn": "", "ModelPackageVersion": None, "ModelApprovalStatus": ""},
                "NothingRegistered",
                "Training run registered no model",
                "Outcome: nothing registered.",
            ),
            (
                {"Status": "Failed", "FailureReason": "step X: boom", "ModelPackageArn": "", "Mse": None},
                "Failed",
                "Training run failed",
                "Outcome: failed. The pipeline execution Failed: step X: boom",
            ),
        ],
        ids=["RegisteredApproved", "AwaitingApproval", "NothingRegistered", "Failed"],
    )
    def test_each_outcome(self, changes: dict[str, Any], outcome: str, subject: str, message: str) -> None:
        described = steps.describe_outcome({**self.BASE, **changes})
        assert (described["Outcome"], described["Subject"]) == (outcome, subject)
        assert described["Message"].startswith(message)
        assert described["Failed"] is (outcome == "Failed")


# ======================================================================================================================
# the handler, through Powertools' parsing
# ======================================================================================================================
@pytest.mark.filterwarnings("ignore:No application metrics to publish")  # a step that counts none
class TestHandler:
    def test_start(self, template_env: None, load_event: LoadEvent, lambda_context: Any) -> None:
        result = app.step_handler(load_event("training/step-start.json"), lambda_context)
        assert result == {
            "Run": {
                "PipelineParameters": [
                    {"Name": "MseThreshold", "Value": "5.5"},
                    {"Name": "TrainingInstanceType", "Value": "ml.m5.xlarge"},
                ],
                "PollSeconds": 30,
                "MaxPolls": 240,
            },
            "Check": {"Polls": 0},
        }

    def test_check(self, template_env: None, load_event: LoadEvent, lambda_context: Any) -> None:
        # GIVEN a pipeline execution in moto (whose executions are Succeeded as soon as they start)
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sagemaker.create_pipeline(
            PipelineName=f"{PREFIX}-pipeline",
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-sagemaker",
            ClientRequestToken="create-" + "0" * 32,
        )
        arn = sagemaker.start_pipeline_execution(
            PipelineName=f"{PREFIX}-pipeline", ClientRequestToken="start-" + "0" * 32
        )["PipelineExecutionArn"]
        event = {**load_event("training/step-check.json"), "PipelineExecutionArn": arn}
        assert app.step_handler(event, lambda_context) == {"Done": True, "Polls": 4, "Status": "Succeeded"}

    def test_finish(self, team: Team, load_event: LoadEvent, lambda_context: Any) -> None:
        result = app.step_handler(load_event("training/step-finish-timed-out.json"), lambda_context)
        assert (result["Outcome"], result["Failed"], result["Error"]) == ("Failed", True, "PipelineTimedOut")
        assert result["Cause"].endswith("still Executing after 120 polls: stopped")
        (notification,) = team.notifications()
        assert notification["Subject"] == "Training run failed"

    def test_a_malformed_request_is_refused(
        self, template_env: None, load_event: LoadEvent, lambda_context: Any
    ) -> None:
        event = {**load_event("training/step-check.json"), "PipelineExecutionArn": "x7k2m9q4r1t8"}
        with pytest.raises(ValidationError, match="PipelineExecutionArn"):
            app.step_handler(event, lambda_context)

    def test_an_invalid_input_fails_the_start(
        self, template_env: None, load_event: LoadEvent, lambda_context: Any
    ) -> None:
        event = load_event("training/step-start.json")
        event["Input"]["PipelineParameters"]["MseTreshold"] = 5.0
        with pytest.raises(steps.InvalidInput, match="unknown pipeline parameter\\(s\\): MseTreshold"):
            app.step_handler(event, lambda_context)
