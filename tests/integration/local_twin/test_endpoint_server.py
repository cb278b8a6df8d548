"""The local endpoint speaks the XGBoost container's contract and refuses bad requests without falling over."""

from __future__ import annotations

import io
import os
import pickle
import signal
import tarfile
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
from rich.console import Console

from local_twin.cli import keep_serving
from local_twin.endpoint_server import (
    PKL_FORMAT,
    XGB_FORMAT,
    EndpointServer,
    InferenceError,
    ModelLoadError,
    extract_model_archive,
    invoke,
    load_model,
    score_rows,
)

from .conftest import NUM_FEATURES, Features, csv_lines


@pytest.fixture
def server(model_dir: Path) -> Iterator[EndpointServer]:
    with EndpointServer(load_model(model_dir)) as running:
        yield running


def test_ping_answers_200(server: EndpointServer) -> None:
    with urllib.request.urlopen(f"{server.url}/ping", timeout=10) as response:
        assert response.status == 200


def test_csv_rows_are_scored_like_the_booster_itself(
    server: EndpointServer, booster: xgb.Booster, feature_rows: Features
) -> None:
    answer = invoke(server.url, "\n".join(csv_lines(feature_rows[:5])).encode())

    assert answer.status == 200
    served = np.array([float(v) for v in answer.body.split(",")])
    np.testing.assert_allclose(served, booster.predict(xgb.DMatrix(feature_rows[:5])), rtol=1e-6)


def test_wrong_content_type_is_415_with_a_message_and_the_server_keeps_serving(
    server: EndpointServer, feature_rows: Features
) -> None:
    refused = invoke(server.url, b'{"instances": [[1, 2]]}', content_type="application/json")

    assert refused.status == 415
    assert "application/json" in refused.body and "text/csv" in refused.body
    assert invoke(server.url, csv_lines(feature_rows[:1])[0].encode()).status == 200


@pytest.mark.parametrize("columns", [NUM_FEATURES - 1, NUM_FEATURES + 1])
def test_wrong_column_count_is_400_naming_both_counts_and_the_server_keeps_serving(
    server: EndpointServer, feature_rows: Features, columns: int
) -> None:
    row = ",".join(["0.5"] * columns)

    refused = invoke(server.url, row.encode())

    assert refused.status == 400
    assert f"inference data {columns}" in refused.body and f"trained model {NUM_FEATURES}" in refused.body
    assert invoke(server.url, csv_lines(feature_rows[:1])[0].encode()).status == 200


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [(b"1,2,3\n4,5", "different column counts"), (b"1,abc," + b"1," * 8 + b"1", "csv format")],
)
def test_malformed_csv_is_415_with_a_message(server: EndpointServer, payload: bytes, fragment: str) -> None:
    refused = invoke(server.url, payload)

    assert refused.status == 415
    assert fragment in refused.body


def test_empty_fields_are_missing_values_as_in_the_container(server: EndpointServer) -> None:
    row = ",".join([""] + ["0.5"] * (NUM_FEATURES - 1))

    assert invoke(server.url, row.encode()).status == 200


def test_empty_body_is_204(server: EndpointServer) -> None:
    assert invoke(server.url, b"").status == 204


def test_score_rows_splits_into_requests_and_keeps_the_order(
    server: EndpointServer, booster: xgb.Booster, feature_rows: Features
) -> None:
    predictions = score_rows(server.url, csv_lines(feature_rows), rows_per_request=7)

    np.testing.assert_allclose(predictions, booster.predict(xgb.DMatrix(feature_rows)), rtol=1e-6)


def test_score_rows_raises_with_the_endpoint_message(server: EndpointServer) -> None:
    with pytest.raises(InferenceError, match="feature size of trained model"):
        score_rows(server.url, ["1,2,3"])


def test_batch_mode_answers_one_prediction_per_line(model_dir: Path, feature_rows: Features) -> None:
    with EndpointServer(load_model(model_dir), batch=True) as running:
        answer = invoke(running.url, "\n".join(csv_lines(feature_rows[:3])).encode())

    assert answer.status == 200
    assert answer.body.endswith("\n") and len(answer.body.splitlines()) == 3


def test_xgboost_format_model_is_loaded_with_load_model(model_dir: Path) -> None:
    assert load_model(model_dir).model_format == XGB_FORMAT


def test_pickled_booster_is_loaded_as_the_container_loads_it(booster: xgb.Booster, tmp_path: Path) -> None:
    (tmp_path / "xgboost-model").write_bytes(pickle.dumps(booster))

    loaded = load_model(tmp_path)

    assert loaded.model_format == PKL_FORMAT and loaded.num_features == NUM_FEATURES


def test_a_file_that_is_no_model_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "xgboost-model").write_text("not a model")

    with pytest.raises(ModelLoadError, match="xgboost-model"):
        load_model(tmp_path)


def test_an_empty_model_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no model file"):
        load_model(tmp_path)


def test_an_archive_escaping_the_model_directory_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escaped")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))

    with pytest.raises(ModelLoadError, match="tar"):
        extract_model_archive(buffer.getvalue(), tmp_path / "model")
    assert not (tmp_path / "escaped").exists()


def test_keep_serving_prints_curl_commands_and_returns_on_sigterm(model_dir: Path, tmp_path: Path) -> None:
    stream = io.StringIO()
    handler_before = signal.getsignal(signal.SIGTERM)
    with EndpointServer(load_model(model_dir)) as running:
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
        keep_serving([running], Console(file=stream), tmp_path / "test.csv")
        still_up = invoke(running.url, b"").status

    output = stream.getvalue()
    assert f"curl -s {running.url}/ping" in output and f"{running.url}/invocations" in output
    assert output.rstrip().endswith("stopped serving")
    assert still_up == 204  # keep_serving does not stop the server itself: the caller does
    assert signal.getsignal(signal.SIGTERM) == handler_before
