"""`make local` end to end: the same template, ASL, handlers and pipeline definition as in AWS, on the emulator.

Each flow runs once per session (tests/e2e/conftest.py) and several tests read what it produced.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Run, local_run


def outcome(execution: dict[str, Any]) -> str:
    """What the execution's Finish state concluded (Deployed, AwaitingApproval, Transformed...)."""
    return str(execution["output"]["Finish"]["Outcome"])


# --- endpoint -------------------------------------------------------------------------------------------------------
def test_endpoint_run_succeeds_through_every_stage(endpoint_run: Run) -> None:
    assert endpoint_run.code == 0, endpoint_run.summary.get("failure_reason")
    assert endpoint_run.summary["status"] == "succeeded"
    stages = [(stage["name"], stage["status"]) for stage in endpoint_run.summary["stages"]]
    assert stages == [
        (name, "succeeded")
        for name in ("emulator", "provision", "upsert", "train", "approve", "deploy", "serve", "monitor")
    ]
    assert "make local: summary" in endpoint_run.console


def test_training_waits_for_approval_and_the_approval_deploys_through_the_rule(endpoint_run: Run) -> None:
    train, deploy = endpoint_run.execution("train"), endpoint_run.execution("deploy")

    assert train["status"] == "SUCCEEDED" and outcome(train) == "AwaitingApproval"
    assert "StartPipelineExecution" in train["states"] and "CheckPipeline" in train["states"]
    assert endpoint_run.summary["approval_event_matched_rule"] is True
    assert endpoint_run.summary["approval_status"] == "Approved"
    assert deploy["status"] == "SUCCEEDED" and outcome(deploy) == "Deployed"
    assert "CreateEndpoint" in deploy["states"] and "CreateTransformJob" not in deploy["states"]


def test_the_pipeline_ran_every_step_for_real(endpoint_run: Run) -> None:
    steps = {step["name"]: step["status"] for step in endpoint_run.summary["pipeline_steps"]}

    assert steps == {
        "PreprocessAbaloneData": "Succeeded",
        "BaselineDataQuality": "Succeeded",
        "TrainAbaloneModel": "Succeeded",
        "CreateServingModel-CreateModel": "Succeeded",
        "ScoreTestSplit": "Succeeded",
        "EvaluateAbaloneModel": "Succeeded",
        "CheckMseThreshold": "Succeeded",
        "RegisterAbaloneModel-RegisterModel": "Succeeded",
    }
    assert endpoint_run.summary["pipeline_status"] == "Succeeded"


def test_the_summary_mse_is_the_evaluation_reports(endpoint_run: Run) -> None:
    report = json.loads((endpoint_run.output_dir / "evaluation.json").read_text())

    assert endpoint_run.summary["test_mse"] == report["regression_metrics"]["mse"]["value"]
    assert endpoint_run.summary["evaluation_report"].endswith("/evaluation.json")


def test_the_endpoint_reproduces_the_evaluation_on_the_raw_test_records(endpoint_run: Run) -> None:
    # The 627 raw records in one request to the endpoint give the MSE the pipeline's Transform step measured:
    # training, the serving check and the endpoint encode records with one implementation.
    assert endpoint_run.summary["predictions_count"] == 627
    assert endpoint_run.summary["predictions_mse"] == pytest.approx(endpoint_run.summary["test_mse"], rel=1e-9)


def test_a_raw_record_and_its_prediction_are_shown(endpoint_run: Run) -> None:
    record = endpoint_run.summary["sample_record"]
    answer = json.loads(endpoint_run.summary["sample_prediction"])

    assert record == ",".join(endpoint_run.test_rows()[0][1:])  # sex,length,...: what a user holds
    assert record.split(",")[0] in {"M", "F", "I"}
    (prediction,) = answer["predictions"]
    assert 1 < prediction["rings"] < 30
    assert record in endpoint_run.console and "its prediction" in endpoint_run.console


def test_every_endpoint_prediction_maps_to_a_test_row(endpoint_run: Run) -> None:
    predictions = (endpoint_run.output_dir / "predictions.csv").read_text().splitlines()

    assert len(predictions) == len(endpoint_run.test_rows()) == endpoint_run.summary["predictions_count"] > 0
    assert all(math.isfinite(float(value)) for value in predictions)
    assert endpoint_run.summary["endpoint_url"].startswith("http://127.0.0.1:")


# --- batch ----------------------------------------------------------------------------------------------------------
def test_batch_run_succeeds_and_deploys_no_endpoint(batch_run: Run) -> None:
    assert batch_run.code == 0, batch_run.summary.get("failure_reason")
    deploy = batch_run.execution("deploy")
    assert deploy["status"] == "SUCCEEDED" and outcome(deploy) == "Transformed"
    assert "CreateEndpoint" not in deploy["states"]
    assert batch_run.summary["endpoint_url"] is None
    assert [stage["name"] for stage in batch_run.summary["stages"]][-1] == "transform"


def test_every_batch_output_row_is_a_test_row_joined_with_its_prediction(batch_run: Run) -> None:
    outputs = batch_run.summary["transform_output"]
    assert len(outputs) == 1 and outputs[0].endswith(".csv.out")
    rows = (batch_run.output_dir / "transform" / outputs[0].rsplit("/", 1)[-1]).read_text().splitlines()

    test_rows = batch_run.test_rows()
    assert len(rows) == len(test_rows) == batch_run.summary["predictions_count"]
    for output, test_row in zip(rows, test_rows, strict=True):
        *record, prediction = output.split(",")
        assert record == test_row[1:]  # JoinSource=Input: the raw input record (the test row without its label)
        assert math.isfinite(float(prediction))
    assert batch_run.summary["predictions_mse"] == pytest.approx(batch_run.summary["test_mse"], rel=1e-9)


# --- no approval, bad data ------------------------------------------------------------------------------------------
def test_no_approve_stops_at_awaiting_approval_and_deploys_nothing(tmp_path: Path, data: Path) -> None:
    run = local_run(tmp_path, data, "--no-approve")

    assert run.code == 0, run.summary.get("failure_reason")
    assert run.summary["approval_status"] == "PendingManualApproval"
    assert [execution["mode"] for execution in run.summary["executions"]] == ["train"]
    assert outcome(run.execution("train")) == "AwaitingApproval"
    assert {stage["name"]: stage["status"] for stage in run.summary["stages"]}["approve"] == "skipped"
    assert run.summary["endpoint_url"] is None and run.summary["transform_output"] == []
    assert run.summary["test_mse"] is not None


def test_corrupt_data_fails_at_preprocessing_with_a_clear_message_and_deploys_nothing(
    tmp_path: Path, data: Path
) -> None:
    lines = data.read_text().splitlines()
    lines[9] = lines[9].replace(lines[9].split(",")[2], "not-a-number", 1)
    corrupt = tmp_path / "corrupt.csv"
    corrupt.write_text("\n".join(lines) + "\n")

    run = local_run(tmp_path / "out", corrupt)

    assert run.code == 1
    assert run.summary["failed_stage"] == "train"
    reason = run.summary["failure_reason"]
    assert "PreprocessAbaloneData" in reason and "not-a-number" in reason and str(corrupt) in reason
    assert [step["status"] for step in run.summary["pipeline_steps"]] == ["Failed"]
    assert [execution["mode"] for execution in run.summary["executions"]] == ["train"]
    assert run.execution("train")["status"] == "FAILED"
    assert run.summary["model_package_arn"] is None and run.summary["endpoint_url"] is None
    assert "FAILED at train" in run.console


def test_an_unknown_pipeline_parameter_is_named_before_training(tmp_path: Path, data: Path) -> None:
    run = local_run(tmp_path, data, "--param", "MseTreshold=7")

    assert run.code == 1
    assert run.summary["failed_stage"] == "upsert"
    assert "MseTreshold" in run.summary["failure_reason"] and "MseThreshold" in run.summary["failure_reason"]
    assert run.summary["executions"] == []


def test_a_package_registered_approved_is_deployed_by_its_registry_event(tmp_path: Path, data: Path) -> None:
    run = local_run(tmp_path, data, "--target", "batch", "--param", "ModelApprovalStatus=Approved")

    assert run.code == 0, run.summary.get("failure_reason")
    assert outcome(run.execution("train")) == "RegisteredApproved"
    assert run.summary["approval_event_matched_rule"] is True  # no reviewer: SageMaker's event for the new package
    assert outcome(run.execution("deploy")) == "Transformed"
    assert run.summary["predictions_count"] == len(run.test_rows())


# --- monitoring -----------------------------------------------------------------------------------------------------
def test_without_drift_the_monitor_finds_no_violation_and_the_alarm_stays_ok(endpoint_run: Run) -> None:
    drift = endpoint_run.summary["drift"]
    assert endpoint_run.summary["violations"] == []
    assert drift["execution_status"] == "Completed"
    assert drift["rows_analyzed"] == drift["records_sent"] == len(endpoint_run.test_rows())
    assert drift["alarm_state"] == "OK" and drift["notification"] is None
    assert json.loads((endpoint_run.output_dir / "constraint_violations.json").read_text()) == {"violations": []}


def test_drift_names_the_violated_features_and_the_alarm_notifies(drift_run: Run) -> None:
    assert drift_run.code == 0, drift_run.summary.get("failure_reason")
    drift = drift_run.summary["drift"]
    measurements = ["_c1", "_c2", "_c3", "_c4", "_c5", "_c6", "_c7"]  # header-less CSV: Model Monitor's names
    assert drift_run.summary["violations"] == measurements
    assert drift["execution_status"] == "CompletedWithViolations"
    assert {v["constraint_check_type"] for v in drift["constraint_violations"]} == {"baseline_drift_check"}
    assert drift["alarm_state"] == "ALARM"
    assert drift["notification"] == 'ALARM: "abalone-mlops-data-drift" in US East (N. Virginia)'
    assert "violated: " + ", ".join(measurements) in drift_run.stage("monitor")["detail"]


# --- three accounts -------------------------------------------------------------------------------------------------
def test_three_account_run_trains_in_the_registry_and_serves_the_promoted_version_in_production(
    three_account_run: Run,
) -> None:
    summary = three_account_run.summary
    assert three_account_run.code == 0, summary.get("failure_reason")
    stages = [(stage["name"], stage["status"]) for stage in summary["stages"]]
    assert stages == [
        (name, "succeeded")
        for name in ("emulator", "provision", "upsert", "train", "approve", "staging", "promote", "production", "serve")
    ]
    accounts = summary["accounts"]
    assert {role: accounts[role]["account_id"] for role in accounts} == {
        "registry": "123456789012",
        "staging": "210987654321",
        "production": "345678901234",
    }
    version = summary["model_package_version"]
    for role in ("staging", "production"):
        assert accounts[role]["served_version"] == version, role
        assert accounts[role]["served_package"] == summary["model_package_arn"], role  # the registry's package
        assert (accounts[role]["deploy_execution_status"], accounts[role]["deploy_outcome"]) == (
            "SUCCEEDED",
            "Deployed",
        )
    assert accounts["staging"]["verification"]["staging-verification"] == "verified"
    assert accounts["staging"]["verification"]["staging-endpoint"] == "210987654321/abalone-mlops-endpoint"
    # production serves the model exactly as the pipeline evaluated it
    assert summary["predictions_mse"] == pytest.approx(summary["test_mse"], rel=1e-9)
    assert summary["predictions_count"] == len(three_account_run.test_rows())


def test_three_account_run_deploys_only_through_the_forwarded_events(three_account_run: Run) -> None:
    modes = [execution["mode"] for execution in three_account_run.summary["executions"]]
    assert modes == ["train", "staging deploy", "production deploy"]
    assert outcome(three_account_run.execution("staging deploy")) == "Deployed"
    assert "Verify" in three_account_run.execution("staging deploy")["states"]
    assert outcome(three_account_run.execution("production deploy")) == "Deployed"
