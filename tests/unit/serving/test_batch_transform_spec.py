"""A transform job description is read as SageMaker reads it, and every option the local run lacks is named."""

from __future__ import annotations

from typing import Any

import pytest

from local_twin.serving.batch_transform import CsvFilter, TransformJobError, TransformSpec, output_key_for


def job(**overrides: Any) -> dict[str, Any]:
    """A DescribeTransformJob answer shaped like the deploy state machine's CreateTransformJob."""
    description: dict[str, Any] = {
        "TransformJobName": "abalone-transform-1",
        "ModelName": "abalone-model-1",
        "BatchStrategy": "MultiRecord",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/in/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": "s3://bucket/out", "AssembleWith": "Line", "Accept": "text/csv"},
        "DataProcessing": {"JoinSource": "Input"},
    }
    description.update(overrides)
    return description


def test_the_deploy_machines_job_is_accepted() -> None:
    spec = TransformSpec.from_description(job())

    assert (spec.split_type, spec.batch_strategy, spec.join_input, spec.max_payload_mb) == (
        "Line",
        "MultiRecord",
        True,
        6,
    )


@pytest.mark.parametrize(
    ("section", "option", "value"),
    [
        ("TransformInput", "SplitType", "RecordIO"),
        ("TransformInput", "SplitType", "TFRecord"),
        ("TransformInput", "CompressionType", "Zip"),
        ("TransformInput", "ContentType", "application/x-recordio-protobuf"),
        ("TransformOutput", "Accept", "application/json"),
        ("TransformOutput", "AssembleWith", "Something"),
        ("DataProcessing", "JoinSource", "Output"),
    ],
)
def test_an_unsupported_option_is_refused_naming_it(section: str, option: str, value: str) -> None:
    description = job()
    description[section] = {**description[section], option: value}

    with pytest.raises(TransformJobError, match=f"abalone-transform-1: {option}='{value}' is not supported locally"):
        TransformSpec.from_description(description)


def test_a_manifest_input_is_refused_naming_it() -> None:
    description = job()
    description["TransformInput"]["DataSource"]["S3DataSource"]["S3DataType"] = "ManifestFile"

    with pytest.raises(TransformJobError, match="S3DataType='ManifestFile'"):
        TransformSpec.from_description(description)


@pytest.mark.parametrize(
    ("prefix", "key", "out"),
    [
        ("in/", "in/part-1.csv", "out/part-1.csv.out"),
        ("in/test.csv", "in/test.csv", "out/test.csv.out"),
        ("in/", "in/day=1/part.csv", "out/day=1/part.csv.out"),
    ],
)
def test_output_keys_are_the_input_key_below_the_prefix_plus_out(prefix: str, key: str, out: str) -> None:
    assert output_key_for(prefix, key, "out") == out


@pytest.mark.parametrize(
    ("expression", "selected"),
    [("$", ["a", "b", "c", "d"]), ("$[1:]", ["b", "c", "d"]), ("$[0,-1]", ["a", "d"]), ("$[0,2:]", ["a", "c", "d"])],
)
def test_csv_filters_select_columns(expression: str, selected: list[str]) -> None:
    assert CsvFilter.parse(expression, name="InputFilter").apply(["a", "b", "c", "d"]) == selected


def test_a_json_filter_is_refused_naming_it() -> None:
    with pytest.raises(TransformJobError, match=r"InputFilter '\$\.features'"):
        CsvFilter.parse("$.features", name="InputFilter")
