"""The staging smoke test: rows of the held-out test split sent to the staging endpoint, the outcome recorded on the
package in the registry -- what production's rule requires before it deploys a promoted version.

The rows are the pipeline run's own test split (raw records, label first), found from the package's model-quality
report (``.../pipeline-runs/<run>/EvaluateAbaloneModel/evaluation/evaluation.json`` →
``.../pipeline-runs/<run>/PreprocessAbaloneData/test/``); the registry's bucket policy lets the staging account read
exactly that. The endpoint is called as any client would (sagemaker-runtime InvokeEndpoint, text/csv), in small
requests so the latency figure means something; verified = every request answered, every prediction a finite
number, one per row. The result goes into the package's CustomerMetadataProperties (``staging-*``): the group policy
lets the staging account write metadata there and nothing else (never the approval, never the stage).
"""

from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from deployments.registry import VERIFICATION_KEY, VERIFIED
from mlops_shared.pipeline_names import EVALUATE_STEP, PREPROCESS_STEP

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient

SMOKE_ROWS = 100
ROWS_PER_REQUEST = 10


class SmokeTestError(RuntimeError):
    """The smoke test could not run (no test split found for the package); the message names what is missing."""


@dataclass(frozen=True)
class SmokeTest:
    requests: int
    failed_requests: int
    rows: int
    p99_latency_ms: float
    first_error: str

    @property
    def error_rate(self) -> float:
        return self.failed_requests / self.requests if self.requests else 1.0

    @property
    def verified(self) -> bool:
        return self.requests > 0 and self.failed_requests == 0

    def metadata(self, endpoint: str, account: str, moment: datetime) -> dict[str, str]:
        """What is recorded on the package (CustomerMetadataProperties: strings of at most 256 characters)."""
        return {
            VERIFICATION_KEY: VERIFIED if self.verified else "failed",
            "staging-error-rate": f"{self.error_rate:.4f}",
            "staging-p99-latency-ms": f"{self.p99_latency_ms:.1f}",
            "staging-rows": str(self.rows),
            "staging-endpoint": f"{account}/{endpoint}"[:256],
            "staging-verified-at": moment.astimezone(UTC).isoformat(timespec="seconds"),
            **({"staging-first-error": self.first_error[:256]} if self.first_error else {}),
        }


def test_split_uri(package: dict[str, Any]) -> str:
    """The package's pipeline run's test split prefix, from its model-quality report's location."""
    report = str(
        (((package.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}).get("S3Uri") or ""
    )
    marker = f"/{EVALUATE_STEP}/"
    if not report or marker not in report:
        raise SmokeTestError(
            f"package {package.get('ModelPackageArn')} has no model-quality report from {EVALUATE_STEP}: its test "
            "split cannot be found"
        )
    return report.split(marker, 1)[0] + f"/{PREPROCESS_STEP}/test/"


def read_rows(prefix_uri: str, s3: S3Client, limit: int = SMOKE_ROWS) -> list[str]:
    """Up to ``limit`` raw records (the label column dropped) from the test split's CSV objects."""
    bucket, _, prefix = prefix_uri.removeprefix("s3://").partition("/")
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    rows: list[str] = []
    for key in sorted(keys):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        for fields in csv.reader(io.StringIO(body)):
            if fields:
                rows.append(",".join(fields[1:]))
            if len(rows) >= limit:
                return rows
    if not rows:
        raise SmokeTestError(f"the test split {prefix_uri} holds no rows")
    return rows


def smoke_test(endpoint: str, rows: list[str], runtime: SageMakerRuntimeClient) -> SmokeTest:
    """Send the rows in small text/csv requests; count the failures and measure each request's latency."""
    latencies: list[float] = []
    failed, first_error = 0, ""
    for start in range(0, len(rows), ROWS_PER_REQUEST):
        chunk = rows[start : start + ROWS_PER_REQUEST]
        began = time.perf_counter()
        try:
            answer = runtime.invoke_endpoint(
                EndpointName=endpoint, ContentType="text/csv", Accept="text/csv", Body="\n".join(chunk).encode()
            )
            values = [line for line in answer["Body"].read().decode().splitlines() if line.strip()]
            problem = _check(values, len(chunk))
        except runtime.exceptions.ClientError as error:
            problem = str(error)
        latencies.append((time.perf_counter() - began) * 1000)
        if problem:
            failed += 1
            first_error = first_error or problem
    return SmokeTest(len(latencies), failed, len(rows), _p99(latencies), first_error)


def _check(values: list[str], expected: int) -> str:
    if len(values) != expected:
        return f"{len(values)} predictions for {expected} rows"
    for value in values:
        try:
            number = float(value)
        except ValueError:
            return f"prediction {value!r} is not a number"
        if not math.isfinite(number):
            return f"prediction {value!r} is not finite"
    return ""


def _p99(latencies: list[float]) -> float:
    if not latencies:
        return 0.0
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


def verify(
    endpoint: str,
    package_arn: str,
    account: str,
    sagemaker: SageMakerClient,
    runtime: SageMakerRuntimeClient,
    s3: S3Client,
) -> dict[str, Any]:
    """Run the smoke test of the live version and record it on its package; what was found."""
    package = dict(sagemaker.describe_model_package(ModelPackageName=package_arn))
    result = smoke_test(endpoint, read_rows(test_split_uri(package), s3), runtime)
    metadata = result.metadata(endpoint, account, datetime.now(UTC))
    sagemaker.update_model_package(ModelPackageArn=package_arn, CustomerMetadataProperties=metadata)
    verdict = "verified" if result.verified else "NOT verified"
    return {
        "Verified": result.verified,
        "ErrorRate": result.error_rate,
        "P99LatencyMs": round(result.p99_latency_ms, 1),
        "Note": f"staging smoke test: {result.rows} rows in {result.requests} requests, error rate "
        f"{result.error_rate:.2%}, p99 {result.p99_latency_ms:.1f} ms: {verdict} for production"
        + (f" ({result.first_error})" if result.first_error else ""),
    }
