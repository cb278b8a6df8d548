"""upsert_pipeline: fill the rendered definition, upload the code, create/update/delete; answer CloudFormation."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from ml_code import SCRIPTS_DIR
from mlops_shared.code_assets import code_assets
from mlops_shared.deploy_tokens import TokenError, token
from tests.unit.functions.conftest import REGION
from upsert_pipeline import app
from upsert_pipeline.pipeline import (
    OWNER_TAG,
    ConfigurationError,
    PipelineOwnedElsewhere,
    PipelineSettings,
    upsert_pipeline,
)

LoadEvent = Callable[[str], dict[str, Any]]
PREPROCESS_KEY = next(a.key for a in code_assets(SCRIPTS_DIR) if a.key.endswith("/preprocess.py"))
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
# A small definition with every deploy token, in the places the renderer puts them.
DEFINITION = {
    "Version": "2020-12-01",
    "Parameters": [{"Name": "ModelApprovalStatus", "Type": "String", "DefaultValue": "PendingManualApproval"}],
    "Steps": [
        {
            "Name": "PreprocessAbaloneData",
            "Type": "Processing",
            "Arguments": {
                "RoleArn": token("ExecutionRoleArn"),
                "AppSpecification": {"ImageUri": token("XGBoostImageUri")},
                "ProcessingOutputConfig": {"KmsKeyId": token("KmsKeyArn")},
                "NetworkConfig": {
                    "VpcConfig": {"Subnets": [token("SubnetIds")], "SecurityGroupIds": [token("SecurityGroupIds")]}
                },
                "Code": f"s3://{token('ArtifactsBucket')}/{PREPROCESS_KEY}",
                "Group": token("ModelPackageGroupName"),
            },
        }
    ],
}


@pytest.fixture
def build_dir(tmp_path: Path) -> Path:
    (tmp_path / "pipeline-definition.json").write_text(json.dumps(DEFINITION))
    (tmp_path / "image-uris.json").write_text(
        json.dumps({"xgboost": {REGION: "img:3.0-5"}, "model-monitor": {REGION: "analyzer:latest"}})
    )
    return tmp_path


@pytest.fixture
def upsert_env(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    values = {
        "PIPELINE_NAME": "abalone-mlops-pipeline",
        "AWS_REGION": REGION,
        "EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/SageMakerExecutionRole",
        "ARTIFACTS_BUCKET": "abalone-mlops-artifacts",
        "KMS_KEY_ARN": KEY_ARN,
        "MODEL_PACKAGE_GROUP_NAME": "abalone",
        "SUBNET_IDS": "subnet-a,subnet-b",
        "SECURITY_GROUP_IDS": "sg-1",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="abalone-mlops-artifacts")
    yield


def clients() -> tuple[Any, Any]:
    return boto3.client("sagemaker", region_name=REGION), boto3.client("s3", region_name=REGION)


@pytest.mark.usefixtures("upsert_env")
class TestUpsert:
    def test_creates_then_updates_the_pipeline_with_every_token_filled(self, build_dir: Path) -> None:
        settings = PipelineSettings.from_env(build_dir)
        sagemaker, s3 = clients()
        arn = upsert_pipeline(settings, sagemaker, s3)
        described = sagemaker.describe_pipeline(PipelineName="abalone-mlops-pipeline")
        definition = json.loads(described["PipelineDefinition"])
        args = definition["Steps"][0]["Arguments"]
        assert args["NetworkConfig"]["VpcConfig"] == {"Subnets": ["subnet-a", "subnet-b"], "SecurityGroupIds": ["sg-1"]}
        assert args["AppSpecification"]["ImageUri"] == "img:3.0-5"
        assert args["Code"] == f"s3://abalone-mlops-artifacts/{PREPROCESS_KEY}"
        assert described["RoleArn"] == "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
        assert upsert_pipeline(settings, sagemaker, s3) == arn  # second call updates in place
        assert len(sagemaker.list_pipelines()["PipelineSummaries"]) == 1

    def test_uploads_the_code_assets_encrypted_with_the_project_key(self, build_dir: Path) -> None:
        sagemaker, s3 = clients()
        upsert_pipeline(PipelineSettings.from_env(build_dir), sagemaker, s3)
        for asset in code_assets(SCRIPTS_DIR):
            obj = s3.get_object(Bucket="abalone-mlops-artifacts", Key=asset.key)
            assert obj["Body"].read() == asset.body
            assert obj["ServerSideEncryption"] == "aws:kms" and obj["SSEKMSKeyId"] == KEY_ARN

    def test_missing_environment_is_named(self, build_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("KMS_KEY_ARN")
        monkeypatch.setenv("SUBNET_IDS", " ")
        with pytest.raises(ConfigurationError, match="KMS_KEY_ARN, SUBNET_IDS"):
            PipelineSettings.from_env(build_dir)

    def test_a_blank_subnet_is_refused(self, build_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SUBNET_IDS", "subnet-a,,subnet-b")
        with pytest.raises(TokenError, match="SubnetIds contains a blank entry"):
            PipelineSettings.from_env(build_dir)

    def test_a_region_without_an_image_is_named(self, build_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AWS_REGION", "eu-west-9")
        with pytest.raises(ConfigurationError, match="no xgboost image URI for region 'eu-west-9'"):
            PipelineSettings.from_env(build_dir)

    def test_a_definition_rendered_from_other_scripts_is_refused(self, build_dir: Path) -> None:
        stale = json.dumps(DEFINITION).replace(PREPROCESS_KEY, "pipeline-code/0123456789abcdef/preprocess.py")
        (build_dir / "pipeline-definition.json").write_text(stale)
        sagemaker, s3 = clients()
        with pytest.raises(ConfigurationError, match="names pipeline-code/0123456789abcdef/preprocess.py.*make build"):
            upsert_pipeline(PipelineSettings.from_env(build_dir), sagemaker, s3)
        assert sagemaker.list_pipelines()["PipelineSummaries"] == []

    def test_a_package_built_without_the_definition_is_named(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigurationError, match="make definition"):
            PipelineSettings.from_env(tmp_path)


@pytest.fixture
def responses(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What the handler PUTs to CloudFormation's ResponseURL (the one outbound HTTP call, captured here)."""
    sent: list[dict[str, Any]] = []

    class _Answer:
        def __enter__(self) -> _Answer:
            return self

        def __exit__(self, *args: object) -> None:
            return None

        def read(self) -> bytes:
            return b""

    def urlopen(request: Any, timeout: float) -> _Answer:
        assert request.get_method() == "PUT" and request.full_url.startswith("https://")
        sent.append(json.loads(request.data))
        return _Answer()

    monkeypatch.setattr("mlops_shared.cloudformation.urllib.request.urlopen", urlopen)
    return sent


@pytest.mark.usefixtures("upsert_env")
class TestCustomResource:
    def test_create_update_delete(
        self, load_event: LoadEvent, lambda_context: Any, responses: list[dict[str, Any]]
    ) -> None:
        sagemaker, _ = clients()
        app.lambda_handler(load_event("upsert_pipeline/cfn-create.json"), lambda_context)
        app.lambda_handler(load_event("upsert_pipeline/cfn-update.json"), lambda_context)
        assert [r["Status"] for r in responses] == ["SUCCESS", "SUCCESS"]
        assert responses[0]["PhysicalResourceId"] == "sagemaker-pipeline/abalone-mlops-pipeline"
        assert responses[0]["Data"]["PipelineName"] == "abalone-mlops-pipeline"
        assert responses[0]["RequestId"] == load_event("upsert_pipeline/cfn-create.json")["RequestId"]
        app.lambda_handler(load_event("upsert_pipeline/cfn-delete.json"), lambda_context)
        assert responses[-1]["Status"] == "SUCCESS"
        assert sagemaker.list_pipelines()["PipelineSummaries"] == []
        # Delete converges: a second Delete (CloudFormation retries) succeeds too
        app.lambda_handler(load_event("upsert_pipeline/cfn-delete.json"), lambda_context)
        assert responses[-1]["Status"] == "SUCCESS"

    def test_a_failure_is_reported_to_cloudformation_and_raised(
        self,
        load_event: LoadEvent,
        lambda_context: Any,
        responses: list[dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.delenv("EXECUTION_ROLE_ARN")
        with pytest.raises(ConfigurationError):
            app.lambda_handler(load_event("upsert_pipeline/cfn-create.json"), lambda_context)
        (response,) = responses
        assert response["Status"] == "FAILED" and "EXECUTION_ROLE_ARN" in response["Reason"]


def test_a_malformed_direct_request_is_refused(aws: None, load_event: LoadEvent, lambda_context: Any) -> None:
    with pytest.raises(app.InvalidInput) as refused:
        app.lambda_handler(load_event("upsert_pipeline/malformed.json"), lambda_context)
    assert str(refused.value) == "not an upsert request: Operation: Input should be 'upsert' (got 'drop-everything')"


def _existing_pipeline(tags: list[dict[str, str]]) -> str:
    """A pipeline named like this stack's, made by someone else (another stack, or a person)."""
    sagemaker, _ = clients()
    arn: str = sagemaker.create_pipeline(
        PipelineName="abalone-mlops-pipeline",
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
        RoleArn="arn:aws:iam::123456789012:role/someone-elses",
        Tags=tags,
    )["PipelineArn"]
    return arn


@pytest.mark.usefixtures("upsert_env")
class TestOwnership:
    """Create never takes over a pipeline this stack did not make; Update and direct invocations keep upserting."""

    OTHER_STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/abalone-mlops-2/00000000-1111-2222-3333-4444"

    def test_create_refuses_a_pipeline_of_another_stack_and_its_rollback_deletes_nothing(
        self, load_event: LoadEvent, lambda_context: Any, responses: list[dict[str, Any]]
    ) -> None:
        _existing_pipeline([{"Key": OWNER_TAG, "Value": self.OTHER_STACK}])
        with pytest.raises(PipelineOwnedElsewhere, match=r"'abalone-mlops-pipeline'.*stack/abalone-mlops-2/"):
            app.lambda_handler(load_event("upsert_pipeline/cfn-create.json"), lambda_context)
        (failed,) = responses
        assert failed["Status"] == "FAILED" and "ResourceNamePrefix" in failed["Reason"]
        # CloudFormation rolls back with a Delete of the physical id the FAILED answer gave: it names no pipeline.
        rollback = {**load_event("upsert_pipeline/cfn-delete.json"), "PhysicalResourceId": failed["PhysicalResourceId"]}
        app.lambda_handler(rollback, lambda_context)
        sagemaker, _ = clients()
        described = sagemaker.describe_pipeline(PipelineName="abalone-mlops-pipeline")
        assert described["RoleArn"].endswith("/someone-elses")  # neither updated nor deleted

    def test_create_refuses_an_untagged_pipeline(
        self, load_event: LoadEvent, lambda_context: Any, responses: list[dict[str, Any]]
    ) -> None:
        _existing_pipeline([])
        with pytest.raises(PipelineOwnedElsewhere, match="no owner tag"):
            app.lambda_handler(load_event("upsert_pipeline/cfn-create.json"), lambda_context)
        assert [r["Status"] for r in responses] == ["FAILED"]

    def test_create_tags_the_pipeline_and_a_retried_create_converges(
        self, load_event: LoadEvent, lambda_context: Any, responses: list[dict[str, Any]]
    ) -> None:
        create = load_event("upsert_pipeline/cfn-create.json")
        app.lambda_handler(create, lambda_context)
        app.lambda_handler(create, lambda_context)
        assert [r["Status"] for r in responses] == ["SUCCESS", "SUCCESS"]
        sagemaker, _ = clients()
        arn = sagemaker.describe_pipeline(PipelineName="abalone-mlops-pipeline")["PipelineArn"]
        assert {"Key": OWNER_TAG, "Value": create["StackId"]} in sagemaker.list_tags(ResourceArn=arn)["Tags"]

    def test_update_and_the_direct_invocation_keep_upserting(
        self, load_event: LoadEvent, lambda_context: Any, responses: list[dict[str, Any]]
    ) -> None:
        _existing_pipeline([])
        app.lambda_handler(load_event("upsert_pipeline/cfn-update.json"), lambda_context)
        assert [r["Status"] for r in responses] == ["SUCCESS"]
        app.lambda_handler(load_event("upsert_pipeline/direct.json"), lambda_context)
        sagemaker, _ = clients()
        assert "someone-elses" not in sagemaker.describe_pipeline(PipelineName="abalone-mlops-pipeline")["RoleArn"]

    def test_delete_leaves_a_pipeline_another_stack_owns(
        self, load_event: LoadEvent, lambda_context: Any, responses: list[dict[str, Any]]
    ) -> None:
        _existing_pipeline([{"Key": OWNER_TAG, "Value": self.OTHER_STACK}])
        app.lambda_handler(load_event("upsert_pipeline/cfn-delete.json"), lambda_context)
        assert [r["Status"] for r in responses] == ["SUCCESS"]
        sagemaker, _ = clients()
        assert len(sagemaker.list_pipelines()["PipelineSummaries"]) == 1
