"""The if branch of the small pipeline against the AWS emulator: S3 through boto3, the SageMaker API of moto.

Registers a model package, creates a model and runs a batch transform that really scores the features.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_twin.pipeline_runner.runner import ExecutionResult, PipelineRunner
from local_twin.storage import S3Store
from tests.unit.pipeline_runner.helpers import BUCKET, seed_store, small_definition

KMS = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, S3Store]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        sagemaker.create_model_package_group(ModelPackageGroupName="unit-group")
        store = S3Store(s3, kms_key_id=KMS)
        seed_store(store)
        yield sagemaker, store


def _run(aws: tuple[Any, S3Store], tmp_path: Path, **parameters: str) -> ExecutionResult:
    sagemaker, store = aws
    runner = PipelineRunner(small_definition(), store=store, sagemaker_client=sagemaker, workdir=tmp_path)
    return runner.run(parameters)


def test_all_if_branch_steps_succeed_and_register_the_model_with_its_metrics(
    aws: tuple[Any, S3Store], tmp_path: Path
) -> None:
    sagemaker, store = aws

    result = _run(aws, tmp_path)

    assert result.status == "Succeeded", result.failure_reason
    assert {r.step_name: r.step_status for r in result.steps} == dict.fromkeys(
        ("Prep", "Train", "Evaluate", "CheckMse", "Register-RegisterModel", "Model-CreateModel", "Transform"),
        "Succeeded",
    )
    package = sagemaker.describe_model_package(ModelPackageName=result.model_package_arn)
    train = next(r for r in result.steps if r.step_name == "Train")
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == train.outputs["S3ModelArtifacts"]
    metrics_uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    evaluate = next(r for r in result.steps if r.step_name == "Evaluate")
    assert metrics_uri == evaluate.outputs["evaluation"] + "/evaluation.json"
    assert b'"mse"' in store.get_bytes(metrics_uri)
    register = next(r for r in result.steps if r.step_name == "Register-RegisterModel")
    assert register.to_api()["Metadata"] == {"RegisterModel": {"Arn": result.model_package_arn}}


def test_model_and_transform_steps_use_the_sagemaker_api_and_score_the_input(
    aws: tuple[Any, S3Store], tmp_path: Path
) -> None:
    sagemaker, store = aws

    result = _run(aws, tmp_path)

    records = {r.step_name: r for r in result.steps}
    model_name = records["Model-CreateModel"].outputs["ModelName"]
    model = sagemaker.describe_model(ModelName=model_name)
    assert records["Model-CreateModel"].metadata == {"Model": {"Arn": model["ModelArn"]}}
    assert model["VpcConfig"]["Subnets"] == ["subnet-0000000000000000a"]
    transform = records["Transform"]
    job = sagemaker.describe_transform_job(TransformJobName=transform.metadata["TransformJob"]["Arn"].split("/")[-1])
    assert job["ModelName"] == model_name
    assert transform.outputs["Records"] == 20
    [output] = transform.outputs["Outputs"]
    assert output.endswith("/features.csv.out")
    predictions = store.get_bytes(output).decode().splitlines()
    assert len(predictions) == 20
    assert all(float(p) >= 0 for p in predictions)


def test_approval_status_override_is_honoured(aws: tuple[Any, S3Store], tmp_path: Path) -> None:
    sagemaker, _ = aws

    result = _run(aws, tmp_path, ModelApprovalStatus="Approved")

    package = sagemaker.describe_model_package(ModelPackageName=result.model_package_arn)
    assert package["ModelApprovalStatus"] == "Approved"


def test_an_invalid_approval_status_fails_the_register_step_naming_it(aws: tuple[Any, S3Store], tmp_path: Path) -> None:
    result = _run(aws, tmp_path, ModelApprovalStatus="Yes")

    register = next(r for r in result.steps if r.step_name == "Register-RegisterModel")
    assert register.step_status == "Failed"
    assert register.failure_reason == (
        "step 'Register-RegisterModel': ModelApprovalStatus 'Yes' is not one of "
        "Approved, Rejected, PendingManualApproval"
    )
    assert result.status == "Failed"
    assert result.model_package_arn is None
