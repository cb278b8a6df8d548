"""Production's rule and staging's smoke test (deployments/registry.py, deployments/verification.py).

A target account reads the registry account's group by its ARN; SageMaker's answers come from botocore's Stubber
(moto has neither cross-account registries nor ModelLifeCycle in its listings), which checks each request exactly.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from deployments import registry, verification
from deployments.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient

REGION = "us-east-1"
REGISTRY = "111122223333"
GROUP = "abalone"
GROUP_ARN = f"arn:aws:sagemaker:{REGION}:{REGISTRY}:model-package-group/{GROUP}"
NOW = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
PRODUCTION = Settings(
    group=GROUP,
    endpoint_name="abalone-mlops-endpoint",
    resource_prefix="abalone-mlops",
    target="endpoint",
    when_no_approved="KeepLastModel",
    artifacts_bucket="prod-artifacts",
    batch_input_prefix="s3://prod-artifacts/batch/input/",
    poll_seconds=0,
    max_polls=5,
    stage="production",
    registry_account=REGISTRY,
    region=REGION,
)
CREDENTIALS = {"region_name": REGION, "aws_access_key_id": "x", "aws_secret_access_key": "x"}


def arn(version: int) -> str:
    return f"arn:aws:sagemaker:{REGION}:{REGISTRY}:model-package/{GROUP}/{version}"


@pytest.fixture
def sagemaker() -> Iterator[Stubber]:
    with Stubber(boto3.client("sagemaker", **CREDENTIALS)) as stubber:  # type: ignore[call-overload]
        yield stubber
        stubber.assert_no_pending_responses()


def client(stubber: Stubber) -> SageMakerClient:
    sagemaker: SageMakerClient = stubber.client  # type: ignore[assignment]  # the stubbed boto3 client
    return sagemaker


def listed(stubber: Stubber, versions: list[int]) -> None:
    stubber.add_response(
        "list_model_packages",
        {
            "ModelPackageSummaryList": [
                {
                    "ModelPackageGroupName": GROUP,
                    "ModelPackageVersion": v,
                    "ModelPackageArn": arn(v),
                    "CreationTime": NOW,
                    "ModelPackageStatus": "Completed",
                    "ModelApprovalStatus": "Approved",
                }
                for v in versions
            ]
        },
        {"ModelPackageGroupName": GROUP_ARN, "ModelApprovalStatus": "Approved"},
    )


def described(stubber: Stubber, version: int, stage: str | None, metadata: dict[str, str] | None = None) -> None:
    answer: dict[str, Any] = {
        "ModelPackageName": GROUP,
        "ModelPackageArn": arn(version),
        "ModelPackageVersion": version,
        "CreationTime": NOW,
        "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": {"ValidationStatuses": []},
        "ModelApprovalStatus": "Approved",
    }
    if stage:
        answer["ModelLifeCycle"] = {"Stage": stage, "StageStatus": "Approved"}
    if metadata:
        answer["CustomerMetadataProperties"] = metadata
    stubber.add_response("describe_model_package", answer, {"ModelPackageName": arn(version)})


class TestProductionRule:
    def test_the_highest_promoted_verified_version_serves(self, sagemaker: Stubber) -> None:
        listed(sagemaker, [2, 4, 3])
        described(sagemaker, 4, None)  # approved (staging has it) but not promoted
        described(sagemaker, 3, "Production", {"staging-verification": "verified"})

        wanted = registry.desired(PRODUCTION, client(sagemaker))

        assert wanted == registry.Desired(registry.Package(arn(3), 3, "Approved"))

    def test_a_promoted_version_staging_did_not_verify_is_refused_naming_why(self, sagemaker: Stubber) -> None:
        listed(sagemaker, [2, 3])
        described(
            sagemaker,
            3,
            "Production",
            {"staging-verification": "failed", "staging-error-rate": "0.3000", "staging-p99-latency-ms": "12.0"},
        )
        described(sagemaker, 2, "Production", {"staging-verification": "verified"})

        wanted = registry.desired(PRODUCTION, client(sagemaker))

        assert wanted.package == registry.Package(arn(2), 2, "Approved")  # the last verified promotion keeps serving
        assert wanted.refused == registry.Package(arn(3), 3, "Approved")
        assert wanted.refusal == (
            "version 3 was promoted to production but staging's smoke test did not verify it (staging-error-rate "
            "0.3000, staging-p99-latency-ms 12.0, staging-verification failed)"
        )

    def test_a_promotion_before_staging_ran_is_refused_and_nothing_serves(self, sagemaker: Stubber) -> None:
        listed(sagemaker, [1])
        described(sagemaker, 1, "Production")

        wanted = registry.desired(PRODUCTION, client(sagemaker))

        assert (wanted.package, wanted.refusal) == (
            None,
            "version 1 was promoted to production but staging has not verified it",
        )

    def test_a_stage_other_than_production_is_not_a_promotion(self, sagemaker: Stubber) -> None:
        listed(sagemaker, [1])
        described(sagemaker, 1, "Staging", {"staging-verification": "verified"})
        assert registry.desired(PRODUCTION, client(sagemaker)) == registry.Desired(None)


# ======================================================================================================================
# the smoke test
# ======================================================================================================================
class FakeRuntime:
    """sagemaker-runtime's InvokeEndpoint, answering each CSV request with one prediction per row (or failing)."""

    def __init__(self, answer: str = "9.5", fail_every: int = 0) -> None:
        self.answer, self.fail_every, self.calls = answer, fail_every, 0
        self.exceptions = boto3.client("sagemaker-runtime", **CREDENTIALS).exceptions  # type: ignore[call-overload]

    def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
        self.calls += 1
        if self.fail_every and self.calls % self.fail_every == 0:
            raise self.exceptions.ModelError(
                {"Error": {"Code": "ModelError", "Message": "Received client error (400) from primary"}},
                "InvokeEndpoint",
            )
        rows = request["Body"].decode().splitlines()
        body = "".join(f"{self.answer}\n" for _ in rows).encode()
        return {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "text/csv"}


def runtime(fake: FakeRuntime) -> SageMakerRuntimeClient:
    return fake  # type: ignore[return-value]  # the two calls the smoke test makes


class TestSmokeTest:
    ROWS = [f"M,0.4{i},0.3,0.1,0.5,0.2,0.1,0.15" for i in range(25)]

    def test_every_row_answered_with_a_number_is_verified(self) -> None:
        result = verification.smoke_test("ep", self.ROWS, runtime(FakeRuntime()))
        assert (result.requests, result.failed_requests, result.rows, result.verified) == (3, 0, 25, True)
        metadata = result.metadata("ep", "210987654321", NOW)
        assert metadata["staging-verification"] == "verified" and metadata["staging-error-rate"] == "0.0000"
        assert metadata["staging-endpoint"] == "210987654321/ep"

    def test_a_failed_request_is_not_verified_and_says_why(self) -> None:
        result = verification.smoke_test("ep", self.ROWS, runtime(FakeRuntime(fail_every=2)))
        assert (result.failed_requests, result.verified) == (1, False)
        assert "ModelError" in result.first_error
        assert result.metadata("ep", "210987654321", NOW)["staging-verification"] == "failed"

    def test_a_prediction_that_is_not_a_number_fails_the_request(self) -> None:
        result = verification.smoke_test("ep", self.ROWS[:5], runtime(FakeRuntime(answer="nan")))
        assert (result.verified, result.first_error) == (False, "prediction 'nan' is not finite")

    def test_the_test_split_is_found_from_the_model_quality_report(self) -> None:
        report = "s3://registry-artifacts/pipeline-runs/x7k2/EvaluateAbaloneModel/evaluation/evaluation.json"
        package = {"ModelMetrics": {"ModelQuality": {"Statistics": {"S3Uri": report}}}}
        assert verification.test_split_uri(package) == (
            "s3://registry-artifacts/pipeline-runs/x7k2/PreprocessAbaloneData/test/"
        )

    def test_a_package_without_its_report_cannot_be_smoke_tested(self) -> None:
        with pytest.raises(verification.SmokeTestError, match="no model-quality report"):
            verification.test_split_uri({"ModelPackageArn": arn(3)})

    def test_rows_are_read_without_their_label(self, aws: None) -> None:
        s3: S3Client = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="registry-artifacts")
        s3.put_object(
            Bucket="registry-artifacts",
            Key="pipeline-runs/x7k2/PreprocessAbaloneData/test/test.csv",
            Body=b"10,M,0.4,0.3,0.1,0.5,0.2,0.1,0.15\n7,I,0.3,0.2,0.1,0.2,0.1,0.05,0.06\n",
        )
        rows = verification.read_rows("s3://registry-artifacts/pipeline-runs/x7k2/PreprocessAbaloneData/test/", s3)
        assert rows == ["M,0.4,0.3,0.1,0.5,0.2,0.1,0.15", "I,0.3,0.2,0.1,0.2,0.1,0.05,0.06"]
