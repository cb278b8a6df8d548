"""The train state machine (train.asl.json) executed in the emulated account: the built functions, a pipeline run
played by a test runner plugged into the emulator (moto alone reports every execution "Succeeded" with no steps)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from local_twin.emulator import PipelineStart
from mlops_shared.pipeline_names import EVALUATE_STEP, REGISTER_STEP, TRAIN_STEP
from tests.integration.account import ApprovalStatus, TestStack


def pipeline_run(
    stack: TestStack, status: str = "Succeeded", approval: ApprovalStatus = "PendingManualApproval", mse: float = 4.5
) -> list[PipelineStart]:
    """Play the pipeline: write the evaluation report, register a package, report the steps; return the starts."""
    starts: list[PipelineStart] = []

    def run(start: PipelineStart) -> None:
        starts.append(start)
        if status != "Succeeded":
            reason = "step TrainAbaloneModel: AlgorithmError: out of memory" if status == "Failed" else ""
            stack.aws.pipelines.report(start.execution_arn, status, failure_reason=reason)
            return
        execution_id = start.execution_arn.rsplit("/", 1)[-1]
        report = {"regression_metrics": {"mse": {"value": mse, "standard_deviation": 0.1}}}
        stack.client("s3").put_object(
            Bucket=stack.bucket,
            Key=f"pipeline-runs/{execution_id}/{EVALUATE_STEP}/evaluation/evaluation.json",
            Body=json.dumps(report).encode(),
        )
        package = stack.register(start.parameters.get("ModelApprovalStatus", approval))  # type: ignore[arg-type]
        stack.aws.pipelines.report(
            start.execution_arn,
            "Succeeded",
            steps=[
                {"StepName": TRAIN_STEP, "StepStatus": "Succeeded", "Metadata": {}},
                {"StepName": REGISTER_STEP, "StepStatus": "Succeeded", "Metadata": {"RegisterModel": {"Arn": package}}},
            ],
        )

    stack.aws.pipelines.runner = run
    return starts


def train(stack: TestStack, name: str, **fields: Any) -> dict[str, Any]:
    return stack.run(stack.train_machine, name, fields)


def test_a_run_that_registers_a_pending_model_tells_the_team_and_deploys_nothing(stack: TestStack) -> None:
    pipeline_run(stack, approval="PendingManualApproval", mse=4.25)
    result = train(stack, "pending")
    assert result["status"] == "SUCCEEDED", result
    assert stack.states(result["executionArn"])[:3] == ["Start", "UpsertPipeline", "StartPipelineExecution"]
    finish = stack.finish(result["executionArn"])
    assert finish["Outcome"] == "AwaitingApproval"
    (notification,) = stack.notifications()
    assert notification["Subject"] == "Model version 1 awaits approval"
    assert (
        "test MSE 4.2500" in notification["Message"] and "approve it in the Model Registry" in notification["Message"]
    )
    assert stack.settle() == [] and stack.live_package() is None


def test_a_run_that_registers_an_approved_model_deploys_it_through_the_registry_event(stack: TestStack) -> None:
    pipeline_run(stack)
    result = train(stack, "approved", PipelineParameters={"ModelApprovalStatus": "Approved"})
    assert result["status"] == "SUCCEEDED", result
    assert stack.finish(result["executionArn"])["Outcome"] == "RegisteredApproved"
    (deployment,) = stack.settle()  # SageMaker's event for the new Approved package reached the reconciler
    assert deployment["status"] == "SUCCEEDED"
    assert stack.live_package() is not None
    subjects = stack.subjects()
    assert "Model version 1 registered Approved" in subjects
    assert "Model version 1 deployed to the endpoint" in subjects


@pytest.mark.parametrize(
    ("status", "error", "reason"),
    [("Failed", "PipelineFailed", "AlgorithmError: out of memory"), ("Stopped", "PipelineStopped", "Stopped")],
)
def test_a_failed_or_stopped_pipeline_fails_the_run_with_the_reason(
    stack: TestStack, status: str, error: str, reason: str
) -> None:
    pipeline_run(stack, status=status)
    result = train(stack, f"pipeline-{status.lower()}")
    assert result["status"] == "FAILED"
    assert result["error"] == error and reason in result["cause"]
    (notification,) = stack.notifications()
    assert notification["Subject"] == "Training run failed" and reason in notification["Message"]
    assert stack.settle() == []


def test_a_pipeline_that_outlives_the_polls_is_stopped_and_the_run_fails(stack: TestStack) -> None:
    starts: list[PipelineStart] = []
    stack.aws.pipelines.runner = starts.append  # never reports: the execution stays Executing
    result = train(stack, "stuck", MaxPolls=3)
    assert result["status"] == "FAILED" and result["error"] == "PipelineTimedOut"
    assert "after 3 polls: stopped" in result["cause"]
    assert stack.states(result["executionArn"]).count("CheckPipeline") == 3
    (start,) = starts
    assert start.execution_arn in stack.aws.pipelines.stop_requested  # nothing registers or bills after a timeout
    assert "PipelineTimedOut" in stack.notifications()[0]["Message"]


def test_pipeline_parameters_reach_the_pipeline_and_unknown_ones_are_refused_before_anything_runs(
    stack: TestStack,
) -> None:
    starts = pipeline_run(stack)
    assert train(stack, "params", PipelineParameters={"MseThreshold": 7, "ProcessingInstanceCount": 2})["status"] == (
        "SUCCEEDED"
    )
    assert starts[0].parameters == {"MseThreshold": "7", "ProcessingInstanceCount": "2"}
    refused = train(stack, "unknown-parameter", PipelineParameters={"MseTreshold": 7})
    assert refused["status"] == "FAILED" and refused["error"] == "InvalidInput"
    assert "MseTreshold" in refused["cause"] and "MseThreshold" in refused["cause"]  # the valid names are listed
    assert len(starts) == 1  # the refused run started no pipeline execution
    assert stack.states(refused["executionArn"]) == ["Start", "Finish", "Finished", "Failed"]


def test_the_fixtures_are_inputs_the_machine_accepts(
    stack: TestStack, load_event: Callable[[str], dict[str, Any]]
) -> None:
    pipeline_run(stack)
    for name in ("train.json", "train-auto-approve.json"):
        result = stack.run(stack.train_machine, name.removesuffix(".json"), load_event(f"statemachine/{name}"))
        assert result["status"] == "SUCCEEDED", (name, result)
    refused = stack.run(stack.train_machine, "fixture-unknown", load_event("statemachine/train-unknown-parameter.json"))
    assert refused["status"] == "FAILED" and refused["error"] == "InvalidInput"
