"""InvokeEndpoint on the emulated account answers with the endpoint's local serving container (a real XGBoost
model), as SageMaker Runtime answers, and writes data capture as SageMaker writes it."""

from __future__ import annotations

import functools
import json
import operator
import re
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost as xgb
from botocore.exceptions import ClientError

from local_twin.emulator import Emulator
from local_twin.serving import ServingContainer, invoke
from tests.integration.emulator.conftest import unique

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-00000000c0de"
ROWS = "0.5,0.25,0.75\n0.1,0.2,0.3\n"
T0 = datetime(2026, 12, 1, 8, 20, 48, 871000, tzinfo=UTC)
HEADER = {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]}


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServingContainer]:
    """A small algorithm-mode XGBoost model (3 features) in its serving container process."""
    rows = np.random.default_rng(5).uniform(0.0, 1.0, size=(30, 3))
    booster = xgb.train(
        {"objective": "reg:squarederror", "max_depth": 2, "nthread": 1},
        xgb.DMatrix(rows, label=rows @ np.array([1.0, 2.0, 3.0])),
        num_boost_round=4,
    )
    model_dir = tmp_path_factory.mktemp("runtime-model")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        booster.save_model(str(model_dir / "xgboost-model"))
    with ServingContainer(IMAGE, model_dir, {}, work_dir=tmp_path_factory.mktemp("runtime-container")) as serving:
        yield serving


@pytest.fixture
def endpoint(aws: Emulator, container: ServingContainer) -> Iterator[dict[str, Any]]:
    """Makes endpoints served by the container (``make(capture=...)``); everything is removed after the test, and
    the runtime's sampling and clock are reset."""
    sagemaker, s3 = aws.client("sagemaker"), aws.client("s3")
    bucket = unique("runtime-capture")
    s3.create_bucket(Bucket=bucket)
    made: list[str] = []

    def make(capture: dict[str, Any] | None = None, variant: str = "AllTraffic") -> str:
        name = unique("rt")
        sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
        config: dict[str, Any] = {
            "EndpointConfigName": name,
            "ProductionVariants": [
                {"VariantName": variant, "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
            ],
        }
        if capture is not None:
            config["DataCaptureConfig"] = {"DestinationS3Uri": f"s3://{bucket}/datacapture", **capture}
        sagemaker.create_endpoint_config(**config)
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
        aws.runtime.serve(name, container.url)
        made.append(name)
        return name

    yield {"make": make, "bucket": bucket}
    for name in made:
        aws.runtime.unserve(name)
        with suppress(ClientError):
            sagemaker.delete_endpoint(EndpointName=name)
            sagemaker.delete_endpoint_config(EndpointConfigName=name)
            sagemaker.delete_model(ModelName=name)
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)
    aws.runtime.clear()


def _capture(**extra: Any) -> dict[str, Any]:
    config = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "KmsKeyId": KMS_KEY,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": HEADER,
        **extra,
    }
    return {key: value for key, value in config.items() if value is not None}


def _objects(aws: Emulator, bucket: str) -> list[str]:
    return sorted(item["Key"] for item in aws.client("s3").list_objects_v2(Bucket=bucket).get("Contents", []))


def test_the_answer_is_the_containers_with_the_invoked_variant(
    aws: Emulator, endpoint: dict[str, Any], container: ServingContainer
) -> None:
    name = endpoint["make"](variant="blue")
    direct = invoke(container.url, ROWS.encode(), "text/csv")

    answer = aws.client("sagemaker-runtime").invoke_endpoint(EndpointName=name, Body=ROWS, ContentType="text/csv")

    assert answer["Body"].read().decode() == direct.body
    assert answer["ContentType"] == direct.content_type
    assert answer["InvokedProductionVariant"] == "blue"
    assert len(direct.body.splitlines()) == 2


def test_a_capturing_endpoint_writes_the_documented_record_at_the_documented_key_with_its_kms_key(
    aws: Emulator, endpoint: dict[str, Any]
) -> None:
    name = endpoint["make"](capture=_capture())
    aws.runtime.clock = lambda: T0
    runtime = aws.client("sagemaker-runtime")

    answer = runtime.invoke_endpoint(EndpointName=name, Body=ROWS, ContentType="text/csv", InferenceId="req-1")
    output = answer["Body"].read().decode()

    keys = _objects(aws, endpoint["bucket"])
    assert len(keys) == 1
    assert re.fullmatch(
        rf"datacapture/{name}/AllTraffic/2026/12/01/08/20-48-871-[0-9a-f]{{8}}(-[0-9a-f]{{4}}){{3}}-[0-9a-f]{{12}}\.jsonl",
        keys[0],
    )
    stored = aws.client("s3").get_object(Bucket=endpoint["bucket"], Key=keys[0])
    assert (stored["ServerSideEncryption"], stored["SSEKMSKeyId"]) == ("aws:kms", KMS_KEY)
    line = stored["Body"].read().decode()
    record = json.loads(line)
    assert list(record) == ["captureData", "eventMetadata", "eventVersion"]
    assert record["captureData"] == {
        "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": ROWS, "encoding": "CSV"},
        "endpointOutput": {
            "observedContentType": answer["ContentType"],
            "mode": "OUTPUT",
            "data": output,
            "encoding": "CSV",
        },
    }
    assert record["eventMetadata"]["inferenceId"] == "req-1"
    assert record["eventMetadata"]["inferenceTime"] == "2026-12-01T08:20:48Z"
    assert record["eventVersion"] == "0"
    assert line.count("\n") == 1 and ": " not in line  # one compact JSON line


def test_records_share_a_file_for_a_minute_then_a_new_file_starts(aws: Emulator, endpoint: dict[str, Any]) -> None:
    name = endpoint["make"](capture=_capture())
    runtime = aws.client("sagemaker-runtime")
    for offset in (0, 30, 61):
        aws.runtime.clock = functools.partial(operator.add, T0, timedelta(seconds=offset))
        runtime.invoke_endpoint(EndpointName=name, Body=ROWS, ContentType="text/csv")

    keys = _objects(aws, endpoint["bucket"])
    bodies = [aws.client("s3").get_object(Bucket=endpoint["bucket"], Key=k)["Body"].read().decode() for k in keys]
    assert [k.rsplit("/", 1)[1][:9] for k in keys] == ["20-48-871", "21-49-871"]
    assert [body.count("\n") for body in bodies] == [2, 1]


def test_the_sampling_percentage_decides_which_requests_are_captured(aws: Emulator, endpoint: dict[str, Any]) -> None:
    name = endpoint["make"](capture=_capture(InitialSamplingPercentage=40))
    runtime = aws.client("sagemaker-runtime")
    draws = iter([39.9, 40.0, 75.0, 0.0])
    aws.runtime.sampling = lambda: next(draws)

    for _ in range(4):
        runtime.invoke_endpoint(EndpointName=name, Body=ROWS, ContentType="text/csv")

    captured = [i.captured is not None for i in aws.runtime.invocations if i.endpoint == name]
    assert captured == [True, False, False, True]


def test_input_only_capture_without_content_type_lists_is_base64(aws: Emulator, endpoint: dict[str, Any]) -> None:
    name = endpoint["make"](capture=_capture(CaptureOptions=[{"CaptureMode": "Input"}], CaptureContentTypeHeader=None))

    aws.client("sagemaker-runtime").invoke_endpoint(EndpointName=name, Body=ROWS, ContentType="text/csv")

    key = _objects(aws, endpoint["bucket"])[0]
    record = json.loads(aws.client("s3").get_object(Bucket=endpoint["bucket"], Key=key)["Body"].read())
    assert list(record["captureData"]) == ["endpointInput"]
    assert record["captureData"]["endpointInput"]["encoding"] == "BASE64"


def test_a_container_error_is_a_model_error_with_the_containers_status_and_message_and_no_capture(
    aws: Emulator, endpoint: dict[str, Any], container: ServingContainer
) -> None:
    name = endpoint["make"](capture=_capture())
    direct = invoke(container.url, b"1,2\n", "text/csv")  # one feature short
    runtime = aws.client("sagemaker-runtime")

    with pytest.raises(runtime.exceptions.ModelError) as raised:
        runtime.invoke_endpoint(EndpointName=name, Body=b"1,2\n", ContentType="text/csv")

    error = raised.value.response
    assert direct.status == 400
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 400
    assert error["OriginalMessage"] == direct.body
    assert error["Error"]["Message"] == (
        f'Received client error (400) from primary with message "{direct.body}". See '
        f"https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEventViewer:group="
        f"/aws/sagemaker/Endpoints/{name} in account 123456789012 for more information."
    )
    assert error["LogStreamArn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/{name}"
    assert _objects(aws, endpoint["bucket"]) == []


def test_an_unknown_endpoint_is_a_validation_error_in_aws_words(aws: Emulator) -> None:
    runtime = aws.client("sagemaker-runtime")

    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint(EndpointName="no-such-endpoint", Body=ROWS, ContentType="text/csv")

    assert raised.value.response["Error"] == {
        "Code": "ValidationError",
        "Message": "Endpoint no-such-endpoint of account 123456789012 not found.",
    }


def test_the_aws_cli_invokes_the_endpoint_through_the_emulator(
    aws: Emulator, endpoint: dict[str, Any], container: ServingContainer, tmp_path: Path
) -> None:
    cli = shutil.which("aws")
    if cli is None:
        pytest.skip("the AWS CLI is not installed")
    name = endpoint["make"]()
    (tmp_path / "rows.csv").write_text(ROWS)
    command = [cli, "sagemaker-runtime", "invoke-endpoint", "--endpoint-url", aws.url, "--endpoint-name", name]
    command += ["--content-type", "text/csv", "--body", f"fileb://{tmp_path / 'rows.csv'}", str(tmp_path / "out")]

    completed = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)

    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["InvokedProductionVariant"] == "AllTraffic"
    assert (tmp_path / "out").read_text() == invoke(container.url, ROWS.encode(), "text/csv").body
