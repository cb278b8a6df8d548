"""The train state machine's steps: start (the input, checked), check (one poll of the pipeline execution), finish
(what the run registered, told to the team).

A run does not deploy anything itself: a package it registers Approved makes SageMaker send its registry event, and
the reconciler (functions/deployments) deploys from the registry, as for any approval.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parser import ValidationError

from mlops_shared import settings
from mlops_shared.pipeline_names import (
    EVALUATE_STEP,
    EVALUATION_FILE,
    EVALUATION_OUTPUT,
    MSE_JSON_PATH,
    RUNS_PREFIX,
    SERVING_MODEL_STEP,
)
from mlops_shared.problems import describe
from training.models import TrainInput

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sns import SNSClient

TERMINAL = ("Succeeded", "Failed", "Stopped")


class InvalidInput(ValueError):
    """The execution input is not what the train state machine accepts; the message names each wrong field."""


class PipelineTimedOut(Exception):
    """The pipeline execution outlived the polls allowed; it was stopped."""


@dataclass(frozen=True)
class Clients:
    sagemaker: SageMakerClient
    s3: S3Client | None = None
    sns: SNSClient | None = None


def start(execution_input: dict[str, Any]) -> dict[str, Any]:
    """The input with the template's defaults filled in, in the shape the next states read: the state document."""
    try:
        request = TrainInput.model_validate(execution_input)
    except ValidationError as error:
        raise InvalidInput(f"invalid input: {describe(error.errors())}") from None
    run = {
        "PipelineParameters": [
            {"Name": name, "Value": str(value)} for name, value in sorted(request.PipelineParameters.items())
        ],
        "PollSeconds": request.PollSeconds
        if request.PollSeconds is not None
        else settings.integer("POLL_SECONDS", 0, 3600),
        "MaxPolls": request.MaxPolls or settings.integer("MAX_POLLS", 1, 10_000),
    }
    return {"Run": run, "Check": {"Polls": 0}}


def check(run: dict[str, Any], execution_arn: str, previous: dict[str, Any], clients: Clients) -> dict[str, Any]:
    """One poll: ``Done`` with the status once the execution ended; the last poll stops it and raises."""
    polls = int(previous.get("Polls", 0)) + 1
    status = clients.sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution_arn)[
        "PipelineExecutionStatus"
    ]
    if status in TERMINAL:
        return {"Done": True, "Polls": polls, "Status": status}
    if polls >= int(run["MaxPolls"]):
        token = hashlib.sha256(f"stop|{execution_arn}".encode()).hexdigest()  # idempotent if the step is retried
        clients.sagemaker.stop_pipeline_execution(PipelineExecutionArn=execution_arn, ClientRequestToken=token)
        raise PipelineTimedOut(f"pipeline execution {execution_arn} still {status} after {polls} polls: stopped")
    return {"Done": False, "Polls": polls, "Status": status}


def outcome(execution_arn: str, clients: Clients, bucket: str) -> dict[str, Any]:
    """Status, failure reason, registered package (if any) and test MSE of a finished pipeline execution."""
    described = clients.sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
    status = described["PipelineExecutionStatus"]
    steps: list[Any] = []
    for page in clients.sagemaker.get_paginator("list_pipeline_execution_steps").paginate(
        PipelineExecutionArn=execution_arn
    ):
        steps.extend(page.get("PipelineExecutionSteps", []))
    reason = described.get("FailureReason") or ""
    if status != "Succeeded" and not reason:
        failed = [s for s in steps if s.get("StepStatus") == "Failed"]
        reason = "; ".join(f"step {s['StepName']}: {s.get('FailureReason', 'no reason given')}" for s in failed)
    package_arn = next(
        (
            s["Metadata"]["RegisterModel"]["Arn"]
            for s in steps
            if s.get("StepStatus") == "Succeeded" and s.get("Metadata", {}).get("RegisterModel", {}).get("Arn")
        ),
        "",
    )
    package = clients.sagemaker.describe_model_package(ModelPackageName=package_arn) if package_arn else None
    serving_model = next(
        (
            s["Metadata"]["Model"]["Arn"].rsplit("/", 1)[-1]
            for s in steps
            if s.get("StepName") == SERVING_MODEL_STEP and s.get("Metadata", {}).get("Model", {}).get("Arn")
        ),
        "",
    )
    return {
        "Status": status,
        "ServingCheckModel": serving_model,
        "FailureReason": reason or (f"pipeline execution {status}" if status != "Succeeded" else ""),
        "ModelPackageArn": package_arn,
        "ModelPackageVersion": package["ModelPackageVersion"] if package else None,
        "ModelApprovalStatus": package["ModelApprovalStatus"] if package else "",
        "Mse": _mse(execution_arn, clients, bucket) if status == "Succeeded" else None,
    }


def _mse(execution_arn: str, clients: Clients, bucket: str) -> float | None:
    """The test MSE the evaluation step reported (None if the report cannot be read: it only enriches the message)."""
    if clients.s3 is None:
        return None
    key = f"{RUNS_PREFIX}/{execution_arn.rsplit('/', 1)[-1]}/{EVALUATE_STEP}/{EVALUATION_OUTPUT}/{EVALUATION_FILE}"
    try:
        report = json.loads(clients.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except (clients.s3.exceptions.ClientError, ValueError):  # no report, or not JSON: the message says "not read"
        return None
    value: Any = report
    for part in MSE_JSON_PATH.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) else None


def finish(execution_arn: str, state: dict[str, Any], topic_arn: str, region: str, clients: Clients) -> dict[str, Any]:
    """Tell the team what the run did and return it (``Failed``: the execution ends in a Fail state; ``Mse``: the
    test MSE the evaluation reported, or None)."""
    failure = state.get("Failure")
    pipeline_arn = (state.get("Execution") or {}).get("PipelineExecutionArn")
    mse = None
    if failure is None and pipeline_arn:
        result = outcome(pipeline_arn, clients, settings.text("ARTIFACTS_BUCKET"))
        described = describe_outcome(result)
        mse = result["Mse"]
        note = delete_serving_check_model(result["ServingCheckModel"], clients)
        if note:
            described = {**described, "Message": f"{described['Message']}\n{note}"}
    else:
        error = str((failure or {}).get("Error", "Error"))
        cause = _readable((failure or {}).get("Cause", "the run stopped before the pipeline started"))
        described = {
            "Outcome": "Failed",
            "Failed": True,
            "Subject": "Training run failed",
            "Message": f"Outcome: failed. The training run failed: {error}: {cause}",
            "Error": error,
            "Cause": cause,
        }
    console = f"https://{region}.console.aws.amazon.com"
    message = (
        f"{described['Message']}\n\nExecution: {console}/states/home?region={region}#/v2/executions/details/"
        f"{execution_arn}"
    )
    if clients.sns is not None:
        clients.sns.publish(TopicArn=topic_arn, Subject=described["Subject"][:100], Message=message)
    return {**described, "Message": message, "Mse": mse}


def delete_serving_check_model(model_name: str, clients: Clients) -> str:
    """Delete the model the pipeline made only to score its test split (the package registered keeps its own
    definition); "" when done or there is none, else a sentence for the message -- a leftover model costs nothing and
    must not fail a run that trained and registered."""
    if not model_name:
        return ""
    try:
        clients.sagemaker.delete_model(ModelName=model_name)
    except clients.sagemaker.exceptions.ClientError as error:
        if "Could not find model" in str(error):
            return ""
        return f"The serving-check model {model_name} was not deleted ({error}); delete it by hand."
    return ""


def describe_outcome(result: dict[str, Any]) -> dict[str, Any]:
    """Subject and message of a finished pipeline execution."""
    mse = f"test MSE {result['Mse']:.4f}" if result.get("Mse") is not None else "test MSE not read"
    if result["Status"] != "Succeeded":
        return {
            "Outcome": "Failed",
            "Failed": True,
            "Subject": "Training run failed",
            "Message": f"Outcome: failed. The pipeline execution {result['Status']}: {result['FailureReason']}",
            "Error": f"Pipeline{result['Status']}",
            "Cause": result["FailureReason"],
        }
    version, arn = result["ModelPackageVersion"], result["ModelPackageArn"]
    if not arn:
        return {
            "Outcome": "NothingRegistered",
            "Failed": False,
            "Subject": "Training run registered no model",
            "Message": "Outcome: nothing registered. The pipeline succeeded without registering a model package.",
            "Error": "",
            "Cause": "",
        }
    if result["ModelApprovalStatus"] == "Approved":
        return {
            "Outcome": "RegisteredApproved",
            "Failed": False,
            "Subject": f"Model version {version} registered Approved",
            "Message": (
                f"Outcome: registered Approved. Model package {arn} (version {version}, {mse}) was registered "
                "Approved: SageMaker's registry event deploys it if it is the highest Approved version."
            ),
            "Error": "",
            "Cause": "",
        }
    return {
        "Outcome": "AwaitingApproval",
        "Failed": False,
        "Subject": f"Model version {version} awaits approval",
        "Message": (
            f"Outcome: awaiting approval. Model package {arn} (version {version}, {mse}) is "
            f"{result['ModelApprovalStatus']}: approve it in the Model Registry to deploy it."
        ),
        "Error": "",
        "Cause": "",
    }


def _readable(cause: Any) -> str:
    text = str(cause)
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    return str(parsed["errorMessage"]) if isinstance(parsed, dict) and "errorMessage" in parsed else text
