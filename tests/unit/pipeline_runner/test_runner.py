"""The runner on the small fixture pipeline, with real subprocesses and a local directory store.

These runs take the else branch or fail early, so no SageMaker API call is made (the if branch, which registers a
model through the API, is tested against moto in tests/integration/pipeline_runner).
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from local_twin.pipeline_runner.definition import DefinitionError
from local_twin.pipeline_runner.runner import PipelineRunner, StepRecord
from local_twin.storage import LocalDirectoryStore

from .helpers import BUCKET, seed_store


def _runner(definition: dict[str, Any], store: LocalDirectoryStore, sagemaker: Any, tmp_path: Path) -> PipelineRunner:
    return PipelineRunner(definition, store=store, sagemaker_client=sagemaker, workdir=tmp_path / "work")


def test_threshold_below_the_mse_takes_the_else_branch_and_fails_with_the_message(
    definition: dict[str, Any], store: LocalDirectoryStore, offline_sagemaker: Any, tmp_path: Path
) -> None:
    seen: list[tuple[str, str]] = []

    result = _runner(definition, store, offline_sagemaker, tmp_path).run(
        {"MseThreshold": "0.000001"}, on_step=lambda r: seen.append((r.step_name, r.step_status))
    )

    mse = result.property_files["Evaluate.EvaluationReport"]["regression_metrics"]["mse"]["value"]
    statuses = {r.step_name: r.step_status for r in result.steps}
    assert result.status == "Failed"
    assert statuses == {
        "Prep": "Succeeded",
        "Train": "Succeeded",
        "Evaluate": "Succeeded",
        "CheckMse": "Succeeded",
        "MseTooHigh": "Failed",
    }
    fail = next(r for r in result.steps if r.step_name == "MseTooHigh")
    assert result.failure_reason == fail.failure_reason == f"MSE {mse} is above the threshold 1e-06"
    assert fail.to_api()["Metadata"] == {"Fail": {"ErrorMessage": fail.failure_reason}}
    condition = next(r for r in result.steps if r.step_name == "CheckMse")
    assert condition.to_api()["Metadata"] == {"Condition": {"Outcome": "False"}}
    assert result.model_package_arn is None
    assert seen[:2] == [("Prep", "Executing"), ("Prep", "Succeeded")]
    assert ("MseTooHigh", "Failed") in seen


def test_steps_start_only_after_their_upstream_steps_end(
    definition: dict[str, Any], store: LocalDirectoryStore, offline_sagemaker: Any, tmp_path: Path
) -> None:
    runner = _runner(definition, store, offline_sagemaker, tmp_path)

    result = runner.run({"MseThreshold": "0.000001"})

    records = {r.step_name: r for r in result.steps}
    for name, record in records.items():
        for parent in runner.definition.upstream[name]:
            end = records[parent].end_time
            assert end is not None and end <= record.start_time, (parent, name)


def test_a_script_that_raises_fails_its_step_with_the_stderr_tail_and_stops(
    definition: dict[str, Any], store: LocalDirectoryStore, offline_sagemaker: Any, tmp_path: Path
) -> None:
    result = _runner(definition, store, offline_sagemaker, tmp_path).run({"PrepFail": "yes"})

    assert result.status == "Failed"
    assert [(r.step_name, r.step_status) for r in result.steps] == [("Prep", "Failed")]
    reason = result.steps[0].failure_reason or ""
    assert "prep.py exited with code 1" in reason
    assert "RuntimeError: prep was told to fail" in reason
    assert 'File "/opt/ml/processing/input/code/prep.py"' in reason  # local paths shown as container paths
    assert "hint" not in reason
    assert result.failure_reason == f"Step failure: Prep failed: {reason}"
    assert result.steps[0].to_api()["FailureReason"] == reason
    job_arn = result.steps[0].to_api()["Metadata"]["ProcessingJob"]["Arn"]
    assert job_arn.startswith("arn:aws:sagemaker:us-east-1:123456789012:processing-job/pipelines-")


def test_training_gets_the_toolkit_contract(
    definition: dict[str, Any], store: LocalDirectoryStore, offline_sagemaker: Any, tmp_path: Path
) -> None:
    result = _runner(definition, store, offline_sagemaker, tmp_path).run({"MseThreshold": "0", "TrainRounds": "3"})

    train = next(r for r in result.steps if r.step_name == "Train")
    model_uri = train.outputs["S3ModelArtifacts"]
    job = model_uri.split("/")[-3]
    assert model_uri == f"s3://{BUCKET}/models/{job}/output/model.tar.gz"
    assert train.metadata == {
        "TrainingJob": {"Arn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{job.lower()}"}
    }
    assert train.outputs["FinalMetrics"] == {"rounds": 3.0}
    with tarfile.open(fileobj=io.BytesIO(store.get_bytes(model_uri))) as archive:
        assert archive.getnames() == ["xgboost-model"]
    with tarfile.open(fileobj=io.BytesIO(store.get_bytes(train.outputs["OutputDataTarGz"]))) as archive:
        member = archive.extractfile("hps.json")
        assert member is not None
        assert json.loads(member.read()) == {"num_round": 3, "objective": "reg:squarederror"}


def test_training_code_can_also_come_straight_from_s3(
    definition: dict[str, Any], store: LocalDirectoryStore, offline_sagemaker: Any, tmp_path: Path
) -> None:
    train = definition["Steps"][1]["Arguments"]
    train["InputDataConfig"] = [c for c in train["InputDataConfig"] if c["ChannelName"] != "code"]
    train["HyperParameters"]["sagemaker_submit_directory"] = json.dumps(f"s3://{BUCKET}/code/sourcedir.tar.gz")

    result = _runner(definition, store, offline_sagemaker, tmp_path).run({"MseThreshold": "0"})

    assert [r.step_status for r in result.steps][:3] == ["Succeeded"] * 3


def test_a_broken_training_script_fails_training_and_nothing_after_it(
    definition: dict[str, Any], offline_sagemaker: Any, tmp_path: Path
) -> None:
    store = LocalDirectoryStore(tmp_path / "store")
    seed_store(store, train_code=b"import sys\nprint('bad data', file=sys.stderr)\nsys.exit(3)\n")

    result = _runner(definition, store, offline_sagemaker, tmp_path).run()

    assert [(r.step_name, r.step_status) for r in result.steps] == [("Prep", "Succeeded"), ("Train", "Failed")]
    assert "train.py exited with code 3: bad data" in (result.steps[1].failure_reason or "")


def test_missing_input_data_fails_the_step_naming_the_uri(
    definition: dict[str, Any], store: LocalDirectoryStore, offline_sagemaker: Any, tmp_path: Path
) -> None:
    result = _runner(definition, store, offline_sagemaker, tmp_path).run({"InputDataUrl": f"s3://{BUCKET}/nope.csv"})

    assert result.steps[0].failure_reason == f"step 'Prep': input: no objects at s3://{BUCKET}/nope.csv"


def test_bad_parameters_are_rejected_before_anything_runs(
    definition: dict[str, Any], store: LocalDirectoryStore, offline_sagemaker: Any, tmp_path: Path
) -> None:
    seen: list[StepRecord] = []
    runner = _runner(definition, store, offline_sagemaker, tmp_path)

    with pytest.raises(DefinitionError, match=r"unknown pipeline parameter\(s\): Threshold"):
        runner.run({"Threshold": "1"}, on_step=seen.append)

    assert seen == []
    assert not (tmp_path / "work").exists()


def test_an_unsupported_step_type_is_rejected_at_construction(
    definition: dict[str, Any], store: LocalDirectoryStore, offline_sagemaker: Any, tmp_path: Path
) -> None:
    definition["Steps"].insert(0, {"Name": "Clarify", "Type": "ClarifyCheck", "Arguments": {}})

    with pytest.raises(DefinitionError, match=r"step 'Clarify': step type 'ClarifyCheck' is not supported locally"):
        _runner(definition, store, offline_sagemaker, tmp_path)
    assert not (tmp_path / "work").exists()


def test_a_multi_instance_job_is_refused_rather_than_run_once(
    definition: dict[str, Any], store: LocalDirectoryStore, offline_sagemaker: Any, tmp_path: Path
) -> None:
    definition["Steps"][0]["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 2

    result = _runner(definition, store, offline_sagemaker, tmp_path).run()

    assert result.steps[0].failure_reason == "step 'Prep': InstanceCount 2 is not supported locally (one instance only)"


def test_an_unexpected_error_in_a_step_is_recorded_as_its_failure(
    definition: dict[str, Any], store: LocalDirectoryStore, offline_sagemaker: Any, tmp_path: Path
) -> None:
    del definition["Steps"][1]["Arguments"]["OutputDataConfig"]

    result = _runner(definition, store, offline_sagemaker, tmp_path).run()

    assert result.status == "Failed"
    assert [(r.step_name, r.step_status) for r in result.steps] == [("Prep", "Succeeded"), ("Train", "Failed")]
    assert result.steps[1].failure_reason == "step 'Train': KeyError: 'OutputDataConfig'"


def test_a_container_path_the_runner_never_saw_gets_a_hint(
    definition: dict[str, Any], offline_sagemaker: Any, tmp_path: Path
) -> None:
    store = LocalDirectoryStore(tmp_path / "store")
    seed_store(store, train_code=b"open('/opt/ml/input/data/elsewhere/train.csv')\n")

    result = _runner(definition, store, offline_sagemaker, tmp_path).run()

    reason = result.steps[1].failure_reason or ""
    assert "No such file or directory: '/opt/ml/input/data/elsewhere/train.csv'" in reason
    assert reason.endswith("[hint: pass every /opt/ml/... path as a container argument so it is mapped locally]")
