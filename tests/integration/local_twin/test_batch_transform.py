"""A transform job's input goes through the model and its .out file lands in (emulated) S3, row for row."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
import xgboost as xgb
from moto import mock_aws

from local_twin.batch_transform import (
    CsvFilter,
    TransformJobError,
    TransformSpec,
    output_key_for,
    run_transform,
)
from local_twin.endpoint_server import load_model

from .conftest import Features, csv_lines

BUCKET = "artifacts"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def job(**overrides: Any) -> dict[str, Any]:
    """A DescribeTransformJob answer shaped like the one the deploy state machine's CreateTransformJob produces."""
    description: dict[str, Any] = {
        "TransformJobName": "abalone-transform-1",
        "ModelName": "abalone-model-1",
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": 6,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/run/test/test.csv"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": f"s3://{BUCKET}/run/transform", "AssembleWith": "Line"},
        "DataProcessing": {"InputFilter": "$[1:]", "JoinSource": "Input"},
    }
    description.update(overrides)
    return description


def labelled_rows(feature_rows: Features) -> list[str]:
    """Test-split rows: the label first, then the features (the layout the training data uses)."""
    return [f"{index}.5,{line}" for index, line in enumerate(csv_lines(feature_rows))]


def test_every_output_row_is_its_input_row_joined_with_the_prediction(
    s3: Any, model_dir: Path, booster: xgb.Booster, feature_rows: Features
) -> None:
    rows = labelled_rows(feature_rows)
    s3.put_object(Bucket=BUCKET, Key="run/test/test.csv", Body=("\n".join(rows) + "\n").encode())

    result = run_transform(TransformSpec.from_description(job()), load_model(model_dir), s3)

    assert result.outputs == [f"s3://{BUCKET}/run/transform/test.csv.out"]
    assert result.records == len(rows)
    out = s3.get_object(Bucket=BUCKET, Key="run/transform/test.csv.out")["Body"].read().decode().splitlines()
    assert [line.rsplit(",", 1)[0] for line in out] == rows
    predictions = np.array([float(line.rsplit(",", 1)[1]) for line in out])
    np.testing.assert_allclose(predictions, booster.predict(xgb.DMatrix(feature_rows)), rtol=1e-6)


def test_mini_batches_and_single_records_give_the_same_output(s3: Any, model_dir: Path, feature_rows: Features) -> None:
    s3.put_object(Bucket=BUCKET, Key="run/test/test.csv", Body="\n".join(labelled_rows(feature_rows)).encode())
    model = load_model(model_dir)

    run_transform(TransformSpec.from_description(job()), model, s3)
    multi = s3.get_object(Bucket=BUCKET, Key="run/transform/test.csv.out")["Body"].read()
    run_transform(TransformSpec.from_description(job(BatchStrategy="SingleRecord")), model, s3)
    single = s3.get_object(Bucket=BUCKET, Key="run/transform/test.csv.out")["Body"].read()

    assert multi == single


def test_gzip_input_under_a_prefix_and_output_filter(s3: Any, model_dir: Path, feature_rows: Features) -> None:
    rows = labelled_rows(feature_rows[:4])
    s3.put_object(Bucket=BUCKET, Key="run/test/part-1.csv", Body=gzip.compress("\n".join(rows).encode()))
    description = job(DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"})
    description["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] = f"s3://{BUCKET}/run/test/"
    description["TransformInput"]["CompressionType"] = "Gzip"

    result = run_transform(TransformSpec.from_description(description), load_model(model_dir), s3)

    out = s3.get_object(Bucket=BUCKET, Key="run/transform/part-1.csv.out")["Body"].read().decode().splitlines()
    assert result.records == 4
    assert [line.split(",")[0] for line in out] == [row.split(",")[0] for row in rows]
    assert all(len(line.split(",")) == 2 for line in out)


def test_the_output_is_encrypted_with_the_jobs_kms_key(s3: Any, model_dir: Path, feature_rows: Features) -> None:
    kms = boto3.client("kms", region_name="us-east-1")
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    s3.put_object(Bucket=BUCKET, Key="run/test/test.csv", Body="\n".join(labelled_rows(feature_rows[:2])).encode())
    description = job()
    description["TransformOutput"]["KmsKeyId"] = key_arn

    run_transform(TransformSpec.from_description(description), load_model(model_dir), s3)

    head = s3.head_object(Bucket=BUCKET, Key="run/transform/test.csv.out")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key_arn


def test_records_the_model_refuses_fail_the_job_naming_the_object(s3: Any, model_dir: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key="run/test/test.csv", Body=b"1.0,2.0,3.0\n")

    with pytest.raises(TransformJobError, match=r"run/test/test.csv \(400\).*feature size"):
        run_transform(TransformSpec.from_description(job()), load_model(model_dir), s3)


def test_an_empty_input_prefix_fails_the_job(s3: Any, model_dir: Path) -> None:
    with pytest.raises(TransformJobError, match="no input objects"):
        run_transform(TransformSpec.from_description(job()), load_model(model_dir), s3)


@pytest.mark.parametrize(
    ("change", "option"),
    [
        ({"BatchStrategy": "Everything"}, "BatchStrategy"),
        ({"DataProcessing": {"JoinSource": "Output"}}, "JoinSource"),
        ({"DataProcessing": {"InputFilter": "$.features"}}, "InputFilter"),
        ({"TransformOutput": {"S3OutputPath": "s3://b/o", "Accept": "application/json"}}, "Accept"),
    ],
)
def test_unsupported_options_are_named(change: dict[str, Any], option: str) -> None:
    with pytest.raises(TransformJobError, match=option):
        TransformSpec.from_description(job(**change))


def test_split_type_recordio_is_named() -> None:
    description = job()
    description["TransformInput"]["SplitType"] = "RecordIO"

    with pytest.raises(TransformJobError, match="SplitType"):
        TransformSpec.from_description(description)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [("$", ["a", "b", "c", "d"]), ("$[1:]", ["b", "c", "d"]), ("$[0,-1]", ["a", "d"]), ("$[0,2:]", ["a", "c", "d"])],
)
def test_csv_filters_select_columns_as_sagemaker_documents(expression: str, expected: list[str]) -> None:
    assert CsvFilter.parse(expression, name="InputFilter").apply(["a", "b", "c", "d"]) == expected


def test_a_filter_beyond_the_record_is_an_error() -> None:
    with pytest.raises(TransformJobError, match="column 5"):
        CsvFilter.parse("$[5]", name="OutputFilter").apply(["a"])


@pytest.mark.parametrize(
    ("prefix", "key", "expected"),
    [
        ("run/test/test.csv", "run/test/test.csv", "out/test.csv.out"),
        ("run/test/", "run/test/a/b.csv", "out/a/b.csv.out"),
        ("run/te", "run/test/b.csv", "out/test/b.csv.out"),
    ],
)
def test_output_keys_keep_the_path_below_the_prefix_folder(prefix: str, key: str, expected: str) -> None:
    assert output_key_for(prefix, key, "out/") == expected
