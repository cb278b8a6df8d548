"""The real rendered definition (build/pipeline-definition.json) on data/abalone.csv, prepared exactly as the CLI
and the upsert Lambda prepare it: tokens filled by mlops_shared.deploy_tokens, code uploaded from
mlops_shared.code_assets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost as xgb

from local_twin.pipeline_runner import cli
from local_twin.pipeline_runner.definition import DefinitionError
from local_twin.pipeline_runner.runner import ExecutionResult, PipelineRunner
from ml_code import abalone_features, evaluate, preprocess, train
from mlops_shared.pipeline_names import (
    BASELINE_STEP,
    CONDITION_STEP,
    DATA_KEY,
    EVALUATE_STEP,
    EVALUATION_REPORT,
    FAIL_STEP,
    PREPROCESS_STEP,
    REGISTER_STEP,
    SERVING_ENVIRONMENT,
    SERVING_MODEL_STEP,
    TRAIN_STEP,
    TRANSFORM_STEP,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
BUILD = REPO_ROOT / "build"
BUCKET = "integration-artifacts"
GROUP = "abalone-integration"


@pytest.fixture(scope="module")
def definition_text() -> str:
    path = BUILD / "pipeline-definition.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `make definition` (make test does it first)")
    return path.read_text()


@pytest.fixture
def harness(
    definition_text: str, abalone_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[PipelineRunner, Any]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with cli.in_process_aws("us-east-1", BUCKET) as (sagemaker, store):
        values = cli.local_deploy_values("us-east-1", BUILD / "image-uris.json", BUCKET, GROUP)
        filled = cli.prepare_definition(definition_text, values, store)
        store.put_bytes(f"s3://{BUCKET}/{DATA_KEY}", abalone_csv.read_bytes())
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        runner = PipelineRunner(filled, store=store, sagemaker_client=sagemaker, workdir=tmp_path / "work")
        yield runner, sagemaker


def _statuses(result: ExecutionResult) -> dict[str, str]:
    return {record.step_name: record.step_status for record in result.steps}


def _ml_code_test_mse(abalone_csv: Path, tmp_path: Path) -> float:
    """The test MSE of ml_code's own scripts run directly (no pipeline) with their default settings, the booster
    scored on the encoded test records in this process: what the served model must reproduce exactly."""
    data, splits, model = (tmp_path / "direct" / name for name in ("input", "splits", "model"))
    data.mkdir(parents=True)
    (data / abalone_csv.name).write_bytes(abalone_csv.read_bytes())
    assert preprocess.main(["--input-dir", str(data), "--output-dir", str(splits)]) == 0
    train_args = ["--train", str(splits / "train"), "--validation", str(splits / "validation"), "--model-dir"]
    assert train.main([*train_args, str(model)]) == 0
    test = train.load_channel(splits / "test")
    booster = xgb.Booster()
    booster.load_model(str(model / "xgboost-model"))
    encoded = abalone_features.FeatureEncoder.load(model).encode(test.records)
    predictions = [float(repr(float(p))) for p in booster.predict(xgb.DMatrix(encoded))]
    return float(evaluate.regression_report(test.labels, np.asarray(predictions))["regression_metrics"]["mse"]["value"])


def test_default_run_succeeds_and_registers_the_model_with_the_measured_metrics(
    harness: tuple[PipelineRunner, Any], abalone_csv: Path, tmp_path: Path
) -> None:
    runner, sagemaker = harness

    result = runner.run()

    assert result.status == "Succeeded", result.failure_reason
    assert _statuses(result) == {
        PREPROCESS_STEP: "Succeeded",
        BASELINE_STEP: "Succeeded",
        TRAIN_STEP: "Succeeded",
        SERVING_MODEL_STEP: "Succeeded",
        TRANSFORM_STEP: "Succeeded",
        EVALUATE_STEP: "Succeeded",
        CONDITION_STEP: "Succeeded",
        REGISTER_STEP: "Succeeded",
    }
    report = result.property_files[f"{EVALUATE_STEP}.{EVALUATION_REPORT}"]
    mse = report["regression_metrics"]["mse"]["value"]
    assert mse == pytest.approx(_ml_code_test_mse(abalone_csv, tmp_path), rel=1e-9)
    assert mse <= 6.0
    package = sagemaker.describe_model_package(ModelPackageName=result.model_package_arn)
    assert package["ModelPackageGroupName"] == GROUP
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    train_record = next(r for r in result.steps if r.step_name == TRAIN_STEP)
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == train_record.outputs["S3ModelArtifacts"]
    assert container["Image"].endswith("/sagemaker-xgboost:3.0-5")
    assert container["Environment"] == SERVING_ENVIRONMENT
    # the registered definition is the one the Transform step scored
    model_record = next(r for r in result.steps if r.step_name == SERVING_MODEL_STEP)
    served = sagemaker.describe_model(ModelName=model_record.outputs["ModelName"])["PrimaryContainer"]
    assert {k: served[k] for k in ("Image", "ModelDataUrl", "Environment")} == {
        k: container[k] for k in ("Image", "ModelDataUrl", "Environment")
    }
    metrics_uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    assert json.loads(runner.store.get_bytes(metrics_uri)) == report
    _assert_registered_baseline(runner, result, package)


def _assert_registered_baseline(runner: PipelineRunner, result: ExecutionResult, package: dict[str, Any]) -> None:
    """The QualityCheck step's baseline of the train records (without label) is the package's data-quality metrics
    and drift-check baseline: the analyzer's files, one feature per raw column, sex a String of the three sexes."""
    baseline = next(r for r in result.steps if r.step_name == BASELINE_STEP)
    statistics_uri = baseline.outputs["CalculatedBaselineStatistics"]
    constraints_uri = baseline.outputs["CalculatedBaselineConstraints"]
    assert baseline.metadata["QualityCheck"]["CheckType"] == "DATA_QUALITY"
    assert baseline.outputs["BaselineUsedForDriftCheckStatistics"] == statistics_uri  # RegisterNewBaseline
    for section in ("ModelMetrics", "DriftCheckBaselines"):
        quality = package[section]["ModelDataQuality"]
        assert quality["Statistics"] == {"ContentType": "application/json", "S3Uri": statistics_uri}
        assert quality["Constraints"] == {"ContentType": "application/json", "S3Uri": constraints_uri}
    statistics = json.loads(runner.store.get_bytes(statistics_uri))
    constraints = json.loads(runner.store.get_bytes(constraints_uri))
    train = next(r for r in result.steps if r.step_name == TRAIN_STEP)
    assert train.step_status == "Succeeded"
    features = {f["name"]: f["inferred_type"] for f in statistics["features"]}
    assert features == {"_c0": "String", **{f"_c{i}": "Fractional" for i in range(1, 8)}}
    assert statistics["dataset"]["item_count"] > 2000
    sexes = {
        b["value"] for b in statistics["features"][0]["string_statistics"]["distribution"]["categorical"]["buckets"]
    }
    assert sexes == {"F", "I", "M"}
    assert constraints["features"][0]["string_constraints"]["domains"] and constraints["monitoring_config"][
        "distribution_constraints"
    ] == {"perform_comparison": "Enabled", "comparison_threshold": 0.1, "comparison_method": "Robust"}


def test_a_threshold_below_the_mse_fails_the_execution_through_the_fail_step(
    harness: tuple[PipelineRunner, Any],
) -> None:
    runner, _ = harness

    result = runner.run({"MseThreshold": "0.1"})

    mse = result.property_files[f"{EVALUATE_STEP}.{EVALUATION_REPORT}"]["regression_metrics"]["mse"]["value"]
    assert result.status == "Failed"
    assert _statuses(result)[FAIL_STEP] == "Failed"
    assert REGISTER_STEP not in _statuses(result)
    assert result.failure_reason == f"Model test MSE {mse} is above the threshold 0.1"
    assert result.model_package_arn is None


def test_malformed_data_fails_preprocessing_with_the_scripts_message_and_nothing_after_it(
    harness: tuple[PipelineRunner, Any], abalone_csv: Path
) -> None:
    runner, _ = harness
    rows = abalone_csv.read_text().splitlines()
    rows[2] = rows[2].rsplit(",", 1)[0]  # the third row loses its label column
    runner.store.put_bytes(f"s3://{BUCKET}/bad/abalone.csv", ("\n".join(rows) + "\n").encode())

    result = runner.run({"InputDataUrl": f"s3://{BUCKET}/bad/abalone.csv"})

    assert _statuses(result) == {PREPROCESS_STEP: "Failed"}
    reason = result.steps[0].failure_reason or ""
    assert "preprocess.py exited with code 1" in reason
    assert "abalone.csv: row 3 has 8 columns, expected 9" in reason
    assert result.failure_reason == f"Step failure: {PREPROCESS_STEP} failed: {reason}"


def test_an_unknown_parameter_is_rejected_before_anything_runs(harness: tuple[PipelineRunner, Any]) -> None:
    runner, _ = harness

    with pytest.raises(DefinitionError, match=r"unknown pipeline parameter\(s\): MseLimit"):
        runner.run({"MseLimit": "5"})

    assert not runner.workdir.exists()


def test_the_cli_honours_an_approval_override_and_writes_the_execution_record(
    definition_text: str, abalone_csv: Path, tmp_path: Path
) -> None:
    output = tmp_path / "execution.json"
    arguments = [
        "--definition",
        str(BUILD / "pipeline-definition.json"),
        "--image-uris",
        str(BUILD / "image-uris.json"),
    ]
    arguments += ["--store-dir", str(tmp_path / "store"), "--workdir", str(tmp_path / "work"), "--output", str(output)]
    arguments += ["--upload", f"{abalone_csv}=s3://pipeline-local-artifacts/{DATA_KEY}"]
    arguments += ["--param", "ModelApprovalStatus=Approved"]

    assert cli.main(arguments) == 0

    record = json.loads(output.read_text())
    assert record["status"] == "Succeeded"
    assert [step["step_status"] for step in record["steps"]] == ["Succeeded"] * 8
    assert (tmp_path / "store" / "pipeline-local-artifacts" / DATA_KEY).is_file()  # the bucket, copied
    assert all(step["start_time"] and step["end_time"] for step in record["steps"])
    assert record["evaluation"][f"{EVALUATE_STEP}.{EVALUATION_REPORT}"]["regression_metrics"]["mse"]["value"] > 0
    package = record["registered_model_package"]
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ModelDataUrl"].endswith("/output/model.tar.gz")
    assert record["parameters"]["ModelApprovalStatus"] == "Approved"
