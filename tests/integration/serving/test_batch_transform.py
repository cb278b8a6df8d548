"""A transform job runs its S3 input through a batch container (SAGEMAKER_BATCH) and writes ``.out`` objects."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import xgboost as xgb
from moto import mock_aws

from local_twin.serving import ServingContainer
from local_twin.serving.batch_transform import TransformJobError, TransformSpec, run_transform

from .conftest import IMAGE_URI, Rows, csv_lines, scores

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET = "artifacts"
OUT = "transform"


@pytest.fixture(scope="module")
def batch_container(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServingContainer]:
    with ServingContainer(IMAGE_URI, model_dir, work_dir=tmp_path_factory.mktemp("transform"), batch=True) as running:
        yield running


@pytest.fixture
def s3() -> Iterator[S3Client]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def job(**overrides: Any) -> TransformSpec:
    """The deploy state machine's CreateTransformJob, as DescribeTransformJob returns it."""
    description: dict[str, Any] = {
        "TransformJobName": "abalone-transform-1",
        "ModelName": "abalone-model-1",
        "BatchStrategy": "MultiRecord",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/run/test/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {
            "S3OutputPath": f"s3://{BUCKET}/run/transform",
            "AssembleWith": "Line",
            "Accept": "text/csv",
        },
        "DataProcessing": {"JoinSource": "Input"},
    }
    description.update(overrides)
    return TransformSpec.from_description(description)


def read(s3: S3Client, key: str) -> str:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


def test_each_line_is_its_record_joined_with_its_prediction(
    s3: S3Client, batch_container: ServingContainer, booster: xgb.Booster, rows: Rows
) -> None:
    records = csv_lines(rows)
    s3.put_object(Bucket=BUCKET, Key="run/test/part-1.csv", Body=("\n".join(records[:12]) + "\n").encode())
    s3.put_object(Bucket=BUCKET, Key="run/test/part-2.csv", Body="\n".join(records[12:]).encode())

    result = run_transform(job(), batch_container.url, s3)

    assert result.outputs == [
        f"s3://{BUCKET}/run/transform/part-1.csv.out",
        f"s3://{BUCKET}/run/transform/part-2.csv.out",
    ]
    assert result.records == len(records)
    predictions = scores(booster, rows)
    assert read(s3, "run/transform/part-1.csv.out") == "".join(
        f"{record},{prediction}\n" for record, prediction in zip(records[:12], predictions[:12], strict=True)
    )
    assert read(s3, "run/transform/part-2.csv.out").splitlines() == [
        f"{record},{prediction}" for record, prediction in zip(records[12:], predictions[12:], strict=True)
    ]


def test_without_join_the_output_is_the_predictions(
    s3: S3Client, batch_container: ServingContainer, booster: xgb.Booster, rows: Rows
) -> None:
    s3.put_object(Bucket=BUCKET, Key="run/test/test.csv", Body="\n".join(csv_lines(rows)).encode())

    run_transform(job(DataProcessing={}), batch_container.url, s3)

    assert read(s3, "run/transform/test.csv.out") == "".join(f"{value}\n" for value in scores(booster, rows))


def test_filters_drop_the_label_and_keep_label_and_prediction(
    s3: S3Client, batch_container: ServingContainer, booster: xgb.Booster, rows: Rows
) -> None:
    labelled = [f"{index}.5,{line}" for index, line in enumerate(csv_lines(rows))]
    s3.put_object(Bucket=BUCKET, Key="run/test/test.csv.gz", Body=gzip.compress("\n".join(labelled).encode()))
    source = {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/run/test/"}}
    gzipped = {"DataSource": source, "ContentType": "text/csv", "SplitType": "Line", "CompressionType": "Gzip"}
    processing = {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"}
    spec = job(TransformInput=gzipped, DataProcessing=processing, BatchStrategy="SingleRecord")

    run_transform(spec, batch_container.url, s3)

    expected = [f"{index}.5,{value}" for index, value in enumerate(scores(booster, rows))]
    assert read(s3, "run/transform/test.csv.gz.out").splitlines() == expected


def test_outputs_are_written_with_the_jobs_kms_key(s3: S3Client, batch_container: ServingContainer, rows: Rows) -> None:
    key_arn = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    s3.put_object(Bucket=BUCKET, Key="run/test/test.csv", Body="\n".join(csv_lines(rows)).encode())
    output = {"S3OutputPath": f"s3://{BUCKET}/run/transform", "AssembleWith": "Line", "KmsKeyId": key_arn}

    run_transform(job(TransformOutput=output), batch_container.url, s3)

    head = s3.head_object(Bucket=BUCKET, Key="run/transform/test.csv.out")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key_arn
    assert head["ContentType"] == "text/csv"


def test_records_the_model_refuses_fail_the_job_with_the_containers_answer(
    s3: S3Client, batch_container: ServingContainer
) -> None:
    s3.put_object(Bucket=BUCKET, Key="run/test/test.csv", Body=b"0.1,0.2\n0.3,0.4\n")

    with pytest.raises(TransformJobError, match=r"\(400\): Unable to evaluate payload provided: Feature size of csv"):
        run_transform(job(), batch_container.url, s3)


def test_an_empty_input_prefix_fails_the_job(s3: S3Client, batch_container: ServingContainer) -> None:
    with pytest.raises(TransformJobError, match="no input objects under"):
        run_transform(job(), batch_container.url, s3)
