"""Where things are (the repository, the environments measured, the bench's output folder); timing a child process."""

from __future__ import annotations

import resource
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = REPO_ROOT / "build" / "bench"
RESULTS_PATH = BUILD_DIR / "results.json"
VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
RENDER_PYTHON = REPO_ROOT / ".venv-render" / "bin" / "python"
SAM_BUILD_DIR = REPO_ROOT / ".aws-sam" / "build"  # what `make build` (sam build) writes
LAMBDA_RUNTIME_DIR = REPO_ROOT / "build" / "lambda-runtime"  # what `make lambda-runtime` writes


class BenchError(RuntimeError):
    """A measurement could not be taken; the message says which and why (the other groups still run)."""


@dataclass(frozen=True)
class Timed:
    """A finished child process, with its wall time and the CPU time (user + system) it and its children used.

    On a shared machine the wall time includes waiting for a CPU; the CPU time does not, so the two together say how
    much of a figure is the code and how much is the machine's load.
    """

    returncode: int
    stdout: str
    stderr: str
    wall_seconds: float
    cpu_seconds: float


def run_timed(
    command: Sequence[str], *, cwd: Path = REPO_ROOT, log: Path | None = None, env: Mapping[str, str] | None = None
) -> Timed:
    """Run a command to its end; its output goes to ``log`` if given, else it is captured and returned."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    stdout = stderr = ""
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as handle:
            returncode = subprocess.run(
                command, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT, env=env, check=False
            ).returncode
    else:
        captured = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
        returncode, stdout, stderr = captured.returncode, captured.stdout, captured.stderr
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timed(returncode, stdout, stderr, wall, cpu)
