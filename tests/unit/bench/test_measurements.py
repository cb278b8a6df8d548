"""How each measurement group turns raw output (import-time lines, summary.json, histories, client reports) into
figures. Inputs are real-shaped; no process is started and nothing is timed here."""

from __future__ import annotations

import errno
import json
import socket
from collections.abc import Callable
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
import time:      2000 |       5000 | awslambdaric.bootstrap
bench: handler import starts
import time:       300 |        300 |     botocore.compat
import time:      1000 |      40000 |   boto3
import time:       500 |       2500 |   pydantic
import time:      9000 |      60000 | deployments.app
import time:        50 |         50 | deployments.models
"""


def test_importtime_counts_only_what_the_handler_import_caused() -> None:
    records = lambdas.parse_importtime(IMPORTTIME)
    assert [record.module for record in records][0] == "botocore.compat"
    # top level (depth 0) after the marker: 60000 + 50 µs; the runtime's bootstrap (before the marker) is not counted
    assert lambdas.cold_import_ms(records) == 60.05
    assert [record.module for record in lambdas.heaviest(records, 2)] == ["deployments.app", "boto3"]


def test_importtime_without_the_marker_is_an_error() -> None:
    with pytest.raises(BenchError, match="marker"):
        lambdas.parse_importtime("import time:   1 |   1 | site\n")
    with pytest.raises(BenchError, match="no import-time records"):
        lambdas.cold_import_ms([])


def test_handlers_come_from_the_template_with_any_attribute_name() -> None:
    template = {
        "Resources": {
            "DeployStepsFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Handler": "deployments.app.step_handler"},
            },
            "SharedLayer": {"Type": "AWS::Serverless::LayerVersion"},
            "Bucket": {"Type": "AWS::S3::Bucket"},
        }
    }
    assert lambdas.functions_in_template(template) == {
        "DeployStepsFunction": lambdas.Handler("deployments.app", "step_handler")
    }
    template["Resources"]["Bad"] = {"Type": "AWS::Serverless::Function", "Properties": {"Handler": "app"}}
    with pytest.raises(BenchError, match="Bad"):
        lambdas.functions_in_template(template)


def test_only_the_templates_own_layers_can_be_measured() -> None:
    template = {
        "Resources": {"SharedLayer": {"Type": "AWS::Serverless::LayerVersion"}, "Key": {"Type": "AWS::KMS::Key"}}
    }
    assert lambdas.template_layers(["bench-placeholder:SharedLayer"], template) == ["SharedLayer"]
    with pytest.raises(BenchError, match="not built by sam build"):
        lambdas.template_layers(["arn:aws:lambda:us-east-1:901920570463:layer:otel:1"], template)
    with pytest.raises(BenchError, match="not built by sam build"):
        lambdas.template_layers(["bench-placeholder:Key"], template)


def test_every_function_of_the_template_is_read_with_its_layers_and_environment(tmp_path: Path) -> None:
    from cfn import load_template

    template = load_template()
    network = {"PrivateSubnetIds": "subnet-1,subnet-2", "SecurityGroupIds": "sg-1"}
    functions = lambdas.read_functions(template, tmp_path, network, "eu-west-1")
    assert [function.logical_id for function in functions] == list(lambdas.functions_in_template(template))
    for function in functions:
        assert function.code_dir == tmp_path / function.logical_id
        assert all(template["Resources"][layer]["Type"] == "AWS::Serverless::LayerVersion" for layer in function.layers)
        assert function.environment["PYTHONDONTWRITEBYTECODE"] == "1"  # Lambda's code folders are read-only
        assert function.environment["AWS_LAMBDA_FUNCTION_NAME"] == function.logical_id
        assert function.environment["AWS_REGION"] == "eu-west-1"


def test_the_templates_variables_win_over_the_defaults() -> None:
    environment = lambdas.lambda_environment("Fn", {"TZ": "Europe/Paris", "STAGE": "x"}, 256, "eu-west-1")
    assert environment["TZ"] == "Europe/Paris" and environment["STAGE"] == "x"
    assert environment["AWS_REGION"] == environment["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"


def test_the_import_program_sets_lambdas_path_then_the_marker_then_the_handler(tmp_path: Path) -> None:
    search_path = [tmp_path / "Fn", tmp_path / "Layer" / "python", tmp_path / "runtime"]
    code = lambdas.import_code(search_path, lambdas.Handler("deployments.app", "step_handler"))
    lines = code.splitlines()
    assert lines[1] == f"sys.path[:] = {[str(path) for path in search_path]!r} + sys.path[1:]"
    assert lines.index(f"import {lambdas.RUNTIME_BOOTSTRAP}") < lines.index(
        f"print({lambdas.MARKER!r}, file=sys.stderr, flush=True)"
    )
    assert lines[-2] == "handler = getattr(importlib.import_module('deployments.app'), 'step_handler')"
    baseline = lambdas.import_code(search_path, None)
    assert "importlib" not in baseline and baseline.endswith("flush=True)")
    compile(code, "<import>", "exec")


def test_layer_paths_are_lambdas_opt_python_folders_that_exist(tmp_path: Path) -> None:
    (tmp_path / "python").mkdir()
    assert lambdas.layer_paths(tmp_path) == [tmp_path / "python"]
    (tmp_path / "python" / "lib" / "python3.13" / "site-packages").mkdir(parents=True)
    assert lambdas.layer_paths(tmp_path) == [
        tmp_path / "python" / "lib" / "python3.13" / "site-packages",
        tmp_path / "python",
    ]


def test_unzipped_size_counts_every_file(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_bytes(b"x" * 1000)
    (tmp_path / "b.so").write_bytes(b"y" * 234)
    assert lambdas.unzipped_size_bytes(tmp_path) == 1234


def test_the_size_limit_share_counts_the_package_and_its_layers() -> None:
    assert lambdas.share_of_limit_percent(2_621_440, [10_485_760, 13_107_200]) == 10.0
    assert lambdas.size_limit_spec("Fn").meets(99.9) and not lambdas.size_limit_spec("Fn").meets(100.1)


def test_the_copy_without_bytecode_keeps_everything_else(tmp_path: Path) -> None:
    built = tmp_path / "built"
    (built / "deployments" / "__pycache__").mkdir(parents=True)
    (built / "deployments" / "app.py").write_text("x = 1\n")
    (built / "deployments" / "__pycache__" / "app.cpython-313.pyc").write_bytes(b"pyc")
    (tmp_path / "copy" / "stale").mkdir(parents=True)
    copy = lambdas.copy_without_bytecode(built, tmp_path / "copy")
    assert sorted(str(path.relative_to(copy)) for path in copy.rglob("*")) == ["deployments", "deployments/app.py"]
    assert (built / "deployments" / "__pycache__" / "app.cpython-313.pyc").exists()


def test_a_missing_build_or_runtime_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="make build lambda-runtime"):
        lambdas.check_built(tmp_path / "sam", tmp_path / "runtime")
    (tmp_path / "sam").mkdir()
    (tmp_path / "sam" / "template.yaml").write_text("Resources: {}\n")
    with pytest.raises(BenchError, match=r"no Lambda runtime libraries \(boto3\): run `make build lambda-runtime`"):
        lambdas.check_built(tmp_path / "sam", tmp_path / "runtime")
    (tmp_path / "runtime" / "python" / "boto3").mkdir(parents=True)
    lambdas.check_built(tmp_path / "sam", tmp_path / "runtime")


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
    assert twin.end_to_end_spec("endpoint").goal == 12.0 and twin.end_to_end_spec("batch").goal is None


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
        transitions.per_poll(base=18, with_polls=18, extra_polls=3)
    with pytest.raises(BenchError, match="polled 0 times more"):
        transitions.per_poll(base=18, with_polls=27, extra_polls=0)
    with pytest.raises(ValueError, match="positive"):
        transitions.polls_for(600, 0)


def test_polls_are_the_wait_states_entered() -> None:
    loop = [{"type": "WaitStateEntered"}, {"type": "TaskStateEntered"}, {"type": "ChoiceStateEntered"}]
    history = [{"type": "ExecutionStarted"}, *loop, *loop, {"type": "SucceedStateEntered"}]
    assert transitions.polls(history) == 2
    assert transitions.transitions(history) == 7


def test_the_batch_input_is_the_documented_one_in_the_stacks_bucket(
    load_event: Callable[[str], dict[str, Any]],
) -> None:
    documented = load_event("statemachine/deploy-batch.json")
    execution_input = transitions.batch_input("stack-bucket", documented)
    assert execution_input == {**documented, "BatchInputS3Uri": "s3://stack-bucket/batch/input/"}
    with pytest.raises(BenchError, match="no longer a batch deploy input"):
        transitions.batch_input("stack-bucket", {"Target": "endpoint"})


def test_an_execution_counts_only_if_it_did_what_it_was_started_for() -> None:
    done = transitions.Execution("first", "SUCCEEDED", transitions=18, polls=1)
    assert transitions._require(done, "first deployment", expected_polls=1, deployed=True) is done
    failed = transitions.Execution("first", "FAILED", transitions=9, polls=0, cause="States.TaskFailed")
    with pytest.raises(BenchError, match="first FAILED: States.TaskFailed"):
        transitions._require(failed, "first deployment", expected_polls=1, deployed=True)
    with pytest.raises(BenchError, match="without deploying"):
        transitions._require(done, "first deployment", expected_polls=1, deployed=False)
    with pytest.raises(BenchError, match="polled 1 times, not 4"):
        transitions._require(done, "polled creation", expected_polls=4, deployed=True)


def test_endpoint_figures_from_the_client_report() -> None:
    report = {"latencies_ms": [float(v) for v in range(1, 101)], "concurrent_requests": 1000, "concurrent_seconds": 2.0}
    measured = {m.spec.name: m.value for m in endpoint.measurements_from_client(report)}
    assert measured == {"endpoint.latency_p50": 50.0, "endpoint.latency_p99": 99.0, "endpoint.throughput": 500.0}
    assert endpoint.THROUGHPUT_SPEC.meets(500.0) and not endpoint.P50_SPEC.meets(50.0)


APPROVAL_EVENT = {
    "detail": {
        "InferenceSpecification": {
            "Containers": [
                {
                    "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5",
                    "ModelDataUrl": "s3://bucket/model.tar.gz",
                    "Environment": {},
                }
            ]
        }
    }
}


def _run(root: Path) -> Path:
    """A make local run folder as local_twin.flow leaves it after an endpoint deployment."""
    run = root / "run"
    (run / "work" / "endpoint-1" / "model").mkdir(parents=True)
    (run / "test.csv").write_text("8.0,0.1,0.2\n11.0,0.3,0.4\n\n")
    (run / "approval-event.json").write_text(json.dumps(APPROVAL_EVENT))
    return run


def test_endpoint_rows_drop_the_label_and_the_run_must_exist(tmp_path: Path) -> None:
    run = _run(tmp_path)
    assert endpoint.feature_rows(run / "test.csv") == ["0.1,0.2", "0.3,0.4"]
    with pytest.raises(BenchError, match="run the local twin first"):
        endpoint.find_run([run])  # an empty model folder is not a served model
    (run / "work" / "endpoint-1" / "model" / "xgboost-model").write_bytes(b"model")
    served = endpoint.find_run([tmp_path / "missing", run])
    assert (served.run_dir, served.model_dir) == (run, run / "work" / "endpoint-1" / "model")
    assert served.image.endswith("/sagemaker-xgboost:3.0-5") and served.mode == "algorithm mode"
    (run / "approval-event.json").unlink()  # without the package's container, the image is unknown
    with pytest.raises(BenchError, match="run the local twin first"):
        endpoint.find_run([run])


def test_the_served_container_is_the_packages_own() -> None:
    container = APPROVAL_EVENT["detail"]["InferenceSpecification"]["Containers"][0]
    script = {
        "detail": {"InferenceSpecification": {"Containers": [{**container, "Environment": {"SAGEMAKER_PROGRAM": ""}}]}}
    }
    image, environment = endpoint.container_of(script)
    assert environment == {"SAGEMAKER_PROGRAM": ""}
    assert endpoint.ServedModel(Path("r"), Path("m"), image, environment).mode == "script mode"
    with pytest.raises(BenchError, match="no inference container"):
        endpoint.container_of({"detail": {}})


def test_served_predictions_must_be_the_runs(tmp_path: Path) -> None:
    recorded = tmp_path / "predictions.csv"
    recorded.write_text("9.5\n10.25\n")
    endpoint.check_predictions([9.5, 10.250001], recorded)
    with pytest.raises(BenchError, match="1 of 2 predictions differ.*row 2"):
        endpoint.check_predictions([9.5, 11.0], recorded)
    with pytest.raises(BenchError, match="1 predictions served, 2 recorded"):
        endpoint.check_predictions([9.5], recorded)


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
