"""Each Lambda function as ``sam build`` packaged it: the handler module's cold import, and the unzipped sizes.

Cold import, as Lambda runs it: a fresh Lambda runtime interpreter (python3.13, found by ``tools/find-python 3.13``,
started with ``-S`` so none of that interpreter's own site-packages are seen) whose ``sys.path`` is what it is in
Lambda and in the emulator's workers (local_twin/emulator/lambda_bootstrap.py): the built function package
(/var/task), the ``python`` folders of its layers (/opt/python) and ``build/lambda-runtime/python`` (/var/runtime:
the runtime's own boto3 and awslambdaric, at the runtime's versions; nothing else). The runtime interface client's
bootstrap (``awslambdaric.bootstrap``) is imported first, as Lambda has it loaded before it imports the handler; then
a marker line; then ``importlib.import_module(<handler module>)`` and the handler attribute is looked up. The figure
is the sum of the cumulative ``-X importtime`` times of the top-level imports after the marker: what the handler
import costs, interpreter start-up and the runtime's own imports excluded. The process runs in the package folder
with ``PYTHONDONTWRITEBYTECODE=1`` (Lambda's code folders are read-only) and the function's environment from the
template.

``cold_import`` imports the packages as built, with the python3.13 bytecode the build ships;
``cold_import_without_bytecode`` imports copies of the same packages without their ``__pycache__`` folders
(build/bench/lambda-source/), so every module is compiled on import: the difference is what the shipped bytecode
saves on every cold start.

Sizes: the bytes of every file of each function's package and of each layer (10^6-byte MB), and each function's
package plus its layers against Lambda's quota of 250 MB unzipped, function and layers together (262,144,000 bytes,
the figure Lambda's error quotes).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core import FigureSpec, Measurement
from bench.paths import BUILD_DIR, LAMBDA_RUNTIME_DIR, REPO_ROOT, SAM_BUILD_DIR, BenchError, run_timed

COLD_IMPORT_GOAL_MS = 150.0
SIZE_GOAL_MB = 10.0
LAMBDA_UNZIPPED_LIMIT_BYTES = 262_144_000  # "Unzipped size must be smaller than 262144000 bytes" (250 MB quota)
SIZE_LIMIT_GOAL_PERCENT = 100.0
MARKER = "bench: handler import starts"
RUNTIME_BOOTSTRAP = "awslambdaric.bootstrap"  # what Lambda's python3.13 runtime has imported before the handler
LAMBDA_PYTHON = "3.13"
FIND_PYTHON = REPO_ROOT / "tools" / "find-python"
SOURCE_COPIES = BUILD_DIR / "lambda-source"
SAM_FUNCTION = "AWS::Serverless::Function"
SAM_LAYER = "AWS::Serverless::LayerVersion"
PLACEHOLDER = "bench-placeholder:"  # what an unresolvable !Ref / !GetAtt becomes when the template is read offline
IMPORTTIME_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)\s*$")
SETUP_HINT = "run `make build lambda-runtime` (make bench does)"


# --- figures -------------------------------------------------------------------------------------------------------
def cold_import_spec(function: str) -> FigureSpec:
    return FigureSpec(
        f"lambda.{function}.cold_import",
        "ms",
        COLD_IMPORT_GOAL_MS,
        description="python3.13 -X importtime, handler module, built package with its bytecode",
    )


def cold_import_cpu_spec(function: str) -> FigureSpec:
    return FigureSpec(
        f"lambda.{function}.cold_import_cpu",
        "ms",
        description="CPU time of the import process minus the same process without the handler import",
    )


def without_bytecode_spec(function: str) -> FigureSpec:
    return FigureSpec(
        f"lambda.{function}.cold_import_without_bytecode",
        "ms",
        description="the same import from copies of the packages without __pycache__ (every module compiled)",
    )


def size_spec(function: str) -> FigureSpec:
    return FigureSpec(
        f"lambda.{function}.unzipped_size", "MB", SIZE_GOAL_MB, description="sam build output, the function's package"
    )


def layer_size_spec(layer: str) -> FigureSpec:
    return FigureSpec(f"lambda.{layer}.unzipped_size", "MB", description="sam build output, the layer")


def size_limit_spec(function: str) -> FigureSpec:
    return FigureSpec(
        f"lambda.{function}.share_of_size_limit",
        "%",
        SIZE_LIMIT_GOAL_PERCENT,
        description="package + its layers, unzipped, of Lambda's 250 MB (262,144,000 bytes) quota",
    )


# --- the template --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Handler:
    """A function's ``Handler``: ``deployments.app.step_handler`` → module ``deployments.app``, ``step_handler``."""

    module: str
    attribute: str


def functions_in_template(template: Mapping[str, Any]) -> dict[str, Handler]:
    """Logical id → handler, for every ``AWS::Serverless::Function`` of the template (in template order)."""
    functions = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") == SAM_FUNCTION:
            handler = str(resource.get("Properties", {}).get("Handler", ""))
            module, _, attribute = handler.rpartition(".")
            if not module or not attribute:
                raise BenchError(f"{logical_id}: handler {handler!r} is not <module>.<attribute>")
            functions[logical_id] = Handler(module, attribute)
    return functions


def template_layers(function_layers: Iterable[str], template: Mapping[str, Any]) -> list[str]:
    """The logical ids of the template's own layers among a function's resolved ``Layers`` (read with placeholders:
    ``!Ref SharedLayer`` is ``bench-placeholder:SharedLayer``). A layer from outside the template (an ARN) is not in
    the build, so its size and code cannot be counted: an error, rather than a figure that leaves it out."""
    resources = template.get("Resources", {})
    layers = []
    for layer in function_layers:
        logical_id = layer.removeprefix(PLACEHOLDER)
        if not layer.startswith(PLACEHOLDER) or resources.get(logical_id, {}).get("Type") != SAM_LAYER:
            raise BenchError(f"layer {layer} is not built by sam build from this template: it cannot be measured")
        layers.append(logical_id)
    return layers


@dataclass(frozen=True)
class LambdaFunction:
    """One function as the bench imports it: its handler, package, layers and environment."""

    logical_id: str
    handler: Handler
    code_dir: Path
    layers: tuple[str, ...]
    environment: dict[str, str]


def read_functions(
    template: Mapping[str, Any], build_dir: Path, parameters: Mapping[str, str], region: str
) -> list[LambdaFunction]:
    """Every function of the template, with its configuration as SAM merges Globals (``parameters`` for those the
    template gives no default; the defaults for the rest)."""
    from cfn import TemplateValues, function_config

    values = TemplateValues(region=region, parameters=dict(parameters), placeholder=lambda name: f"{PLACEHOLDER}{name}")
    functions = []
    for logical_id, handler in functions_in_template(template).items():
        config = function_config(template, logical_id, values)
        if config.runtime != f"python{LAMBDA_PYTHON}":
            raise BenchError(f"{logical_id} runs {config.runtime}; the bench runs python{LAMBDA_PYTHON} only")
        functions.append(
            LambdaFunction(
                logical_id=logical_id,
                handler=handler,
                code_dir=build_dir / logical_id,
                layers=tuple(template_layers(config.layers, template)),
                environment=lambda_environment(logical_id, config.environment, config.memory_mb, region),
            )
        )
    return functions


def lambda_environment(logical_id: str, variables: Mapping[str, str], memory_mb: int, region: str) -> dict[str, str]:
    """What the process sees: Lambda's reserved variables (as the emulator's workers set them), throw-away
    credentials and no config files (nothing at import time may reach AWS), and the template's variables."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONDONTWRITEBYTECODE": "1",  # Lambda's /var/task and /opt are read-only
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{LAMBDA_PYTHON}",
        "AWS_LAMBDA_FUNCTION_NAME": logical_id,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        **variables,
    }


# --- import-time output --------------------------------------------------------------------------------------------
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


# --- sizes ---------------------------------------------------------------------------------------------------------
def unzipped_size_bytes(package_dir: Path) -> int:
    """Bytes of every regular file in the package, as Lambda counts the unzipped deployment package."""
    return sum(path.stat().st_size for path in package_dir.rglob("*") if path.is_file() and not path.is_symlink())


def share_of_limit_percent(package_bytes: int, layer_bytes: Iterable[int]) -> float:
    """A function's package and its layers, unzipped, as a percentage of Lambda's unzipped-size quota."""
    return (package_bytes + sum(layer_bytes)) / LAMBDA_UNZIPPED_LIMIT_BYTES * 100


# --- the import process --------------------------------------------------------------------------------------------
def layer_paths(layer_dir: Path, python: str = LAMBDA_PYTHON) -> list[Path]:
    """A built layer's folders on Lambda's ``sys.path`` (/opt/python/lib/python3.x/site-packages, /opt/python), in
    the emulator's order, those that exist."""
    candidates = (layer_dir / "python" / "lib" / f"python{python}" / "site-packages", layer_dir / "python")
    return [path for path in candidates if path.is_dir()]


def import_code(search_path: Sequence[Path], handler: Handler | None, marker: str = MARKER) -> str:
    """The ``-c`` program: Lambda's ``sys.path``, the runtime's bootstrap, the marker, then the handler import (none:
    the baseline for the CPU figure). ``sys.path[0]`` (the ``-c`` entry, the working folder) is replaced, as the
    emulator's bootstrap replaces its own folder; the standard library after it stays."""
    lines = [
        "import sys",
        f"sys.path[:] = {[str(path) for path in search_path]!r} + sys.path[1:]",
        f"import {RUNTIME_BOOTSTRAP}",
        f"print({marker!r}, file=sys.stderr, flush=True)",
    ]
    if handler is not None:
        lines += [
            "import importlib",
            f"handler = getattr(importlib.import_module({handler.module!r}), {handler.attribute!r})",
            "assert callable(handler), 'the handler is not callable'",
        ]
    return "\n".join(lines)


@dataclass(frozen=True)
class ImportRun:
    records: list[ImportRecord]
    cpu_seconds: float  # the child's CPU time, interpreter start-up included


def find_python(version: str = LAMBDA_PYTHON) -> Path:
    """The Lambda runtime's interpreter, found as the build and the emulator find it (``tools/find-python``)."""
    found = subprocess.run([str(FIND_PYTHON), version], capture_output=True, text=True, check=False)
    if found.returncode != 0 or not found.stdout.strip():
        raise BenchError(f"no python{version} for the Lambda figures: {found.stderr.strip() or found.stdout.strip()}")
    return Path(found.stdout.strip())


def import_once(
    python: Path, code_dir: Path, search_path: Sequence[Path], handler: Handler | None, environment: Mapping[str, str]
) -> ImportRun:
    """One cold import in a fresh runtime interpreter (``-S``: only ``search_path`` and the standard library)."""
    env = {**environment, "LAMBDA_TASK_ROOT": str(code_dir), "LAMBDA_RUNTIME_DIR": str(LAMBDA_RUNTIME_DIR / "python")}
    if handler is not None:
        env["_HANDLER"] = f"{handler.module}.{handler.attribute}"
    timed = run_timed(
        [str(python), "-S", "-X", "importtime", "-c", import_code(search_path, handler)], cwd=code_dir, env=env
    )
    if timed.returncode != 0:
        what = f"importing {handler.module}" if handler else f"starting python{LAMBDA_PYTHON} with {RUNTIME_BOOTSTRAP}"
        raise BenchError(f"{what} from {code_dir} failed (exit {timed.returncode}):\n{timed.stderr[-2000:]}")
    return ImportRun(parse_importtime(timed.stderr) if handler else [], timed.cpu_seconds)


def copy_without_bytecode(package_dir: Path, destination: Path) -> Path:
    """A copy of a built package without its ``__pycache__`` folders (a fresh copy on every call)."""
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(package_dir, destination, ignore=shutil.ignore_patterns("__pycache__"), symlinks=True)
    return destination


def check_built(build_dir: Path = SAM_BUILD_DIR, runtime_dir: Path = LAMBDA_RUNTIME_DIR) -> None:
    """The inputs the Lambda figures need exist: ``sam build``'s packages and the runtime's libraries."""
    if not (build_dir / "template.yaml").is_file():
        raise BenchError(f"{build_dir} holds no sam build output: {SETUP_HINT}")
    if not (runtime_dir / "python" / "boto3").is_dir():
        raise BenchError(f"{runtime_dir / 'python'} holds no Lambda runtime libraries (boto3): {SETUP_HINT}")


@dataclass
class LambdaBench:
    """Prepared once per bench run: the functions, their layers, the copies without bytecode, the sizes."""

    python: Path
    functions: list[LambdaFunction]
    build_dir: Path
    sizes: dict[str, int]  # logical id (function or layer) → unzipped bytes

    @classmethod
    def prepare(cls, build_dir: Path = SAM_BUILD_DIR) -> LambdaBench:
        from cfn import load_template
        from local_twin.emulator.account import REGION, SECURITY_GROUPS, SUBNETS

        check_built(build_dir)
        python = find_python()
        # the emulator's network IDs for the parameters without a default (network.yaml's outputs in AWS)
        network = {"PrivateSubnetIds": ",".join(SUBNETS), "SecurityGroupIds": ",".join(SECURITY_GROUPS)}
        functions = read_functions(load_template(), build_dir, network, REGION)
        sizes: dict[str, int] = {}
        for logical_id in [f.logical_id for f in functions] + sorted({layer for f in functions for layer in f.layers}):
            package = build_dir / logical_id
            if not package.is_dir():
                raise BenchError(f"{package} is missing: sam build did not build {logical_id}; {SETUP_HINT}")
            sizes[logical_id] = unzipped_size_bytes(package)
            copy_without_bytecode(package, SOURCE_COPIES / logical_id)
        return cls(python, functions, build_dir, sizes)

    def search_path(self, function: LambdaFunction, root: Path) -> list[Path]:
        """``sys.path`` as Lambda builds it: the package, its layers' folders, the runtime's libraries."""
        layers = [path for layer in function.layers for path in layer_paths(root / layer)]
        return [root / function.logical_id, *layers, LAMBDA_RUNTIME_DIR / "python"]

    def _import(self, function: LambdaFunction, root: Path, handler: Handler | None) -> ImportRun:
        code_dir = root / function.logical_id
        return import_once(self.python, code_dir, self.search_path(function, root), handler, function.environment)

    def measure(self) -> list[Measurement]:
        measured = []
        for function in self.functions:
            baseline = self._import(function, self.build_dir, None)
            built = self._import(function, self.build_dir, function.handler)
            source = self._import(function, SOURCE_COPIES, function.handler)
            cpu_ms = max(built.cpu_seconds - baseline.cpu_seconds, 0.0) * 1000
            layer_bytes = [self.sizes[layer] for layer in function.layers]
            measured += [
                Measurement(cold_import_spec(function.logical_id), cold_import_ms(built.records)),
                Measurement(cold_import_cpu_spec(function.logical_id), cpu_ms),
                Measurement(without_bytecode_spec(function.logical_id), cold_import_ms(source.records)),
                Measurement(size_spec(function.logical_id), self.sizes[function.logical_id] / 1_000_000),
                Measurement(
                    size_limit_spec(function.logical_id),
                    share_of_limit_percent(self.sizes[function.logical_id], layer_bytes),
                ),
            ]
        for layer in sorted({layer for function in self.functions for layer in function.layers}):
            measured.append(Measurement(layer_size_spec(layer), self.sizes[layer] / 1_000_000))
        return measured

    def profile(self) -> dict[str, list[ImportRecord]]:
        """One more import of each handler, keeping the records: the heaviest modules go in the notes."""
        return {
            function.logical_id: heaviest(self._import(function, self.build_dir, function.handler).records)
            for function in self.functions
        }
