"""Endpoints and transform jobs take as long as the real work: with a runner plugged in (the local twin's serving),
the emulated SageMaker reports ``Creating`` / ``Updating`` / ``InProgress`` until the runner reports, and failures
read as SageMaker's do (a new endpoint ``Failed``; a failed update rolled back, ``InService`` on the old config).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local_twin.emulator import Emulator
from tests.integration.emulator.conftest import unique

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"


@pytest.fixture
def sagemaker(aws: Emulator) -> Iterator[Any]:
    """A model and two endpoint configs; the runners are unplugged again after the test."""
    client = aws.client("sagemaker")
    model = unique("m")
    client.create_model(
        ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://b/m.tar.gz"}
    )
    for config in ("c1", "c2"):
        client.create_endpoint_config(
            EndpointConfigName=f"{model}-{config}",
            ProductionVariants=[
                {"VariantName": "v", "ModelName": model, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
            ],
        )
    client.model_name = model
    yield client
    aws.deployments.endpoint_runner = aws.deployments.transform_runner = None


def _create_transform_job(sagemaker: Any, name: str) -> None:
    sagemaker.create_transform_job(
        TransformJobName=name,
        ModelName=sagemaker.model_name,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in/"}}},
        TransformOutput={"S3OutputPath": "s3://b/out/"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )


def test_an_endpoint_is_creating_until_the_runner_reports_it_in_service(aws: Emulator, sagemaker: Any) -> None:
    calls: list[tuple[str, str]] = []
    aws.deployments.endpoint_runner = lambda name, config, account: calls.append((name, config))
    endpoint, config = unique("e"), f"{sagemaker.model_name}-c1"

    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    creating = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"]
    aws.deployments.report_endpoint(endpoint)

    assert calls == [(endpoint, config)]
    assert creating == "Creating"
    assert sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"


def test_a_new_endpoint_that_cannot_serve_is_failed_with_the_reason(aws: Emulator, sagemaker: Any) -> None:
    aws.deployments.endpoint_runner = lambda name, config, account: None
    endpoint = unique("e")

    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=f"{sagemaker.model_name}-c1")
    aws.deployments.report_endpoint(endpoint, "ModelLoadError: no model file")

    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"] == "ModelLoadError: no model file"


def test_a_failed_update_rolls_back_to_the_previous_config(aws: Emulator, sagemaker: Any) -> None:
    aws.deployments.endpoint_runner = lambda name, config, account: None
    endpoint, first = unique("e"), f"{sagemaker.model_name}-c1"
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=first)
    aws.deployments.report_endpoint(endpoint)

    sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=f"{sagemaker.model_name}-c2")
    updating = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"]
    aws.deployments.report_endpoint(endpoint, "the new model did not load")

    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    assert updating == "Updating"
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", first)
    assert described["FailureReason"] == "the new model did not load"


def test_a_transform_job_is_in_progress_until_the_runner_reports(aws: Emulator, sagemaker: Any) -> None:
    jobs: list[dict[str, Any]] = []
    aws.deployments.transform_runner = lambda job, account: jobs.append(job)
    job = unique("t")

    _create_transform_job(sagemaker, job)
    in_progress = sagemaker.describe_transform_job(TransformJobName=job)["TransformJobStatus"]
    aws.deployments.report_transform_job(job, "TransformJobError: no input objects under s3://b/in/")

    described = sagemaker.describe_transform_job(TransformJobName=job)
    assert in_progress == "InProgress"
    assert [j["TransformJobName"] for j in jobs] == [job]
    assert jobs[0]["TransformOutput"]["S3OutputPath"] == "s3://b/out/"
    assert (described["TransformJobStatus"], described["FailureReason"]) == (
        "Failed",
        "TransformJobError: no input objects under s3://b/in/",
    )


def test_without_runners_moto_stays_instant(sagemaker: Any) -> None:
    endpoint, job = unique("e"), unique("t")

    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=f"{sagemaker.model_name}-c1")
    _create_transform_job(sagemaker, job)

    assert sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"
    assert sagemaker.describe_transform_job(TransformJobName=job)["TransformJobStatus"] == "Completed"
