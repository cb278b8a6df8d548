"""Each Lambda function as ``sam build`` packaged it: the handler module's cold import, and the unzipped size.

Cold import: ``python -X importtime -c "import <handler module>"`` in a fresh interpreter, with the built package
first on ``sys.path`` and the project .venv's site-packages after it. boto3 is not in the package (Lambda's runtime
provides it), so it comes from .venv, as it would come from the runtime. The figure is the sum of the cumulative
import times of the top-level imports the handler module triggers (interpreter start-up excluded).

Lambda runs python3.13; this machine has only python3.11 (no Docker). Pure-Python code is run from the built package
byte for byte, but its compiled extensions are cp313 builds a 3.11 interpreter cannot load. So the import runs from a
copy of the package (build/bench/lambda-py311/<Function>) in which each cp313 extension gets the cp311 build of the
same distribution and version from .venv beside it; a version mismatch is refused rather than measured.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core import FigureSpec, Measurement
from bench.paths import BUILD_DIR, REPO_ROOT, SAM_BUILD_DIR, VENV_PYTHON, BenchError, run_timed

COLD_IMPORT_GOAL_MS = 150.0
SIZE_GOAL_MB = 10.0
MARKER = "bench: handler import starts"
IMPORTTIME_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)\s*$")
EXTENSION_313 = re.compile(r"^(?P<stem>.+)\.cpython-313-(?P<platform>[^.]+)\.so$")
DIST_INFO = re.compile(r"^(?P<name>.+)-(?P<version>[^-]+)\.dist-info$")


def cold_import_spec(function: str) -> FigureSpec:
    return FigureSpec(
        f"lambda.{function}.cold_import", "ms", COLD_IMPORT_GOAL_MS, description="python -X importtime, handler"
    )


def cold_import_cpu_spec(function: str) -> FigureSpec:
    return FigureSpec(
        f"lambda.{function}.cold_import_cpu",
        "ms",
        description="CPU time of the import process minus a bare interpreter's (shutdown included)",
    )


def size_spec(function: str) -> FigureSpec:
    return FigureSpec(f"lambda.{function}.unzipped_size", "MB", SIZE_GOAL_MB, description="sam build output")


@dataclass(frozen=True)
class ImportRecord:
    self_us: int
    cumulative_us: int
    depth: int
    module: str


def parse_importtime(stderr: str, marker: str = MARKER) -> list[ImportRecord]:
    """The ``-X importtime`` records printed after ``marker`` (what the handler import caused), in print order."""
    lines = stderr.splitlines()
    if marker not in lines:
        raise BenchError(f"the import-time output has no marker line {marker!r}; the child failed before it")
    records = []
    for line in lines[lines.index(marker) + 1 :]:
        match = IMPORTTIME_LINE.match(line)
        if match:
            self_us, cumulative_us, indent, module = match.groups()
            records.append(ImportRecord(int(self_us), int(cumulative_us), len(indent) // 2, module))
    return records


def cold_import_ms(records: Iterable[ImportRecord]) -> float:
    """Sum of the top-level cumulative times: every module imported because of the handler import, once."""
    records = list(records)
    if not records:
        raise BenchError("the handler import printed no import-time records (was it imported already?)")
    top = min(record.depth for record in records)
    return sum(record.cumulative_us for record in records if record.depth == top) / 1000


def heaviest(records: Iterable[ImportRecord], count: int = 5) -> list[ImportRecord]:
    """The modules that cost most by their own time (what a profile of the import points at)."""
    return sorted(records, key=lambda record: record.self_us, reverse=True)[:count]


def unzipped_size_bytes(package_dir: Path) -> int:
    """Bytes of every regular file in the package, as Lambda counts the unzipped deployment package."""
    return sum(path.stat().st_size for path in package_dir.rglob("*") if path.is_file() and not path.is_symlink())


def functions_in_template(template: Mapping[str, Any]) -> dict[str, str]:
    """Logical id → handler module (``on_model_approved.app.lambda_handler`` → ``on_model_approved.app``)."""
    functions = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") == "AWS::Serverless::Function":
            handler = str(resource.get("Properties", {}).get("Handler", ""))
            module, _, attribute = handler.rpartition(".")
            if not module or not attribute:
                raise BenchError(f"{logical_id}: handler {handler!r} is not <module>.<function>")
            functions[logical_id] = module
    return functions


def site_packages(python: Path = VENV_PYTHON) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


def _dist_versions(directory: Path) -> dict[str, str]:
    versions = {}
    for entry in directory.glob("*.dist-info"):
        match = DIST_INFO.match(entry.name)
        if match:
            versions[match.group("name").lower().replace("-", "_")] = match.group("version")
    return versions


def py311_copy(package_dir: Path, destination: Path, venv_site: Path) -> Path:
    """A copy of the built package whose cp313 extensions each have the same version's cp311 build beside them."""
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(package_dir, destination)
    built, local = _dist_versions(package_dir), _dist_versions(venv_site)
    for extension in destination.rglob("*.cpython-313-*.so"):
        relative = extension.relative_to(destination)
        distribution = relative.parts[0].lower()
        if distribution in built and local.get(distribution) != built[distribution]:
            raise BenchError(
                f"{package_dir.name}: {distribution} {built[distribution]} is packaged, but .venv has "
                f"{local.get(distribution)}: the cp311 stand-in for {relative} would not be the same code"
            )
        match = EXTENSION_313.match(extension.name)
        if match is None:  # pragma: no cover - the glob only yields matching names
            continue
        stand_in = venv_site / relative.parent / f"{match.group('stem')}.cpython-311-{match.group('platform')}.so"
        if not stand_in.exists():
            raise BenchError(f"{package_dir.name}: no cp311 build of {relative} in {venv_site} to import it with")
        shutil.copy2(stand_in, extension.parent / stand_in.name)
    return destination


def lambda_environment(logical_id: str) -> dict[str, str]:
    """The function's environment from the template (unresolvable references get a placeholder), plus the region
    and function name variables the runtime sets."""
    from cfn import Resolver, TemplateError, TemplateValues, load_template

    template = load_template()
    resolver = Resolver(template, TemplateValues())
    variables = {
        **template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}),
        **template["Resources"][logical_id].get("Properties", {}).get("Environment", {}).get("Variables", {}),
    }
    environment = {}
    for name, value in variables.items():
        try:
            environment[name] = str(resolver.resolve(value))
        except TemplateError:
            environment[name] = f"bench-placeholder-{name.lower()}"
    environment.update(
        {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_LAMBDA_FUNCTION_NAME": logical_id}
    )
    return environment


@dataclass(frozen=True)
class ImportRun:
    records: list[ImportRecord]
    cpu_seconds: float  # the child's CPU time, interpreter start-up included


def import_once(package_dir: Path, module: str | None, environment: Mapping[str, str], venv_site: Path) -> ImportRun:
    """One cold import in a fresh interpreter; the package first on the path, .venv's site-packages after it.

    ``module=None`` runs the same interpreter without the import: the start-up baseline for the CPU figure.
    """
    code = f"import sys; print({MARKER!r}, file=sys.stderr, flush=True)" + (f"; import {module}" if module else "")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108 - only a fallback for a missing HOME
        "PYTHONPATH": f"{package_dir}{os.pathsep}{venv_site}",
        "PYTHONDONTWRITEBYTECODE": "1",
        **environment,
    }
    # -I would drop PYTHONPATH; -s/-E are not wanted either: .venv's site must stay (boto3 is there).
    timed = run_timed([str(VENV_PYTHON), "-X", "importtime", "-c", code], cwd=package_dir, env=env)
    if timed.returncode != 0:
        raise BenchError(f"importing {module} from {package_dir} failed:\n{timed.stderr[-2000:]}")
    return ImportRun(parse_importtime(timed.stderr) if module else [], timed.cpu_seconds)


@dataclass
class LambdaBench:
    """Prepared once per bench run: the py311 copies of the built packages."""

    functions: dict[str, tuple[Path, str, dict[str, str]]]  # logical id → (copy, module, environment)
    sizes: dict[str, int]
    venv_site: Path

    @classmethod
    def prepare(cls, build_dir: Path = SAM_BUILD_DIR) -> LambdaBench:
        from cfn import load_template

        if not (build_dir / "template.yaml").exists():
            raise BenchError(f"{build_dir} holds no sam build output: run `make build` first (make bench does)")
        venv_site = site_packages()
        functions, sizes = {}, {}
        for logical_id, module in functions_in_template(load_template()).items():
            package_dir = build_dir / logical_id
            if not package_dir.is_dir():
                raise BenchError(f"{package_dir} is missing: `sam build` did not build {logical_id}")
            sizes[logical_id] = unzipped_size_bytes(package_dir)
            copy = py311_copy(package_dir, BUILD_DIR / "lambda-py311" / logical_id, venv_site)
            functions[logical_id] = (copy, module, lambda_environment(logical_id))
        return cls(functions, sizes, venv_site)

    def measure(self) -> list[Measurement]:
        measured = []
        for logical_id, (copy, module, environment) in self.functions.items():
            baseline = import_once(copy, None, environment, self.venv_site)
            run = import_once(copy, module, environment, self.venv_site)
            measured.append(Measurement(cold_import_spec(logical_id), cold_import_ms(run.records)))
            cpu_ms = max(run.cpu_seconds - baseline.cpu_seconds, 0.0) * 1000
            measured.append(Measurement(cold_import_cpu_spec(logical_id), cpu_ms))
            measured.append(Measurement(size_spec(logical_id), self.sizes[logical_id] / 1_000_000))
        return measured

    def profile(self) -> dict[str, list[ImportRecord]]:
        """One more import of each handler, keeping the records: the heaviest modules go in the notes."""
        return {
            logical_id: heaviest(import_once(copy, module, environment, self.venv_site).records)
            for logical_id, (copy, module, environment) in self.functions.items()
        }


__all__ = ["REPO_ROOT", "LambdaBench"]
