"""The project's model artifact served as the XGBoost image serves it: raw abalone records in, predicted rings out.

The artifact is built as training builds it -- ``xgboost-model``, ``features.json`` and ``code/`` with the very files
of ml_code/ -- packed as ``model.tar.gz``, unpacked as the container's /opt/ml/model, and served in script mode with
the model's environment (SAGEMAKER_PROGRAM=inference.py, the code folder of the archive as SAGEMAKER_SUBMIT_DIRECTORY).
The image copies that folder to /opt/ml/code and imports ``inference`` from it; ``inference`` imports its sibling
``abalone_features`` as a top-level module, which only the archive provides.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import numpy as np
import pytest
import xgboost as xgb
from moto import mock_aws

from bench.load_client import Client
from local_twin.serving import ContainerError, ServingContainer, extract_model_archive, invoke, predictions_from
from local_twin.serving.batch_transform import TransformSpec, run_transform
from ml_code import abalone_features

from .conftest import IMAGE_URI

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REPO_ROOT = Path(__file__).resolve().parents[3]
SERVING_FILES = ("inference.py", "abalone_features.py")
MODEL_ENVIRONMENT = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
LINES = (REPO_ROOT / "data" / "abalone.csv").read_text().splitlines()
LABELLED = LINES[400:412]  # "M,0.455,...,15": the data set's rows, rings last
RAW_ROWS = [line.rsplit(",", 1)[0] for line in LABELLED]  # what a caller sends: the 8 raw fields
BUCKET = "artifacts"


def build_model_archive(directory: Path, *, serving_files: tuple[str, ...] = SERVING_FILES) -> bytes:
    """model.tar.gz as train.py leaves the model directory: a booster on the encoded features of 300 real records,
    the encoding beside it, the serving code under code/ (the directory's contents at the archive root)."""
    records = abalone_features.parse_csv("\n".join(line.rsplit(",", 1)[0] for line in LINES[:300]))
    labels = np.array([float(line.rsplit(",", 1)[1]) for line in LINES[:300]])
    encoder = abalone_features.FeatureEncoder.fit(records)
    params = {"objective": "reg:squarederror", "max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 0}
    booster = xgb.train(params, xgb.DMatrix(encoder.encode(records), label=labels), num_boost_round=10)
    (directory / "code").mkdir(parents=True)
    with warnings.catch_warnings():  # a name without extension: XGBoost warns, then writes UBJSON
        warnings.simplefilter("ignore", UserWarning)
        booster.save_model(str(directory / "xgboost-model"))
    encoder.save(directory)
    for name in serving_files:
        shutil.copyfile(REPO_ROOT / "ml_code" / name, directory / "code" / name)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(directory.rglob("*")):
            tar.add(path, arcname=path.relative_to(directory).as_posix(), recursive=False)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archive unpacked as a serving container's /opt/ml/model."""
    archive = build_model_archive(tmp_path_factory.mktemp("training") / "model")
    return extract_model_archive(archive, tmp_path_factory.mktemp("container") / "opt" / "ml" / "model")


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("endpoint")


@pytest.fixture(scope="module")
def endpoint(model_dir: Path, work_dir: Path) -> Iterator[ServingContainer]:
    with ServingContainer(IMAGE_URI, model_dir, MODEL_ENVIRONMENT, work_dir=work_dir) as running:
        yield running


def expected(model_dir: Path, rows: list[str]) -> list[float]:
    """The booster's float32 predictions for the encoded records, computed without the served code."""
    booster = xgb.Booster()
    booster.load_model(str(model_dir / "xgboost-model"))
    encoder = abalone_features.FeatureEncoder.load(model_dir)
    scores = booster.predict(xgb.DMatrix(encoder.encode(abalone_features.parse_csv("\n".join(rows)))))
    return [float(value) for value in scores]


def get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), response.read(), str(response.headers["Content-Type"])
    except urllib.error.HTTPError as error:
        return int(error.code), error.read(), str(error.headers["Content-Type"])


def as_instances(rows: list[str]) -> list[dict[str, object]]:
    return [
        {
            name: value if name == "sex" else float(value)
            for name, value in zip(abalone_features.RAW_COLUMNS, row.split(","), strict=True)
        }
        for row in rows
    ]


# --- the endpoint ----------------------------------------------------------------------------------------------------
def test_ping_is_200(endpoint: ServingContainer) -> None:
    assert get(f"{endpoint.url}/ping") == (200, b"", "application/json")


def test_the_code_of_the_archive_is_installed_as_the_images_code_directory(
    endpoint: ServingContainer, work_dir: Path, model_dir: Path
) -> None:
    for name in SERVING_FILES:  # the container's /opt/ml/code, copied from /opt/ml/model/code
        assert (work_dir / "code" / name).read_bytes() == (model_dir / "code" / name).read_bytes()


def test_a_raw_csv_record_is_scored(endpoint: ServingContainer, model_dir: Path) -> None:
    answer = invoke(endpoint.url, RAW_ROWS[0].encode(), "text/csv", "text/csv")

    assert (answer.status, answer.content_type) == (200, "text/csv; charset=utf-8")
    assert answer.body == f"{expected(model_dir, RAW_ROWS[:1])[0]!r}\n"


def test_raw_csv_records_with_a_header_line(endpoint: ServingContainer, model_dir: Path) -> None:
    body = ",".join(abalone_features.RAW_COLUMNS) + "\r\n" + "\r\n".join(RAW_ROWS) + "\r\n"

    answer = invoke(endpoint.url, body.encode(), "text/csv; charset=utf-8", "text/csv")

    assert answer.status == 200
    assert predictions_from(answer) == expected(model_dir, RAW_ROWS)


def test_json_without_accept_answers_json(endpoint: ServingContainer, model_dir: Path) -> None:
    body = json.dumps({"instances": as_instances(RAW_ROWS[:3])}).encode()

    answer = invoke(endpoint.url, body, "application/json", accept=None)  # the image passes application/json

    assert (answer.status, answer.content_type) == (200, "application/json")
    assert json.loads(answer.body) == {"predictions": [{"rings": value} for value in expected(model_dir, RAW_ROWS[:3])]}


def test_json_lines_in_and_out(endpoint: ServingContainer, model_dir: Path) -> None:
    body = "".join(json.dumps(instance) + "\n" for instance in as_instances(RAW_ROWS[:4])).encode()

    answer = invoke(endpoint.url, body, "application/jsonlines", "application/jsonlines")

    assert (answer.status, answer.content_type) == (200, "application/jsonlines")
    assert predictions_from(answer) == expected(model_dir, RAW_ROWS[:4])


def test_a_bad_row_is_400_with_its_message(endpoint: ServingContainer) -> None:
    body = f"{RAW_ROWS[0]}\nX,0.4,0.3,0.1,0.5,0.2,0.1,0.15\n".encode()

    answer = invoke(endpoint.url, body, "text/csv", "text/csv")

    assert (answer.status, answer.content_type) == (400, "text/plain; charset=utf-8")
    assert answer.body == "row 2: sex 'X' is not one of M, F, I"


def test_a_labelled_row_is_400(endpoint: ServingContainer) -> None:
    answer = invoke(endpoint.url, LABELLED[0].encode(), "text/csv", "text/csv")

    assert answer.status == 400
    assert answer.body.startswith("row 1: 9 values, expected 8 (sex, length,")


def test_an_empty_body_is_400(endpoint: ServingContainer) -> None:
    answer = invoke(endpoint.url, b"", "text/csv", "text/csv")

    assert (answer.status, answer.body) == (400, "no records: the body is empty")


def test_other_types_are_415_and_406(endpoint: ServingContainer) -> None:
    unsupported = invoke(endpoint.url, b"0.1 0.2", "text/libsvm", "text/csv")
    not_acceptable = invoke(endpoint.url, RAW_ROWS[0].encode(), "text/csv", "text/html")

    assert (unsupported.status, unsupported.body) == (
        415,
        "Content-Type 'text/libsvm' is not supported: send text/csv, application/json, application/jsonlines",
    )
    assert (not_acceptable.status, not_acceptable.body) == (
        406,
        "Accept 'text/html': no type this model answers with (text/csv, application/json, application/jsonlines)",
    )
    assert invoke(endpoint.url, RAW_ROWS[0].encode(), "text/csv", "text/csv").status == 200  # still serving


# --- the archive's own code, and the model's own environment ----------------------------------------------------------
def test_the_encoding_module_comes_from_the_archive(tmp_path: Path) -> None:
    """No fallback to the repository's ml_code package (on the local container's path): without its sibling in the
    archive, the code cannot be imported, as in the image."""
    archive = build_model_archive(tmp_path / "training", serving_files=("inference.py",))
    model = extract_model_archive(archive, tmp_path / "opt" / "ml" / "model")

    with pytest.raises(ContainerError, match="No module named 'abalone_features'"):
        ServingContainer(IMAGE_URI, model, MODEL_ENVIRONMENT, work_dir=tmp_path / "work").start()


def test_the_models_own_environment_finds_the_code_inside_the_model(model_dir: Path, tmp_path: Path) -> None:
    with ServingContainer(IMAGE_URI, model_dir, MODEL_ENVIRONMENT, work_dir=tmp_path / "work") as running:
        assert invoke(running.url, RAW_ROWS[0].encode(), "text/csv", "text/csv").status == 200


# --- batch transform -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def batch_container(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServingContainer]:
    """The same model in a transform job's container (SAGEMAKER_BATCH set)."""
    work = tmp_path_factory.mktemp("transform")
    with ServingContainer(IMAGE_URI, model_dir, MODEL_ENVIRONMENT, work_dir=work, batch=True) as running:
        yield running


@pytest.fixture
def s3() -> Iterator[S3Client]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.mark.parametrize("strategy", ["MultiRecord", "SingleRecord"])
def test_batch_transform_of_label_first_raw_rows_keeps_label_and_prediction(
    s3: S3Client, batch_container: ServingContainer, model_dir: Path, strategy: str
) -> None:
    """The pipeline's evaluation transform: the test split's ``rings,sex,length,...`` rows, the label filtered out
    of the request and joined back: ``rings,prediction`` lines."""
    label_first = [f"{line.rsplit(',', 1)[1]},{line.rsplit(',', 1)[0]}" for line in LABELLED]
    s3.put_object(Bucket=BUCKET, Key="run/test/test.csv", Body=("\n".join(label_first) + "\n").encode())
    spec = TransformSpec.from_description(
        {
            "TransformJobName": "abalone-transform-1",
            "ModelName": "abalone-model-1",
            "BatchStrategy": strategy,
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/run/test/"}},
                "ContentType": "text/csv",
                "SplitType": "Line",
            },
            "TransformOutput": {
                "S3OutputPath": f"s3://{BUCKET}/run/transform",
                "AssembleWith": "Line",
                "Accept": "text/csv",
            },
            "DataProcessing": {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"},
        }
    )

    result = run_transform(spec, batch_container.url, s3)

    assert result.records == len(LABELLED)
    output = s3.get_object(Bucket=BUCKET, Key="run/transform/test.csv.out")["Body"].read().decode()
    rings = [line.rsplit(",", 1)[1] for line in LABELLED]
    assert output.splitlines() == [
        f"{label},{prediction!r}" for label, prediction in zip(rings, expected(model_dir, RAW_ROWS), strict=True)
    ]


def test_the_bench_load_client_reads_one_prediction_per_request(endpoint: ServingContainer) -> None:
    """``make bench`` measures this model's endpoint with bench.load_client: its requests must get the answer it
    checks (one float), not the contract's default JSON."""
    host, port = endpoint.url.removeprefix("http://").rsplit(":", 1)
    client = Client(host, int(port))
    try:
        for row in RAW_ROWS[:3]:
            client.invoke(row.encode())
    finally:
        client.close()
