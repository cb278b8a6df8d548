"""With runners plugged in, endpoints and transform jobs wait for the real work, and failures read as in AWS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_twin.emulator import Emulator, emulate

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"


@pytest.fixture
def emulator() -> Iterator[tuple[Emulator, Any]]:
    with mock_aws(), emulate() as extensions:
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        sagemaker.create_model(
            ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://b/m.tar.gz"}
        )
        for config in ("c1", "c2"):
            sagemaker.create_endpoint_config(
                EndpointConfigName=config,
                ProductionVariants=[
                    {"VariantName": "v", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
                ],
            )
        yield extensions, sagemaker


def create_transform_job(sagemaker: Any, name: str, tags: list[dict[str, str]]) -> None:
    sagemaker.create_transform_job(
        TransformJobName=name,
        ModelName="m",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in/"}}},
        TransformOutput={"S3OutputPath": "s3://b/out/"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        Tags=tags,
    )


def test_an_endpoint_is_creating_until_the_runner_reports_it_in_service(emulator: tuple[Emulator, Any]) -> None:
    extensions, sagemaker = emulator
    calls: list[tuple[str, str]] = []
    extensions.deployments.endpoint_runner = lambda name, config: calls.append((name, config))

    sagemaker.create_endpoint(EndpointName="e", EndpointConfigName="c1")
    creating = sagemaker.describe_endpoint(EndpointName="e")["EndpointStatus"]
    extensions.deployments.report_endpoint("e")

    assert calls == [("e", "c1")]
    assert creating == "Creating"
    assert sagemaker.describe_endpoint(EndpointName="e")["EndpointStatus"] == "InService"


def test_a_new_endpoint_that_cannot_serve_is_failed_with_the_reason(emulator: tuple[Emulator, Any]) -> None:
    extensions, sagemaker = emulator
    extensions.deployments.endpoint_runner = lambda name, config: None

    sagemaker.create_endpoint(EndpointName="e", EndpointConfigName="c1")
    extensions.deployments.report_endpoint("e", "ModelLoadError: no model file")

    described = sagemaker.describe_endpoint(EndpointName="e")
    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"] == "ModelLoadError: no model file"


def test_a_failed_update_rolls_back_to_the_previous_config(emulator: tuple[Emulator, Any]) -> None:
    extensions, sagemaker = emulator
    extensions.deployments.endpoint_runner = lambda name, config: None
    sagemaker.create_endpoint(EndpointName="e", EndpointConfigName="c1")
    extensions.deployments.report_endpoint("e")

    sagemaker.update_endpoint(EndpointName="e", EndpointConfigName="c2")
    updating = sagemaker.describe_endpoint(EndpointName="e")["EndpointStatus"]
    extensions.deployments.report_endpoint("e", "the new model did not load")

    described = sagemaker.describe_endpoint(EndpointName="e")
    assert updating == "Updating"
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "c1")
    assert described["FailureReason"] == "the new model did not load"


def test_a_transform_job_is_in_progress_until_the_runner_reports(emulator: tuple[Emulator, Any]) -> None:
    extensions, sagemaker = emulator
    jobs: list[dict[str, Any]] = []
    extensions.deployments.transform_runner = jobs.append

    create_transform_job(sagemaker, "t", [{"Key": "k", "Value": "v"}])
    in_progress = sagemaker.describe_transform_job(TransformJobName="t")["TransformJobStatus"]
    extensions.deployments.report_transform_job("t", "TransformJobError: no input objects under s3://b/in/")

    described = sagemaker.describe_transform_job(TransformJobName="t")
    assert in_progress == "InProgress"
    assert [job["TransformJobName"] for job in jobs] == ["t"]
    assert jobs[0]["TransformOutput"]["S3OutputPath"] == "s3://b/out/"
    assert (described["TransformJobStatus"], described["FailureReason"]) == (
        "Failed",
        "TransformJobError: no input objects under s3://b/in/",
    )


def test_without_runners_moto_stays_instant(emulator: tuple[Emulator, Any]) -> None:
    _, sagemaker = emulator

    sagemaker.create_endpoint(EndpointName="e", EndpointConfigName="c1")
    create_transform_job(sagemaker, "t", [])

    assert sagemaker.describe_endpoint(EndpointName="e")["EndpointStatus"] == "InService"
    assert sagemaker.describe_transform_job(TransformJobName="t")["TransformJobStatus"] == "Completed"
