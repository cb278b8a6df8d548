"""Create, update or delete the SageMaker pipeline from the definition rendered at build time.

The definition and the ml_code scripts ship inside this Lambda package (next to each other, as in the repository:
``ml_code/`` and ``build/`` share a parent), so the upsert needs no SageMaker SDK and no network look-up to build it.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ml_code import SCRIPTS_DIR
from mlops_shared.code_assets import MANIFEST_FILE, CodeAsset, StaleCodeError, publish_code_assets, read_manifest
from mlops_shared.deploy_tokens import DeployValues, fill_definition
from mlops_shared.images import image_uri
from mlops_shared.settings import ConfigurationError as ConfigurationError  # re-exported: environment, build outputs

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient

# ml_code/ and build/ are siblings both in the repository and in the Lambda package (see the Makefile's build target).
BUILD_DIR = SCRIPTS_DIR.parent / "build"
DEFINITION_FILE = "pipeline-definition.json"
# The CloudFormation stack that created the pipeline (its StackId). Create refuses a pipeline of the same name that
# another stack (or a person) made, so deleting this stack can never delete someone else's pipeline.
OWNER_TAG = "abalone-mlops:cloudformation-stack-id"


class PipelineOwnedElsewhere(ValueError):
    """CloudFormation Create found a pipeline of this name that this stack did not create."""


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
            xgboost_image_uri=image_uri(build_dir, "xgboost", region),
            model_monitor_image_uri=image_uri(build_dir, "model-monitor", region),
            subnet_ids=split_ids(env["SUBNET_IDS"]),
            security_group_ids=split_ids(env["SECURITY_GROUP_IDS"]),
        )
        return cls(pipeline_name=env["PIPELINE_NAME"], region=region, deploy_values=values, build_dir=build_dir)


def split_ids(text: str) -> tuple[str, ...]:
    """A comma-separated list (as CloudFormation's !Join writes it) to a tuple; DeployValues rejects blanks."""
    return tuple(part.strip() for part in text.split(","))


def filled_definition(settings: PipelineSettings) -> str:
    path = settings.build_dir / DEFINITION_FILE
    if not path.exists():
        raise ConfigurationError(f"{path} is missing: the package was built without `make definition`")
    return json.dumps(fill_definition(path.read_text(), settings.deploy_values))


def upload_code(settings: PipelineSettings, s3: S3Client, definition: str) -> list[str]:
    """Upload the scripts to their content-addressed keys, encrypted with the project key; return the keys.

    A definition that references code these scripts do not produce is stale: refused before anything is uploaded.
    """

    def put(asset: CodeAsset) -> None:
        s3.put_object(
            Bucket=settings.deploy_values.artifacts_bucket,
            Key=asset.key,
            Body=asset.body,
            ContentType=asset.content_type,
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=settings.deploy_values.kms_key_arn,
        )

    rendered = read_manifest(settings.build_dir / MANIFEST_FILE)
    try:
        return [asset.key for asset in publish_code_assets(definition, put, SCRIPTS_DIR, rendered=rendered)]
    except StaleCodeError as error:
        raise ConfigurationError(str(error)) from error


def upsert_pipeline(
    settings: PipelineSettings,
    sagemaker: SageMakerClient,
    s3: S3Client,
    *,
    stack_id: str | None = None,
    adopt_existing: bool = True,
) -> str:
    """Upload the code, then create the pipeline or update it in place; return its ARN.

    ``stack_id``: the CloudFormation stack asking (custom resource); a pipeline created for it is tagged with it.
    ``adopt_existing=False`` (CloudFormation Create): an existing pipeline of this name is updated only if it carries
    this stack's tag (a retried Create), otherwise refused: it belongs to another stack or to someone else.
    """
    definition = filled_definition(settings)
    existing = describe_pipeline_or_none(settings.pipeline_name, sagemaker)
    if existing is not None and not adopt_existing:
        refuse_foreign_pipeline(settings.pipeline_name, existing, stack_id, sagemaker)
    upload_code(settings, s3, definition)
    role = settings.deploy_values.execution_role_arn
    if existing is not None:
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
        Tags=[{"Key": OWNER_TAG, "Value": stack_id}] if stack_id else [],
    )
    return created["PipelineArn"]


def pipeline_owner(pipeline_arn: str, sagemaker: SageMakerClient) -> str | None:
    """The stack id the pipeline was tagged with when a stack created it; None if it has no such tag."""
    paginator = sagemaker.get_paginator("list_tags")
    for page in paginator.paginate(ResourceArn=pipeline_arn):
        for tag in page.get("Tags", []):
            if tag["Key"] == OWNER_TAG:
                return tag["Value"]
    return None


def refuse_foreign_pipeline(name: str, pipeline_arn: str, stack_id: str | None, sagemaker: SageMakerClient) -> None:
    owner = pipeline_owner(pipeline_arn, sagemaker)
    if stack_id and owner == stack_id:
        return  # this stack created it: a retried Create converges
    whose = f"it belongs to stack {owner}" if owner else "no stack created it (it has no owner tag)"
    raise PipelineOwnedElsewhere(
        f"a SageMaker pipeline named {name!r} already exists and {whose}; this stack will not take it over (and "
        "would delete it with the stack). Deploy with another ResourceNamePrefix, or delete that pipeline first"
    )


def describe_pipeline_or_none(name: str, sagemaker: SageMakerClient) -> str | None:
    """The pipeline's ARN, or None if no pipeline has this name."""
    try:
        described = sagemaker.describe_pipeline(PipelineName=name)
    except sagemaker.exceptions.ClientError as error:
        if _not_found(error.response):
            return None
        raise
    return described["PipelineArn"]


def _not_found(response: Any) -> bool:
    # DescribePipeline documents ResourceNotFound; some implementations answer ValidationException instead.
    code = response.get("Error", {}).get("Code", "")
    message = str(response.get("Error", {}).get("Message", ""))
    return bool(code == "ResourceNotFound" or (code == "ValidationException" and "Could not find pipeline" in message))


def delete_pipeline(name: str, sagemaker: SageMakerClient, stack_id: str | None = None) -> bool:
    """Delete the pipeline with the stack; an already-deleted pipeline is not an error (Delete must converge).

    With ``stack_id``, a pipeline tagged as another stack's is left alone: it was never this stack's to delete.
    """
    arn = describe_pipeline_or_none(name, sagemaker)
    if arn is None:
        return False
    owner = pipeline_owner(arn, sagemaker) if stack_id else None
    if owner is not None and owner != stack_id:
        return False
    # A fresh token per call: a retried Delete finds the pipeline gone (above) and converges anyway.
    sagemaker.delete_pipeline(PipelineName=name, ClientRequestToken=uuid.uuid4().hex)
    return True
