"""Rendering runs the real SageMaker SDK (in .venv-render, as `make definition` does) behind a socket guard.

The guard replaces the socket functions every network client ends in; each attempt is written to a file before it
fails, so even an attempt that the SDK catches and swallows (its telemetry does) is seen by the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
RENDER_PYTHON = REPO_ROOT / ".venv-render" / "bin" / "python"

GUARD = """
import json, runpy, socket, sys
attempts_file = sys.argv[1]
def deny(*args, **kwargs):
    with open(attempts_file, "a") as handle:
        handle.write(json.dumps(repr(args)) + "\\n")
    raise OSError("network access blocked by the render test")
socket.socket.connect = deny
socket.socket.connect_ex = deny
socket.getaddrinfo = deny
socket.create_connection = deny
sys.argv = [sys.argv[2], *sys.argv[3:]]
runpy.run_module(sys.argv[0], run_name="__main__")
"""


def run_guarded(module: str, *args: str, attempts: Path, extra_env: dict[str, str] | None = None) -> str:
    if not RENDER_PYTHON.exists():
        raise FileNotFoundError(f"{RENDER_PYTHON} is missing: run `make setup`")
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update({"PYTHONPATH": str(REPO_ROOT), **(extra_env or {})})
    completed = subprocess.run(
        [str(RENDER_PYTHON), "-c", GUARD, str(attempts), module, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One guarded render: (output directory, file of connection attempts)."""
    base = tmp_path_factory.mktemp("render")
    attempts = base / "attempts.jsonl"
    attempts.touch()
    run_guarded("ml_code.render", "--output-dir", str(base / "build"), attempts=attempts)
    return base / "build", attempts


def test_rendering_makes_no_network_call(rendered: tuple[Path, Path]) -> None:
    _, attempts = rendered
    assert attempts.read_text() == ""


def test_rendering_writes_the_definition_and_the_image_table(rendered: tuple[Path, Path]) -> None:
    build, _ = rendered
    definition = json.loads((build / "pipeline-definition.json").read_text())
    images = json.loads((build / "image-uris.json").read_text())

    assert definition["Version"] == "2020-12-01"
    assert (
        len(definition["Steps"]) == 7
    )  # preprocess, baseline, train, evaluate (with the serving check), gate, register, fail
    assert images["xgboost"]["us-east-1"] == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"


def test_rendering_is_reproducible(rendered: tuple[Path, Path], tmp_path: Path) -> None:
    build, _ = rendered
    attempts = tmp_path / "attempts.jsonl"
    attempts.touch()
    run_guarded("ml_code.render", "--output-dir", str(tmp_path / "again"), attempts=attempts)

    for name in ("pipeline-definition.json", "image-uris.json"):
        assert (tmp_path / "again" / name).read_bytes() == (build / name).read_bytes(), name


def test_rendering_ignores_credentials_and_sdk_defaults_of_the_machine(
    rendered: tuple[Path, Path], tmp_path: Path
) -> None:
    # A developer's credentials and SDK defaults file must neither be used for calls nor change the definition.
    build, _ = rendered
    defaults = tmp_path / "config.yaml"
    defaults.write_text(
        "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: false\n"
        "  TrainingJob:\n    EnableNetworkIsolation: false\n"
    )
    attempts = tmp_path / "attempts.jsonl"
    attempts.touch()
    run_guarded(
        "ml_code.render",
        "--output-dir",
        str(tmp_path / "out"),
        attempts=attempts,
        extra_env={
            "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE00",
            "AWS_SECRET_ACCESS_KEY": "example-secret",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "SAGEMAKER_USER_CONFIG_OVERRIDE": str(defaults),
            "XDG_CONFIG_HOME": str(tmp_path),
        },
    )

    assert attempts.read_text() == ""
    assert (tmp_path / "out" / "pipeline-definition.json").read_bytes() == (
        build / "pipeline-definition.json"
    ).read_bytes()


def test_the_guard_really_blocks_connections(tmp_path: Path) -> None:
    # Control: the same guard around a module that does connect must record the attempt (else the tests above
    # would pass with a guard that sees nothing).
    probe = tmp_path / "probe_connect.py"
    probe.write_text(
        "import socket\n"
        "try:\n    socket.create_connection(('example.com', 443), timeout=1)\n"
        "except OSError:\n    pass\n"
    )
    attempts = tmp_path / "attempts.jsonl"
    attempts.touch()
    run_guarded("probe_connect", attempts=attempts, extra_env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO_ROOT}"})

    assert "example.com" in attempts.read_text()


def test_the_build_folder_matches_a_fresh_render(rendered: tuple[Path, Path]) -> None:
    # build/ is what `make test` checks and what deploys; it must be what the current code renders.
    build, _ = rendered
    committed_build = REPO_ROOT / "build" / "pipeline-definition.json"
    if not committed_build.exists():
        raise FileNotFoundError(f"{committed_build} is missing: run `make definition`")
    assert committed_build.read_bytes() == (build / "pipeline-definition.json").read_bytes()


def test_guard_runs_with_the_interpreter_of_the_render_environment() -> None:
    # The SDK must not be importable from the project environment (rule: SDK only in .venv-render).
    completed = subprocess.run(
        [sys.executable, "-c", "import sagemaker"], capture_output=True, text=True, check=False, cwd=REPO_ROOT
    )
    assert completed.returncode != 0 and "No module named 'sagemaker'" in completed.stderr
