"""`make local` options, the data location, the template's registry rule and the plain progress lines."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern  # imported here: urllib3 probes IPv6 with a socket on first import

from cfn import TemplateValues, load_template, rule_pattern
from local_twin.cli import DATA_ENV_VAR, main, parse_options, parse_params, resolve_data_path
from local_twin.flow import DEFAULT_DATA
from local_twin.report import Reporter, StageError, Summary, UsageError, record_failure


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


def test_keep_running_and_a_fixed_port_are_parsed_and_a_bad_port_is_named(data_file: Path) -> None:
    options = parse_options(["--keep-running", "--port", "4566", "--data", str(data_file)], environ={})
    assert options.keep_running is True and options.port == 4566
    with pytest.raises(UsageError, match="--port 70000 is not a TCP port"):
        parse_options(["--port", "70000", "--data", str(data_file)], environ={})


def test_accounts_is_one_by_default_and_three_only_for_an_endpoint_without_drift(data_file: Path) -> None:
    assert parse_options(["--data", str(data_file)], environ={}).accounts == 1
    assert parse_options(["--accounts", "3", "--data", str(data_file)], environ={}).accounts == 3
    with pytest.raises(UsageError, match="--accounts 3 deploys to endpoints"):
        parse_options(["--accounts", "3", "--target", "batch", "--data", str(data_file)], environ={})
    with pytest.raises(UsageError, match="--accounts 3 has no monitoring stage"):
        parse_options(["--accounts", "3", "--drift", "--data", str(data_file)], environ={})
    with pytest.raises(SystemExit):
        parse_options(["--accounts", "2", "--data", str(data_file)], environ={})


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
    assert "make data" in message and "shipped with the project" in message


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


@pytest.mark.parametrize(
    ("status", "matches"), [("Approved", True), ("PendingManualApproval", True), ("Rejected", True)]
)
def test_the_templates_rule_takes_every_state_change_of_its_group_and_no_other(status: str, matches: bool) -> None:
    """Every registry event is a reason to reconcile (the reconciler reads the registry, not the event)."""
    template = load_template()
    pattern = rule_pattern(
        template, "ModelRegistryRule", TemplateValues(parameters={"ModelPackageGroupName": "abalone"})
    )
    event: Any = {
        "source": "aws.sagemaker",
        "account": TemplateValues().account_id,
        "detail-type": "SageMaker Model Package State Change",
        "detail": {"ModelPackageGroupName": "abalone", "ModelApprovalStatus": status},
    }
    other: Any = {**event, "detail": {"ModelPackageGroupName": "another-group", "ModelApprovalStatus": status}}
    elsewhere: Any = {**event, "account": "999999999999"}
    assert EventPattern.load(json.dumps(pattern)).matches_event(event) is matches
    assert EventPattern.load(json.dumps(pattern)).matches_event(other) is False
    assert EventPattern.load(json.dumps(pattern)).matches_event(elsewhere) is False
