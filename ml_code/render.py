"""Render the pipeline definition offline: ``python -m ml_code.render --output-dir build`` (``make definition``).

Writes ``pipeline-definition.json`` (the SDK's definition, with deploy tokens), ``image-uris.json`` (the XGBoost
framework image URI for every region the SDK's image tables know) and ``code-assets.json`` (the code keys the
definition names, with their members' digests), with no AWS credentials and zero network calls:
the SDK's telemetry is switched off through a user config file, and its admin/user defaults files are replaced by
that same file so a developer's ~/.config/sagemaker cannot leak settings into the build. Runs in .venv-render.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# The SDK reads these while being imported, so they are set before ml_code.pipeline (and sagemaker) is imported.
SDK_CONFIG = """\
SchemaVersion: '1.0'
SageMaker:
  PythonSDK:
    Modules:
      TelemetryOptOut: true
"""
DEFINITION_FILE = "pipeline-definition.json"
IMAGE_URIS_FILE = "image-uris.json"
CODE_MANIFEST_FILE = "code-assets.json"


def configure_offline_sdk(config_dir: Path) -> None:
    """Point the SDK at a config that opts out of telemetry, silence its v2 banner, and stop credential probes."""
    config_path = config_dir / "sagemaker-config.yaml"
    config_path.write_text(SDK_CONFIG)
    os.environ["SAGEMAKER_USER_CONFIG_OVERRIDE"] = str(config_path)
    os.environ["SAGEMAKER_ADMIN_CONFIG_OVERRIDE"] = str(config_path)
    os.environ["SAGEMAKER_SUPPRESS_V2_WARNING"] = "1"
    # Importing the SDK builds a default JumpStart session, whose credential chain would probe the EC2 metadata
    # service (a network call, then a logged error); the renderer needs no credentials at all.
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


# Script mode: the SDK writes its session's region (the renderer's nominal one) into this hyperparameter. The training
# toolkit falls back to the job's own region when it is absent (sagemaker-training: `hyperparameters.get(
# "sagemaker_region", boto3.session.Session().region_name)`), and uses it only to fetch code from S3, which it does not
# do here (the code arrives as an input channel). Dropped, so the one definition is right in every region.
REGION_HYPERPARAMETER = "sagemaker_region"


def render_definition() -> dict[str, Any]:
    """The pipeline definition as parsed JSON (tokens unfilled), without the renderer's region."""
    from ml_code.pipeline import get_pipeline

    definition: dict[str, Any] = without_render_region(json.loads(get_pipeline().definition()))
    return definition


def without_render_region(node: Any) -> Any:
    """``node`` with ``sagemaker_region`` removed from every step's HyperParameters (steps nest in conditions)."""
    if isinstance(node, list):
        return [without_render_region(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: without_render_region(value) for key, value in node.items()}
    if isinstance(result.get("HyperParameters"), dict):
        result["HyperParameters"].pop(REGION_HYPERPARAMETER, None)
    return result


def image_uris() -> dict[str, dict[str, str]]:
    """``{"xgboost": {region: uri}, "model-monitor": {region: uri}}``: how the upsert Lambda and the local runner
    fill {{XGBoostImageUri}} and {{ModelMonitorImageUri}}."""
    from ml_code.pipeline import model_monitor_image_uris, xgboost_image_uris

    xgboost = xgboost_image_uris()
    return {"xgboost": xgboost, "model-monitor": model_monitor_image_uris(sorted(xgboost))}


def write_json(path: Path, data: Any) -> None:
    """Stable formatting, so a re-render of unchanged code gives byte-identical files."""
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def render(output_dir: Path) -> tuple[Path, Path]:
    """The definition, the image URIs, and the manifest of the code the definition names (mlops_shared.code_assets)."""
    from ml_code import SCRIPTS_DIR
    from mlops_shared.code_assets import code_assets, manifest

    output_dir.mkdir(parents=True, exist_ok=True)
    definition_path = output_dir / DEFINITION_FILE
    images_path = output_dir / IMAGE_URIS_FILE
    write_json(definition_path, render_definition())
    write_json(images_path, image_uris())
    write_json(output_dir / CODE_MANIFEST_FILE, manifest(code_assets(SCRIPTS_DIR)))
    return definition_path, images_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output-dir", type=Path, default=Path("build"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as config_dir:
        configure_offline_sdk(Path(config_dir))
        definition_path, images_path = render(args.output_dir)
    print(f"wrote {definition_path} and {images_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
