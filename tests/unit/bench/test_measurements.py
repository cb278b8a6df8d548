"""How each measurement group turns raw output (import-time lines, summary.json, histories, client reports) into
figures. Inputs are real-shaped; no process is started and nothing is timed here."""

from __future__ import annotations

import errno
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from bench import endpoint, lambdas, render, render_probe, transitions, twin
from bench.machine import cpu_model, memory_gib
from bench.paths import BenchError
from bench.runner import groups, select

IMPORTTIME = """\
import time: self [us] | cumulative | imported package
import time:       120 |        120 |   _io
import time:      2000 |       5000 | site
bench: handler import starts
import time:       300 |        300 |     botocore.compat
import time:      1000 |      40000 |   boto3
import time:       500 |       2500 |   pydantic
import time:      9000 |      60000 | on_model_approved.app
import time:        50 |         50 | on_model_approved.models
"""


def test_importtime_counts_only_what_the_handler_import_caused() -> None:
    records = lambdas.parse_importtime(IMPORTTIME)
    assert [record.module for record in records][0] == "botocore.compat"
    # top level (depth 0) after the marker: 60000 + 50 µs; site (before the marker) is start-up, not the handler
    assert lambdas.cold_import_ms(records) == 60.05
    assert [record.module for record in lambdas.heaviest(records, 2)] == ["on_model_approved.app", "boto3"]


def test_importtime_without_the_marker_is_an_error() -> None:
    with pytest.raises(BenchError, match="marker"):
        lambdas.parse_importtime("import time:   1 |   1 | site\n")
    with pytest.raises(BenchError, match="no import-time records"):
        lambdas.cold_import_ms([])


def test_handlers_come_from_the_template() -> None:
    template = {
        "Resources": {
            "OnModelApprovedFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Handler": "on_model_approved.app.lambda_handler"},
            },
            "Bucket": {"Type": "AWS::S3::Bucket"},
        }
    }
    assert lambdas.functions_in_template(template) == {"OnModelApprovedFunction": "on_model_approved.app"}
    template["Resources"]["Bad"] = {"Type": "AWS::Serverless::Function", "Properties": {"Handler": "app"}}
    with pytest.raises(BenchError, match="Bad"):
        lambdas.functions_in_template(template)


def test_unzipped_size_counts_every_file(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_bytes(b"x" * 1000)
    (tmp_path / "b.so").write_bytes(b"y" * 234)
    assert lambdas.unzipped_size_bytes(tmp_path) == 1234


def _fake_package(root: Path, version: str) -> None:
    (root / "pydantic_core").mkdir(parents=True)
    (root / "pydantic_core" / "__init__.py").write_text("")
    (root / f"pydantic_core-{version}.dist-info").mkdir()


def test_py311_copy_puts_the_same_versions_cp311_extension_beside_the_cp313_one(tmp_path: Path) -> None:
    built, site = tmp_path / "built", tmp_path / "site"
    _fake_package(built, "2.50.5")
    (built / "pydantic_core" / "_pydantic_core.cpython-313-x86_64-linux-gnu.so").write_bytes(b"313")
    _fake_package(site, "2.50.5")
    (site / "pydantic_core" / "_pydantic_core.cpython-311-x86_64-linux-gnu.so").write_bytes(b"311")
    copy = lambdas.py311_copy(built, tmp_path / "copy", site)
    assert (copy / "pydantic_core" / "_pydantic_core.cpython-311-x86_64-linux-gnu.so").read_bytes() == b"311"
    assert (copy / "pydantic_core" / "_pydantic_core.cpython-313-x86_64-linux-gnu.so").read_bytes() == b"313"
    assert not (built / "pydantic_core" / "_pydantic_core.cpython-311-x86_64-linux-gnu.so").exists()


def test_py311_copy_refuses_a_different_version(tmp_path: Path) -> None:
    built, site = tmp_path / "built", tmp_path / "site"
    _fake_package(built, "2.50.5")
    (built / "pydantic_core" / "_pydantic_core.cpython-313-x86_64-linux-gnu.so").write_bytes(b"313")
    _fake_package(site, "2.41.0")
    (site / "pydantic_core" / "_pydantic_core.cpython-311-x86_64-linux-gnu.so").write_bytes(b"311")
    with pytest.raises(BenchError, match="2.50.5 is packaged, but .venv has 2.41.0"):
        lambdas.py311_copy(built, tmp_path / "copy", site)


def _summary(**changes: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "status": "succeeded",
        "failed_stage": None,
        "failure_reason": None,
        "test_mse": 4.5698,
        "pipeline_steps": [
            {"name": "PreprocessAbaloneData", "status": "Succeeded", "seconds": 2.973},
            {"name": "TrainAbaloneModel", "status": "Succeeded", "seconds": 12.845},
            {"name": "CheckMseThreshold", "status": "Succeeded", "seconds": None},
        ],
        "stages": [
            {"name": "emulator", "status": "succeeded", "seconds": 13.044, "detail": ""},
            {"name": "train", "status": "succeeded", "seconds": 23.673, "detail": ""},
            {"name": "approve", "status": "skipped", "seconds": 0.0, "detail": "--no-approve"},
        ],
    }
    summary.update(changes)
    return summary


def test_twin_figures_from_its_summary() -> None:
    measured = {m.spec.name: m.value for m in twin.measurements_from_summary("endpoint", 48.2, _summary(), 23.0)}
    assert measured == {
        "local_twin.endpoint.end_to_end": 48.2,
        "local_twin.endpoint.cpu": 23.0,
        "local_twin.endpoint.stage.emulator": 13.044,
        "local_twin.endpoint.stage.train": 23.673,
        "local_twin.endpoint.pipeline_step.PreprocessAbaloneData": 2.973,
        "local_twin.endpoint.pipeline_step.TrainAbaloneModel": 12.845,
        "model.test_mse": 4.5698,
    }
    assert twin.end_to_end_spec("endpoint").goal == 20.0 and twin.end_to_end_spec("batch").goal is None


def test_a_failed_twin_run_is_an_error_naming_the_stage() -> None:
    failed = _summary(status="failed", failed_stage="train", failure_reason="pipeline Failed")
    with pytest.raises(BenchError, match="failed at train: pipeline Failed"):
        twin.measurements_from_summary("batch", 1.0, failed)


def test_transitions_are_the_states_entered() -> None:
    history = [
        {"type": "ExecutionStarted"},
        {"type": "TaskStateEntered"},
        {"type": "TaskStateExited"},
        {"type": "ChoiceStateEntered"},
        {"type": "WaitStateEntered"},
        {"type": "SucceedStateEntered"},
        {"type": "ExecutionSucceeded"},
    ]
    assert transitions.transitions(history) == 4


@pytest.mark.parametrize(
    ("creation", "interval", "polls"), [(600, 60, 10), (600, 45, 14), (30, 60, 1), (0, 60, 1), (601, 60, 11)]
)
def test_polls_for_a_creation_time(creation: int, interval: int, polls: int) -> None:
    assert transitions.polls_for(creation, interval) == polls


def test_ten_minute_creation_adds_the_polls_after_the_first() -> None:
    per_poll = transitions.per_poll(base=16, with_polls=31, extra_polls=3)
    assert per_poll == 5
    assert transitions.with_simulated_creation(16, per_poll, 600, 60) == 16 + 9 * 5


def test_per_poll_refuses_a_loop_that_did_not_run() -> None:
    with pytest.raises(BenchError, match="added no transitions"):
        transitions.per_poll(base=16, with_polls=16, extra_polls=3)
    with pytest.raises(ValueError, match="positive"):
        transitions.polls_for(600, 0)


def test_endpoint_figures_from_the_client_report() -> None:
    report = {"latencies_ms": [float(v) for v in range(1, 101)], "concurrent_requests": 1000, "concurrent_seconds": 2.0}
    measured = {m.spec.name: m.value for m in endpoint.measurements_from_client(report)}
    assert measured == {"endpoint.latency_p50": 50.0, "endpoint.latency_p99": 99.0, "endpoint.throughput": 500.0}
    assert endpoint.THROUGHPUT_SPEC.meets(500.0) and not endpoint.P50_SPEC.meets(50.0)


def test_endpoint_rows_drop_the_label_and_the_run_must_exist(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "work" / "endpoint-model-1").mkdir(parents=True)
    (run / "test.csv").write_text("8.0,0.1,0.2\n11.0,0.3,0.4\n\n")
    assert endpoint.feature_rows(run / "test.csv") == ["0.1,0.2", "0.3,0.4"]
    with pytest.raises(BenchError, match="run the local twin first"):
        endpoint.find_run([run])  # an empty model folder is not a served model
    (run / "work" / "endpoint-model-1" / "xgboost-model").write_bytes(b"model")
    assert endpoint.find_run([tmp_path / "missing", run]) == (run, run / "work" / "endpoint-model-1")
    with pytest.raises(BenchError, match="run the local twin first"):
        endpoint.find_run([tmp_path / "missing"])


def test_render_figures_and_a_failed_render() -> None:
    report = {"seconds": 2.1, "connection_attempts": 0, "attempts": [], "error": None}
    measured = {m.spec.name: m.value for m in render.measurements_from_probe(2.6, report, 1.9)}
    assert measured == {
        "render.wall": 2.6,
        "render.in_process": 2.1,
        "render.cpu": 1.9,
        "render.connection_attempts": 0,
    }
    assert render.ATTEMPTS_SPEC.meets(0) and not render.ATTEMPTS_SPEC.meets(1)
    failed = {**report, "error": "ConnectionRefusedError: ...", "attempts": ["('sts.amazonaws.com', 443)"]}
    with pytest.raises(BenchError, match=r"sts\.amazonaws\.com"):
        render.measurements_from_probe(2.6, failed, 1.9)
    json.dumps(report)  # the probe's report is plain JSON


def test_machine_description_parsers() -> None:
    assert cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n") == "AMD EPYC 7B13"
    assert memory_gib("MemTotal:       25165824 kB\nMemFree: 1 kB\n") == 24.0
    assert memory_gib("") is None


def test_group_selection_keeps_the_bench_order_and_names_unknown_groups() -> None:
    all_groups = groups()
    chosen = select(all_groups, "endpoint,local_twin_endpoint", make_test=True)
    assert [group.name for group in chosen] == ["local_twin_endpoint", "endpoint", "make_test"]
    with pytest.raises(SystemExit, match="unknown group"):
        select(all_groups, "render,nope", make_test=False)


class _FakeSocket:
    def __init__(self, family: socket.AddressFamily) -> None:
        self.family = family


def test_the_render_guard_counts_and_refuses_network_connections() -> None:
    # GIVEN the probe's guard (applied here to stand-in sockets: the unit tier allows no real network socket)
    render_probe.ATTEMPTS.clear()
    # WHEN an IPv4 and an IPv6 connection are attempted
    with pytest.raises(ConnectionRefusedError, match="sts.amazonaws.com"):
        render_probe._guarded_connect(_FakeSocket(socket.AF_INET), ("sts.amazonaws.com", 443))  # type: ignore[arg-type]
    code = render_probe._guarded_connect_ex(_FakeSocket(socket.AF_INET6), ("::1", 443, 0, 0))  # type: ignore[arg-type]
    # THEN both are counted and neither got through
    assert code == errno.ECONNREFUSED
    assert len(render_probe.ATTEMPTS) == 2
    render_probe.ATTEMPTS.clear()


def test_the_render_guard_lets_unix_sockets_through(tmp_path: Path) -> None:
    render_probe.ATTEMPTS.clear()
    with socket.socket(socket.AF_UNIX) as unix, pytest.raises(FileNotFoundError):
        render_probe._guarded_connect(unix, str(tmp_path / "no-such-socket"))
    assert render_probe.ATTEMPTS == []


def test_a_failing_group_leaves_its_goal_figures_failed_and_the_others_run() -> None:
    from bench.core import FigureSpec, Measurement, Samples
    from bench.runner import Group, run_group

    goal = FigureSpec("render.wall", "s", 3.0)
    no_goal = FigureSpec("render.in_process", "s")
    ok = FigureSpec("endpoint.latency_p50", "ms", 5.0)

    def broken(_: int) -> list[Measurement]:
        raise BenchError("the render probe printed no report")

    samples = Samples()
    failures: list[str] = []
    run_group(Group("render", broken, lambda: (goal, no_goal)), 3, samples, failures)
    run_group(Group("endpoint", lambda i: [Measurement(ok, 1.0 + i)], lambda: (ok,)), 3, samples, failures)
    figures = {figure.name: figure for figure in samples.figures()}
    assert failures == ["render: the render probe printed no report"]
    assert figures["render.wall"].value is None and figures["render.wall"].meets_goal is False
    assert "render.in_process" not in figures
    assert (figures["endpoint.latency_p50"].value, figures["endpoint.latency_p50"].runs) == (2.0, 3)


@pytest.mark.parametrize(
    ("value", "meets", "direction"),
    [(450.0, True, "min"), (250.0, False, "min"), (2.0, True, "max"), (9.0, False, "max")],
)
def test_a_kept_figure_gets_back_the_side_of_its_goal(value: float, meets: bool, direction: str) -> None:
    from bench.core import Figure
    from bench.runner import spec_of

    goal = 300.0 if direction == "min" else 5.0
    figure = Figure("f", value, "u", goal, meets, 3, value, value)
    assert spec_of(figure).direction == direction
    assert spec_of(figure).meets(value) is meets
