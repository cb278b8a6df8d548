"""Create, update or delete the SageMaker pipeline from the definition rendered at build time.

The definition and the ml_code scripts ship inside this Lambda package (next to each other, as in the repository:
``ml_code/`` and ``build/`` share a parent), so the upsert needs no SageMaker SDK and no network look-up to build it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import ml_code
from ml_code.code_assets import KEY_PREFIX, CodeAsset, code_assets
from ml_code.deploy_tokens import DeployValues, fill_definition

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient

# ml_code/ and build/ are siblings both in the repository and in the Lambda package (see the Makefile's build target).
BUILD_DIR = Path(ml_code.__file__).resolve().parent.parent / "build"
DEFINITION_FILE = "pipeline-definition.json"
IMAGE_URIS_FILE = "image-uris.json"


class ConfigurationError(ValueError):
    """The function's environment or packaged build outputs are incomplete."""


@dataclass(frozen=True)
class PipelineSettings:
    """Everything the upsert needs, read from the environment the template sets."""

    pipeline_name: str
    region: str
    deploy_values: DeployValues
    build_dir: Path = BUILD_DIR

    @classmethod
    def from_env(cls, build_dir: Path = BUILD_DIR) -> PipelineSettings:
        names = (
            "PIPELINE_NAME",
            "AWS_REGION",
            "EXECUTION_ROLE_ARN",
            "ARTIFACTS_BUCKET",
            "KMS_KEY_ARN",
            "MODEL_PACKAGE_GROUP_NAME",
            "SUBNET_IDS",
            "SECURITY_GROUP_IDS",
        )
        missing = [name for name in names if not os.environ.get(name, "").strip()]
        if missing:
            raise ConfigurationError(f"environment variables not set: {', '.join(missing)}")
        env = {name: os.environ[name].strip() for name in names}
        region = env["AWS_REGION"]
        values = DeployValues(
            execution_role_arn=env["EXECUTION_ROLE_ARN"],
            artifacts_bucket=env["ARTIFACTS_BUCKET"],
            kms_key_arn=env["KMS_KEY_ARN"],
            model_package_group_name=env["MODEL_PACKAGE_GROUP_NAME"],
            xgboost_image_uri=xgboost_image_uri(build_dir, region),
            subnet_ids=split_ids(env["SUBNET_IDS"]),
            security_group_ids=split_ids(env["SECURITY_GROUP_IDS"]),
        )
        return cls(pipeline_name=env["PIPELINE_NAME"], region=region, deploy_values=values, build_dir=build_dir)


def split_ids(text: str) -> tuple[str, ...]:
    """A comma-separated list (as CloudFormation's !Join writes it) to a tuple; DeployValues rejects blanks."""
    return tuple(part.strip() for part in text.split(","))


def xgboost_image_uri(build_dir: Path, region: str) -> str:
    path = build_dir / IMAGE_URIS_FILE
    if not path.exists():
        raise ConfigurationError(f"{path} is missing: the package was built without `make definition`")
    uris: dict[str, dict[str, str]] = json.loads(path.read_text())
    try:
        return uris["xgboost"][region]
    except KeyError:
        raise ConfigurationError(f"{path} has no XGBoost image URI for region {region!r}") from None


def filled_definition(settings: PipelineSettings) -> str:
    path = settings.build_dir / DEFINITION_FILE
    if not path.exists():
        raise ConfigurationError(f"{path} is missing: the package was built without `make definition`")
    return json.dumps(fill_definition(path.read_text(), settings.deploy_values))


def check_code_keys(definition: str, assets: list[CodeAsset]) -> None:
    """Every code object the definition references must be one this package uploads.

    The keys are content hashes, so a definition rendered from other scripts than the packaged ones would point at
    objects that never get uploaded, and the pipeline would fail at its first step. Refuse it here instead.
    """
    referenced = set(re.findall(rf"{re.escape(KEY_PREFIX)}/[0-9a-f]+/[A-Za-z0-9_.\-]+", definition))
    missing = sorted(referenced - {asset.key for asset in assets})
    if missing:
        raise ConfigurationError(
            f"the pipeline definition references code that is not packaged: {', '.join(missing)}; "
            "the definition is stale: run `make definition` (or `make build`) again"
        )


def upload_code(settings: PipelineSettings, s3: S3Client, assets: list[CodeAsset]) -> list[str]:
    """Upload the scripts to their content-addressed keys, encrypted with the project key; return the keys."""
    keys = []
    for asset in assets:
        s3.put_object(
            Bucket=settings.deploy_values.artifacts_bucket,
            Key=asset.key,
            Body=asset.body,
            ContentType=asset.content_type,
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=settings.deploy_values.kms_key_arn,
        )
        keys.append(asset.key)
    return keys


def upsert_pipeline(settings: PipelineSettings, sagemaker: SageMakerClient, s3: S3Client) -> str:
    """Upload the code, then create the pipeline or update it in place; return its ARN."""
    definition = filled_definition(settings)
    assets = code_assets()
    check_code_keys(definition, assets)
    upload_code(settings, s3, assets)
    role = settings.deploy_values.execution_role_arn
    if pipeline_exists(settings.pipeline_name, sagemaker):
        response = sagemaker.update_pipeline(
            PipelineName=settings.pipeline_name, PipelineDefinition=definition, RoleArn=role
        )
        return response["PipelineArn"]
    created = sagemaker.create_pipeline(
        PipelineName=settings.pipeline_name,
        PipelineDefinition=definition,
        RoleArn=role,
        # Idempotent on this token: a retried call with the same definition does not fail on "already exists".
        ClientRequestToken=hashlib.sha256(f"{settings.pipeline_name}|{definition}".encode()).hexdigest(),
    )
    return created["PipelineArn"]


def pipeline_exists(name: str, sagemaker: SageMakerClient) -> bool:
    try:
        sagemaker.describe_pipeline(PipelineName=name)
    except sagemaker.exceptions.ClientError as error:
        # DescribePipeline documents ResourceNotFound; some implementations answer ValidationException instead.
        code = error.response.get("Error", {}).get("Code", "")
        message = str(error.response.get("Error", {}).get("Message", ""))
        if code == "ResourceNotFound" or (code == "ValidationException" and "Could not find pipeline" in message):
            return False
        raise
    return True


def delete_pipeline(name: str, sagemaker: SageMakerClient) -> bool:
    """Delete the pipeline with the stack; an already-deleted pipeline is not an error (Delete must converge)."""
    if not pipeline_exists(name, sagemaker):
        return False
    # A fresh token per call: a retried Delete finds the pipeline gone (above) and converges anyway.
    sagemaker.delete_pipeline(PipelineName=name, ClientRequestToken=uuid.uuid4().hex)
    return True
