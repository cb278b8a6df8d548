"""`sam validate --lint` and `sam build` pass offline (no Docker, no local python3.13), and the packages are right."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cfn import function_ids, load_template

REPO = Path(__file__).resolve().parents[3]
SAM = REPO / ".venv-sam" / "bin" / "sam"
TEMPLATE = load_template(REPO / "template.yaml")
# Every function of the template, so a new function is checked without editing this list.
FUNCTIONS = tuple(function_ids(TEMPLATE))
# Lambda's runtime (python3.13 on x86_64 Linux), whatever machine builds: the Makefile's cross-platform pip install.
LAMBDA_EXTENSION_SUFFIX = ".cpython-313-x86_64-linux-gnu.so"
SIZE_LIMIT_MB = 20  # measured ~14 MB unzipped (Powertools + pydantic-core); see README "Deploy to AWS"


def sam(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    if not SAM.exists():
        raise FileNotFoundError(f"{SAM} is missing: run `make .venv-sam/.installed` (make test does)")
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}
    return subprocess.run([str(SAM), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def test_sam_validate_lint() -> None:
    result = sam("validate", "--lint", "--template", "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    build_dir = tmp_path_factory.mktemp("sam-build")
    result = sam("build", "--template", "template.yaml", "--build-dir", str(build_dir))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    yield build_dir


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1_000_000


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_is_built_without_the_sdk_or_boto3(built: Path, function: str) -> None:
    package = built / function
    top_level = {p.name for p in package.iterdir()}
    assert "aws_lambda_powertools" in top_level and "pydantic_core" in top_level
    assert not top_level & {"sagemaker", "boto3", "botocore", "s3transfer"}, top_level
    assert size_mb(package) < SIZE_LIMIT_MB
    assert not list(package.rglob("__pycache__"))
    handler_package = TEMPLATE["Resources"][function]["Properties"]["Handler"].split(".")[0]
    assert (package / handler_package / "app.py").is_file()


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_native_extension_is_built_for_lambdas_python_and_platform(built: Path, function: str) -> None:
    package = built / function
    extensions = sorted(p.relative_to(package).as_posix() for p in package.rglob("*.so"))
    assert [e for e in extensions if e.startswith("pydantic_core/")] == [
        f"pydantic_core/_pydantic_core{LAMBDA_EXTENSION_SUFFIX}"
    ], extensions
    wrong = [e for e in extensions if not e.endswith(LAMBDA_EXTENSION_SUFFIX) and ".abi3." not in e]
    assert not wrong, f"native extensions not built for cpython-313 x86_64 Linux: {wrong}"


def test_the_upsert_package_carries_the_definition_and_the_sdk_free_ml_code(built: Path) -> None:
    package = built / "UpsertPipelineFunction"
    assert (package / "build" / "pipeline-definition.json").read_bytes() == (
        REPO / "build" / "pipeline-definition.json"
    ).read_bytes()
    assert (package / "build" / "image-uris.json").exists()
    ml_code = {p.name for p in (package / "ml_code").iterdir()}
    assert ml_code == {"__init__.py", "deploy_tokens.py", "code_assets.py", "preprocess.py", "train.py", "evaluate.py"}
    assert (package / "upsert_pipeline" / "app.py").exists()


def test_the_helpers_package_carries_the_pipelines_parameter_names(built: Path) -> None:
    ml_code = {p.name for p in (built / "PipelineHelpersFunction" / "ml_code").iterdir()}
    assert ml_code == {"__init__.py", "pipeline_names.py"}
    assert (built / "PipelineHelpersFunction" / "ml_code" / "pipeline_names.py").read_bytes() == (
        REPO / "ml_code" / "pipeline_names.py"
    ).read_bytes()


@pytest.mark.parametrize(
    "function", ["UpsertPipelineFunction", "CleanupDeploymentsFunction", "PruneDeploymentsFunction"]
)
def test_custom_resource_functions_carry_the_one_cloudformation_answerer(built: Path, function: str) -> None:
    shipped = built / function / "mlops_shared.cloudformation" / "__init__.py"
    assert shipped.read_bytes() == (REPO / "functions" / "mlops_shared.cloudformation" / "__init__.py").read_bytes()


def test_the_built_template_keeps_the_asl_file_and_its_substitutions(built: Path) -> None:
    text = (built / "template.yaml").read_text()
    assert "DefinitionSubstitutions" in text and "train_deploy.asl.json" in text
