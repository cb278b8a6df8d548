"""The QualityCheck step (DATA_QUALITY) on a local store: the baseline job, its properties, the drift check flags."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from local_twin.images import is_model_monitor_analyzer
from local_twin.monitor import analyzer
from local_twin.pipeline_runner.definition import DefinitionError, parse_definition
from local_twin.pipeline_runner.runner import ExecutionResult, PipelineRunner
from local_twin.storage import LocalDirectoryStore

BUCKET = "qc-bucket"
ANALYZER = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
CHECK = "BaselineDataQuality"


def _rows(seed: int, scale: float = 1.0, count: int = 400) -> str:
    generator = random.Random(seed)
    lines = [
        ",".join([generator.choice("MFI"), *(f"{generator.uniform(0.1, 0.8) * scale:.4f}" for _ in range(3))])
        for _ in range(count)
    ]
    return "\n".join(lines) + "\n"


def _definition(**fields: Any) -> dict[str, Any]:
    """A QualityCheck step as the SageMaker SDK renders it (the project's settings), and a Fail step that reports two
    of its properties, so the run shows how they resolve."""
    check = {
        "Name": CHECK,
        "Type": "QualityCheck",
        "Arguments": {
            "ProcessingResources": {
                "ClusterConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}
            },
            "AppSpecification": {"ImageUri": ANALYZER},
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "ProcessingInputs": [
                {
                    "InputName": "baseline_dataset_input",
                    "AppManaged": False,
                    "S3Input": {
                        "S3Uri": {"Get": "Parameters.Data"},
                        "LocalPath": "/opt/ml/processing/input/baseline_dataset_input",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                        "S3DataDistributionType": "FullyReplicated",
                        "S3CompressionType": "None",
                    },
                }
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "quality_check_output",
                        "AppManaged": False,
                        "S3Output": {
                            "S3Uri": {
                                "Std:Join": {
                                    "On": "/",
                                    "Values": [f"s3://{BUCKET}/runs", {"Get": "Execution.PipelineExecutionId"}, CHECK],
                                }
                            },
                            "LocalPath": "/opt/ml/processing/output",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
            "Environment": {
                "dataset_format": '{"csv": {"header": false, "output_columns_position": "START"}}',
                "dataset_source": "/opt/ml/processing/input/baseline_dataset_input",
                "output_path": "/opt/ml/processing/output",
                "publish_cloudwatch_metrics": "Disabled",
            },
        },
        "CheckType": "DATA_QUALITY",
        "ModelPackageGroupName": None,
        "SkipCheck": True,
        "FailOnViolation": True,
        "RegisterNewBaseline": True,
        "SuppliedBaselineStatistics": {"Get": "Parameters.Statistics"},
        "SuppliedBaselineConstraints": {"Get": "Parameters.Constraints"},
        **fields,
    }
    report = {
        "Name": "ReportBaseline",
        "Type": "Fail",
        "Arguments": {
            "ErrorMessage": {
                "Std:Join": {
                    "On": " ",
                    "Values": [
                        {"Get": f"Steps.{CHECK}.CalculatedBaselineStatistics"},
                        {"Get": f"Steps.{CHECK}.BaselineUsedForDriftCheckConstraints"},
                    ],
                }
            }
        },
    }
    return {
        "Version": "2020-12-01",
        "Parameters": [
            {"Name": "Data", "Type": "String", "DefaultValue": f"s3://{BUCKET}/baseline"},
            {"Name": "Statistics", "Type": "String", "DefaultValue": ""},
            {"Name": "Constraints", "Type": "String", "DefaultValue": ""},
        ],
        "Steps": [check, report],
    }


@pytest.fixture
def store(tmp_path: Path) -> LocalDirectoryStore:
    local = LocalDirectoryStore(tmp_path / "store")
    local.put_bytes(f"s3://{BUCKET}/baseline/baseline.csv", _rows(1).encode())
    local.put_bytes(f"s3://{BUCKET}/drifted/data.csv", _rows(2, scale=1.7).encode())
    local.put_bytes(f"s3://{BUCKET}/similar/data.csv", _rows(3).encode())
    previous = analyzer.suggest_baseline(analyzer.read_csv(_rows(1), header=False))
    local.put_bytes(f"s3://{BUCKET}/previous/statistics.json", json.dumps(previous.statistics).encode())
    local.put_bytes(f"s3://{BUCKET}/previous/constraints.json", json.dumps(previous.constraints).encode())
    return local


def _run(
    definition: dict[str, Any], store: LocalDirectoryStore, sagemaker: Any, tmp_path: Path, **parameters: str
) -> ExecutionResult:
    runner = PipelineRunner(definition, store=store, sagemaker_client=sagemaker, workdir=tmp_path / "work")
    return runner.run(parameters)


def _check(result: ExecutionResult) -> Any:
    return next(r for r in result.steps if r.step_name == CHECK)


def test_a_skipped_check_calculates_the_baseline_and_its_properties_resolve(
    store: LocalDirectoryStore, offline_sagemaker: Any, tmp_path: Path
) -> None:
    result = _run(_definition(), store, offline_sagemaker, tmp_path)

    record = _check(result)
    output = f"s3://{BUCKET}/runs/{result.execution_arn.rsplit('/', 1)[1]}/{CHECK}"
    assert record.step_status == "Succeeded"
    assert result.failure_reason == f"{output}/statistics.json {output}/constraints.json"  # the Fail step's probe
    job_name = record.metadata["QualityCheck"]["CheckJobArn"].rsplit("/", 1)[1]
    assert record.metadata == {
        "QualityCheck": {
            "CheckType": "DATA_QUALITY",
            "CheckJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:processing-job/{job_name}",
            "SkipCheck": True,
            "RegisterNewBaseline": True,
            "CalculatedBaselineStatistics": f"{output}/statistics.json",
            "CalculatedBaselineConstraints": f"{output}/constraints.json",
            "BaselineUsedForDriftCheckStatistics": f"{output}/statistics.json",
            "BaselineUsedForDriftCheckConstraints": f"{output}/constraints.json",
        }
    }
    statistics = json.loads(store.get_bytes(f"{output}/statistics.json"))
    assert statistics["dataset"]["item_count"] == 400
    assert [f["inferred_type"] for f in statistics["features"]] == ["String", "Fractional", "Fractional", "Fractional"]
    assert json.loads(store.get_bytes(f"{output}/constraints.json"))["features"][0]["string_constraints"]["domains"]


def test_a_drift_check_against_a_supplied_baseline_fails_the_step_on_violations(
    store: LocalDirectoryStore, offline_sagemaker: Any, tmp_path: Path
) -> None:
    result = _run(
        _definition(SkipCheck=False),
        store,
        offline_sagemaker,
        tmp_path,
        Data=f"s3://{BUCKET}/drifted",
        Statistics=f"s3://{BUCKET}/previous/statistics.json",
        Constraints=f"s3://{BUCKET}/previous/constraints.json",
    )

    record = _check(result)
    assert record.step_status == "Failed"
    assert "the data quality check found 3 violation(s) of the baseline: _c1: baseline_drift_check" in (
        record.failure_reason or ""
    )
    assert "ReportBaseline" not in {r.step_name for r in result.steps}
    report = record.metadata["QualityCheck"]["ViolationReport"]
    assert {v["feature_name"] for v in json.loads(store.get_bytes(report))["violations"]} == {"_c1", "_c2", "_c3"}


def test_without_fail_on_violation_the_previous_baseline_is_carried_over(
    store: LocalDirectoryStore, offline_sagemaker: Any, tmp_path: Path
) -> None:
    result = _run(
        _definition(SkipCheck=False, FailOnViolation=False, RegisterNewBaseline=False),
        store,
        offline_sagemaker,
        tmp_path,
        Data=f"s3://{BUCKET}/drifted",
        Statistics=f"s3://{BUCKET}/previous/statistics.json",
        Constraints=f"s3://{BUCKET}/previous/constraints.json",
    )

    record = _check(result)
    assert record.step_status == "Succeeded"
    assert record.outputs["BaselineUsedForDriftCheckConstraints"] == f"s3://{BUCKET}/previous/constraints.json"
    assert record.outputs["Violations"] == 3
    assert result.failure_reason is not None
    assert result.failure_reason.endswith(f"s3://{BUCKET}/previous/constraints.json")


def test_similar_data_passes_the_drift_check(
    store: LocalDirectoryStore, offline_sagemaker: Any, tmp_path: Path
) -> None:
    result = _run(
        _definition(SkipCheck=False),
        store,
        offline_sagemaker,
        tmp_path,
        Data=f"s3://{BUCKET}/similar",
        Statistics=f"s3://{BUCKET}/previous/statistics.json",
        Constraints=f"s3://{BUCKET}/previous/constraints.json",
    )

    record = _check(result)
    assert record.step_status == "Succeeded"
    assert json.loads(store.get_bytes(record.metadata["QualityCheck"]["ViolationReport"])) == {"violations": []}


def test_a_check_without_a_previous_baseline_fails_and_names_what_is_missing(
    store: LocalDirectoryStore, offline_sagemaker: Any, tmp_path: Path
) -> None:
    result = _run(_definition(SkipCheck=False), store, offline_sagemaker, tmp_path)

    record = _check(result)
    assert record.step_status == "Failed"
    assert "SkipCheck is false but there is no previous baseline" in (record.failure_reason or "")
    assert set(record.metadata["QualityCheck"]) >= {"CheckType", "CheckJobArn", "SkipCheck"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"CheckType": "MODEL_QUALITY"}, "CheckType 'MODEL_QUALITY' is not run locally"),
        (
            {"Arguments": {"AppSpecification": {"ImageUri": "1.dkr.ecr.us-east-1.amazonaws.com/x:1"}}},
            "runs the Model Monitor analyzer image",
        ),
    ],
)
def test_what_does_not_run_locally_is_refused_before_anything_runs(change: dict[str, Any], message: str) -> None:
    definition = _definition()
    check = definition["Steps"][0]
    for key, value in change.items():
        if key == "Arguments":
            check["Arguments"].update(value)
        else:
            check[key] = value

    with pytest.raises(DefinitionError, match=message):
        parse_definition(definition)


def test_a_property_a_quality_check_does_not_have_is_refused() -> None:
    definition = _definition()
    definition["Steps"][1]["Arguments"]["ErrorMessage"] = {"Get": f"Steps.{CHECK}.ProcessingJobArn"}

    with pytest.raises(DefinitionError, match="a QualityCheck step has only the properties"):
        parse_definition(definition)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (ANALYZER, True),
        (f"{ANALYZER}:latest", True),
        ("453000072557.dkr.ecr.cn-north-1.amazonaws.com.cn/sagemaker-model-monitor-analyzer", True),
        ("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5", False),
        ("{{ModelMonitorImageUri}}", False),
    ],
)
def test_the_analyzer_image_is_recognised_in_any_region_with_or_without_tag(uri: str, expected: bool) -> None:
    assert is_model_monitor_analyzer(uri) is expected
