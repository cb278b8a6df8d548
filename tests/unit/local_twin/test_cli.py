"""`make local` options, the data location, the approval event's shape and the plain progress lines."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern  # imported here: urllib3 probes IPv6 with a socket on first import

from cfn import TemplateValues, load_template, rule_pattern
from local_twin.cli import (
    DATA_ENV_VAR,
    DEFAULT_DATA,
    Reporter,
    StageError,
    Summary,
    UsageError,
    approval_event,
    main,
    parse_options,
    parse_params,
    record_failure,
    resolve_data_path,
)


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "abalone.csv"
    path.write_text("M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15,15\n")
    return path


def test_defaults_are_endpoint_approve_and_no_parameters(data_file: Path) -> None:
    options = parse_options(["--data", str(data_file)], environ={})

    assert (options.target, options.approve, dict(options.pipeline_parameters)) == ("endpoint", True, {})
    assert options.data == data_file.resolve()


def test_every_option_is_parsed(data_file: Path, tmp_path: Path) -> None:
    argv = ["--target", "batch", "--no-approve", "--param", "MseThreshold=7", "--param", "X=a=b"]
    options = parse_options([*argv, "--data", str(data_file), "--output-dir", str(tmp_path / "out")], environ={})

    assert options.target == "batch" and options.approve is False
    assert dict(options.pipeline_parameters) == {"MseThreshold": "7", "X": "a=b"}
    assert options.output_dir == tmp_path / "out"


@pytest.mark.parametrize(
    ("pairs", "message"), [(["MseThreshold"], "NAME=VALUE"), (["=1"], "NAME=VALUE"), (["A=1", "A=2"], "twice")]
)
def test_bad_params_are_named(pairs: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_params(pairs)


def test_keep_serving_needs_the_endpoint_target(data_file: Path) -> None:
    with pytest.raises(UsageError, match="--keep-serving needs --target endpoint"):
        parse_options(["--target", "batch", "--keep-serving", "--data", str(data_file)], environ={})


def test_data_comes_from_the_flag_then_the_environment_then_the_default(data_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("x\n")

    assert resolve_data_path(data_file, {DATA_ENV_VAR: str(other)}) == data_file.resolve()
    assert resolve_data_path(None, {DATA_ENV_VAR: str(other)}) == other.resolve()


@pytest.mark.parametrize(
    ("flag", "environ", "named"),
    [("missing.csv", {}, "--data missing.csv"), (None, {DATA_ENV_VAR: "/nowhere.csv"}, "ABALONE_DATA=/nowhere.csv")],
)
def test_a_missing_data_file_names_the_three_ways(flag: str | None, environ: dict[str, str], named: str) -> None:
    with pytest.raises(UsageError) as raised:
        resolve_data_path(Path(flag) if flag else None, environ)

    message = str(raised.value)
    assert named in message
    assert "--data PATH" in message and DATA_ENV_VAR in message and "data/abalone.csv" in message
    assert "make data" in message


def test_the_default_location_is_data_abalone_csv() -> None:
    assert DEFAULT_DATA.parts[-2:] == ("data", "abalone.csv")


def test_main_exits_2_with_the_message_for_a_usage_error(tmp_path: Path) -> None:
    stream = io.StringIO()

    code = main(["--data", str(tmp_path / "none.csv")], stream=stream, live=False)

    assert code == 2
    assert "make data" in stream.getvalue()


def test_plain_progress_lines_name_the_stage_its_time_and_failure() -> None:
    stream = io.StringIO()
    reporter = Reporter(stream, live=False)

    with reporter.stage("provision", "creating resources") as record:
        reporter.note("bucket created")
        record.detail = "3 resources"
    with pytest.raises(StageError), reporter.stage("train", "training"):
        raise StageError("pipeline step PreprocessAbaloneData failed: bad row")
    reporter.skip("approve", "--no-approve")

    lines = stream.getvalue().splitlines()
    assert lines[0] == "[provision] creating resources"
    assert lines[1] == "[provision]   bucket created"
    assert lines[2].startswith("[provision] succeeded in ") and lines[2].endswith(": 3 resources")
    assert lines[4].startswith("[train] failed in ") and "PreprocessAbaloneData" in lines[4]
    assert lines[5] == "[approve] skipped: --no-approve"
    assert [s.status for s in reporter.stages] == ["succeeded", "failed", "skipped"]


def test_a_bug_keeps_its_traceback_in_the_summary_and_a_stage_error_does_not() -> None:
    bug, expected = Summary(), Summary()

    try:
        empty: dict[str, str] = {}
        empty["missing"]  # noqa: B018 - raise a real KeyError with a traceback
    except KeyError as error:
        record_failure(bug, "deploy", error)
    record_failure(expected, "train", StageError("clear reason"))

    assert bug.failed_stage == "deploy" and bug.failure_reason == "KeyError: 'missing'"
    assert bug.failure_traceback and "Traceback" in bug.failure_traceback
    assert expected.failure_reason == "clear reason" and expected.failure_traceback is None


def test_the_approval_event_has_sagemakers_envelope_and_detail() -> None:
    package = {
        "ModelPackageGroupName": "abalone",
        "ModelPackageVersion": 3,
        "ModelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/abalone/3",
        "ModelApprovalStatus": "Approved",
        "ModelPackageStatus": "Completed",
        "CreationTime": datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
        "ResponseMetadata": {"HTTPStatusCode": 200},
    }

    event = approval_event(package, "us-east-1", "123456789012")

    assert event["source"] == "aws.sagemaker"
    assert event["detail-type"] == "SageMaker Model Package State Change"
    assert event["resources"] == [package["ModelPackageArn"]]
    assert event["detail"]["ModelApprovalStatus"] == "Approved"
    assert event["detail"]["CreationTime"] == 1795680000000
    assert "ResponseMetadata" not in event["detail"]
    json.dumps(event)  # serialisable as EventBridge would send it


@pytest.mark.parametrize(
    ("status", "matches"), [("Approved", True), ("PendingManualApproval", False), ("Rejected", False)]
)
def test_the_approval_event_goes_through_the_templates_rule_pattern(status: str, matches: bool) -> None:
    template = load_template()
    rule = next(k for k, v in template["Resources"].items() if v["Type"] == "AWS::Events::Rule")
    pattern = rule_pattern(template, rule, TemplateValues(parameters={"ModelPackageGroupName": "abalone"}))
    package = {
        "ModelPackageGroupName": "abalone",
        "ModelPackageVersion": 1,
        "ModelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/abalone/1",
        "ModelApprovalStatus": status,
    }

    event: Any = approval_event(package, "us-east-1", "1" * 12)
    assert EventPattern.load(json.dumps(pattern)).matches_event(event) is matches


def test_the_approval_event_has_the_shape_of_the_recorded_sagemaker_event(
    load_event: Callable[[str], dict[str, Any]],
) -> None:
    recorded = load_event("on_model_approved/approved.json")
    package = {**recorded["detail"], "CreationTime": datetime(2026, 11, 22, 8, 0, tzinfo=UTC)}

    event = approval_event(package, recorded["region"], recorded["account"])

    assert set(event) == set(recorded)
    assert set(event["detail"]) == set(recorded["detail"])
    assert event["detail"]["CreationTime"] == recorded["detail"]["CreationTime"]
