"""The few decisions the state machine cannot make with direct service integrations alone.

- validate_input: one clear error for a bad execution input, and defaults from the template in one place;
- pipeline_outcome: the failure reason and the package the pipeline registered (ListPipelineExecutionSteps);
- prepare_deployment: SageMaker-safe names (≤ 63 characters, derived from package version + execution) and whether
  the endpoint exists (CreateEndpoint vs UpdateEndpoint); ASL has no substring or "exists" intrinsic.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import TYPE_CHECKING, Any

from pipeline_helpers.models import DeployInput, TrainInput

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

SAGEMAKER_NAME_LIMIT = 63
FAILED_STATUSES = ("Failed", "Stopped")


def _env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ValueError(f"environment variable {name} is not set")
    return value


def validate_input(execution_input: TrainInput | DeployInput) -> dict[str, Any]:
    """The execution input with every default filled in, in the one shape the states downstream read."""
    normalized: dict[str, Any] = {
        "Mode": execution_input.Mode,
        "Target": execution_input.Target or _env("DEFAULT_DEPLOYMENT_TARGET"),
        "PollSeconds": execution_input.PollSeconds
        if execution_input.PollSeconds is not None
        else int(_env("POLL_SECONDS")),
        "MaxPolls": execution_input.MaxPolls or int(_env("MAX_POLLS")),
        "PipelineParameters": [],
        "ModelPackageArn": "",
        "BatchInputS3Uri": f"s3://{_env('ARTIFACTS_BUCKET')}/batch/input/",
    }
    if isinstance(execution_input, TrainInput):
        normalized["PipelineParameters"] = [
            {"Name": name, "Value": str(value)} for name, value in sorted(execution_input.PipelineParameters.items())
        ]
    else:
        normalized["ModelPackageArn"] = execution_input.ModelPackageArn
        if execution_input.BatchInputS3Uri:
            normalized["BatchInputS3Uri"] = execution_input.BatchInputS3Uri
    return normalized


def pipeline_outcome(execution_arn: str, sagemaker: SageMakerClient) -> dict[str, str]:
    """Status, failure reason and the registered package (if any) of a finished pipeline execution."""
    described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
    status = described["PipelineExecutionStatus"]
    steps: list[Any] = []
    paginator = sagemaker.get_paginator("list_pipeline_execution_steps")
    for page in paginator.paginate(PipelineExecutionArn=execution_arn):
        steps.extend(page.get("PipelineExecutionSteps", []))
    reason = described.get("FailureReason") or ""
    if status in FAILED_STATUSES and not reason:
        failed = [s for s in steps if s.get("StepStatus") == "Failed"]
        reason = "; ".join(f"step {s['StepName']}: {s.get('FailureReason', 'no reason given')}" for s in failed)
    package_arn = ""
    for step in steps:
        registered = step.get("Metadata", {}).get("RegisterModel", {}).get("Arn")
        if registered and step.get("StepStatus") == "Succeeded":
            package_arn = registered
    approval = ""
    if package_arn:
        approval = sagemaker.describe_model_package(ModelPackageName=package_arn)["ModelApprovalStatus"]
    return {
        "Status": status,
        "FailureReason": reason or (f"pipeline execution {status}" if status in FAILED_STATUSES else ""),
        "ModelPackageArn": package_arn,
        "ModelApprovalStatus": approval,
    }


def sagemaker_name(prefix: str, version: int, execution_id: str) -> str:
    """``<prefix>-v<version>-<hash of the execution>``, cut to SageMaker's 63 characters by shortening the prefix."""
    safe_prefix = re.sub(r"[^A-Za-z0-9-]", "-", prefix).strip("-") or "model"
    suffix = f"-v{version}-{hashlib.sha256(execution_id.encode()).hexdigest()[:10]}"
    return safe_prefix[: SAGEMAKER_NAME_LIMIT - len(suffix)].rstrip("-") + suffix


def endpoint_exists(name: str, sagemaker: SageMakerClient) -> bool:
    try:
        sagemaker.describe_endpoint(EndpointName=name)
    except sagemaker.exceptions.ClientError as error:
        message = str(error.response.get("Error", {}).get("Message", ""))
        if "Could not find endpoint" in message:
            return False
        raise
    return True


def prepare_deployment(version: int, execution_id: str, sagemaker: SageMakerClient) -> dict[str, Any]:
    name = sagemaker_name(_env("RESOURCE_PREFIX"), version, execution_id)
    return {
        "DeploymentName": name,
        "EndpointExists": endpoint_exists(_env("ENDPOINT_NAME"), sagemaker),
        "BatchOutputS3Uri": f"s3://{_env('ARTIFACTS_BUCKET')}/batch/output/{name}/",
    }
