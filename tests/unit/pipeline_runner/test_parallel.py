"""Independent steps run at the same time; a step that depends on both waits for both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from local_twin.pipeline_runner.runner import PipelineRunner
from local_twin.storage import LocalDirectoryStore

from .helpers import BUCKET

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
# Each step announces itself, then waits for the other: run one after the other, the first would give up and fail.
RENDEZVOUS = b"""
import argparse, pathlib, sys, time
parser = argparse.ArgumentParser()
parser.add_argument("--me"); parser.add_argument("--other"); parser.add_argument("--dir", type=pathlib.Path)
args = parser.parse_args()
(args.dir / args.me).touch()
for _ in range(600):
    if (args.dir / args.other).exists():
        sys.exit(0)
    time.sleep(0.1)
sys.exit(f"{args.me}: {args.other} never started")
"""


def _step(name: str, arguments: list[str], depends_on: list[str] | None = None) -> dict[str, Any]:
    step: dict[str, Any] = {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "AppSpecification": {
                "ImageUri": IMAGE,
                "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/rendezvous.py"],
                "ContainerArguments": arguments,
            },
            "ProcessingInputs": [
                {
                    "InputName": "code",
                    "S3Input": {
                        "S3Uri": f"s3://{BUCKET}/code/rendezvous.py",
                        "LocalPath": "/opt/ml/processing/input/code",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                    },
                }
            ],
        },
    }
    if depends_on:
        step["DependsOn"] = depends_on
    return step


def test_independent_steps_run_concurrently_and_a_join_waits_for_both(tmp_path: Path, offline_sagemaker: Any) -> None:
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    store = LocalDirectoryStore(tmp_path / "store")
    store.put_bytes(f"s3://{BUCKET}/code/rendezvous.py", RENDEZVOUS)
    both = ["--me", "c", "--other", "a", "--dir", str(meeting)]
    definition = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [
            _step("A", ["--me", "a", "--other", "b", "--dir", str(meeting)]),
            _step("B", ["--me", "b", "--other", "a", "--dir", str(meeting)]),
            _step("C", both, depends_on=["A", "B"]),
        ],
    }
    runner = PipelineRunner(definition, store=store, sagemaker_client=offline_sagemaker, workdir=tmp_path / "work")

    result = runner.run()

    assert result.status == "Succeeded", result.failure_reason
    records = {r.step_name: r for r in result.steps}
    assert set(records) == {"A", "B", "C"}
    for parent in ("A", "B"):
        end = records[parent].end_time
        assert end is not None and end <= records["C"].start_time
