"""The algorithm-mode server answers as the XGBoost 3.0-5 image does (research/xgboost_serving.md, part A).

Expected bodies and headers are the document's verbatim [RUN] values; predictions are this test model's own.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
from flask import Flask
from flask.testing import FlaskClient

from local_twin.serving import algorithm_mode
from local_twin.serving.algorithm_mode import ModelLoadError, create_app

from .conftest import NUM_FEATURES, Rows, csv_body, save_model, scores

SUPPORTED = "['application/json', 'application/jsonlines', 'application/x-recordio-protobuf', 'text/csv']"
WERKZEUG_500 = (
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n'
    "<title>500 Internal Server Error</title>\n"
    "<h1>Internal Server Error</h1>\n"
    "<p>The server encountered an internal error and was unable to complete your request. Either the server is "
    "overloaded or there is an error in the application.</p>\n"
)
WERKZEUG_413 = (
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n'
    "<title>413 Request Entity Too Large</title>\n"
    "<h1>Request Entity Too Large</h1>\n"
    "<p>The data value transmitted exceeds the capacity limit.</p>\n"
)
ACCEPTED_TYPES = (
    "csv, libsvm, parquet, recordio-protobuf, text/csv, text/libsvm, text/x-libsvm, application/x-parquet, "
    "application/x-recordio-protobuf"
)


def app_for(model_dir: Path, **environ: str) -> Flask:
    return create_app(model_dir, environ=environ)


@pytest.fixture(scope="module")
def client(model_dir: Path) -> FlaskClient:
    return app_for(model_dir).test_client()


def lines(values: list[float]) -> str:
    return "".join(f"{value}\n" for value in values)


# --- success bodies (A.3) ---------------------------------------------------------------------------------------------
def test_multi_row_csv_is_one_prediction_per_line_with_a_trailing_newline(
    client: FlaskClient, booster: xgb.Booster, rows: Rows
) -> None:
    answer = client.post("/invocations", data=csv_body(rows[:4]), content_type="text/csv")

    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert answer.get_data(as_text=True) == lines(scores(booster, rows[:4]))


def test_csv_scores_are_the_float64_repr_of_the_float32_prediction(
    client: FlaskClient, booster: xgb.Booster, rows: Rows
) -> None:
    body = client.post("/invocations", data=csv_body(rows), content_type="text/csv").get_data(as_text=True)

    float32 = booster.predict(xgb.DMatrix(rows))
    assert body.splitlines() == [repr(float(value)) for value in float32]
    # e.g. 0.10000000149011612, not numpy's shortest float32 repr 0.1 (script mode's CSV writes that one)
    assert body.splitlines() != [str(value) for value in float32]


def test_json_accept_is_a_predictions_list_of_scores(client: FlaskClient, booster: xgb.Booster, rows: Rows) -> None:
    answer = client.post(
        "/invocations", data=csv_body(rows[:2]), content_type="text/csv", headers={"Accept": "application/json"}
    )

    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    expected = {"predictions": [{"score": value} for value in scores(booster, rows[:2])]}
    assert answer.get_data(as_text=True) == json.dumps(expected)  # json.dumps' default ", " / ": " separators
    assert answer.get_data(as_text=True).startswith('{"predictions": [{"score": ')


@pytest.mark.parametrize("accept", [None, "*/*", ""])
def test_missing_or_any_accept_is_text_csv(
    client: FlaskClient, booster: xgb.Booster, rows: Rows, accept: str | None
) -> None:
    headers = {} if accept is None else {"Accept": accept}
    answer = client.post("/invocations", data=csv_body(rows[:1]), content_type="text/csv", headers=headers)

    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert answer.get_data(as_text=True) == lines(scores(booster, rows[:1]))


def test_accept_is_case_insensitive_and_its_parameters_are_ignored(client: FlaskClient, rows: Rows) -> None:
    answer = client.post(
        "/invocations", data=csv_body(rows[:1]), content_type="text/csv", headers={"Accept": "Text/CSV; q=1"}
    )

    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"


def test_default_invocations_accept_is_honoured(model_dir: Path, booster: xgb.Booster, rows: Rows) -> None:
    client = app_for(model_dir, SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT="application/json").test_client()

    answer = client.post("/invocations", data=csv_body(rows[:1]), content_type="text/csv", headers={"Accept": "*/*"})

    assert answer.headers["Content-Type"] == "application/json"
    assert json.loads(answer.get_data()) == {"predictions": [{"score": scores(booster, rows[:1])[0]}]}


def test_multiclass_probabilities_are_a_csv_row_and_a_json_list(tmp_path: Path, rows: Rows) -> None:
    labels = (rows[:, 0] * 3).astype(int)
    params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 2, "nthread": 1}
    softprob = xgb.train(params, xgb.DMatrix(rows, label=labels), num_boost_round=3)
    save_model(softprob, tmp_path / "xgboost-model")
    client = app_for(tmp_path).test_client()
    probabilities = softprob.predict(xgb.DMatrix(rows[:2])).tolist()

    as_csv = client.post("/invocations", data=csv_body(rows[:2]), content_type="text/csv")
    as_json = client.post(
        "/invocations", data=csv_body(rows[:2]), content_type="text/csv", headers={"Accept": "application/json"}
    )

    assert as_csv.get_data(as_text=True) == "".join(",".join(map(str, row)) + "\n" for row in probabilities)
    assert json.loads(as_json.get_data()) == {"predictions": [{"score": row} for row in probabilities]}


# --- Accept errors (A.2, A.3) -----------------------------------------------------------------------------------------
def test_unsupported_accept_is_406_with_the_image_message(client: FlaskClient, rows: Rows) -> None:
    answer = client.post(
        "/invocations", data=csv_body(rows[:1]), content_type="text/csv", headers={"Accept": "text/plain"}
    )

    assert answer.status_code == 406
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.get_data(as_text=True) == (
        f"Accept type text/plain is not supported. Please use supported accept types: {SUPPORTED}."
    )


def test_an_accept_list_is_not_split(client: FlaskClient, rows: Rows) -> None:
    answer = client.post(
        "/invocations",
        data=csv_body(rows[:1]),
        content_type="text/csv",
        headers={"Accept": "text/csv, application/json"},
    )

    assert answer.status_code == 406
    assert answer.get_data(as_text=True).startswith("Accept type text/csv, application/json is not supported.")


def test_accept_is_checked_only_after_content_type_and_prediction(client: FlaskClient, rows: Rows) -> None:
    bad_type = client.post(
        "/invocations", data=csv_body(rows[:1]), content_type="application/json", headers={"Accept": "text/plain"}
    )
    bad_columns = client.post(
        "/invocations", data=b"1,2,3,4", content_type="text/csv", headers={"Accept": "text/plain"}
    )

    assert bad_type.status_code == 415
    assert bad_columns.status_code == 400


@pytest.mark.parametrize("accept", ["application/jsonlines", "application/x-recordio-protobuf"])
def test_jsonlines_and_recordio_accept_are_the_images_500(client: FlaskClient, rows: Rows, accept: str) -> None:
    answer = client.post("/invocations", data=csv_body(rows[:1]), content_type="text/csv", headers={"Accept": accept})

    assert answer.status_code == 500
    assert answer.headers["Content-Type"] == "text/html"
    assert answer.get_data(as_text=True) == WERKZEUG_500


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("text/csv", "text/csv; charset=utf-8"),
        ("application/json", "application/json"),
        ("application/jsonlines", "application/jsonlines"),
    ],
)
def test_sagemaker_batch_is_newline_joined_whatever_the_accept(
    model_dir: Path, booster: xgb.Booster, rows: Rows, accept: str, content_type: str
) -> None:
    client = app_for(model_dir, SAGEMAKER_BATCH="true").test_client()

    answer = client.post("/invocations", data=csv_body(rows[:3]), content_type="text/csv", headers={"Accept": accept})

    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == content_type
    assert answer.get_data(as_text=True) == lines(scores(booster, rows[:3]))


# --- Content-Type and parsing (A.2, A.4) ------------------------------------------------------------------------------
def test_missing_content_type_is_libsvm_so_csv_data_is_415(client: FlaskClient, rows: Rows) -> None:
    answer = client.post("/invocations", data=b"0.1,0.2,0.3")

    assert answer.status_code == 415
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.get_data(as_text=True) == (
        "Loading libsvm data failed with Exception, please ensure data is in libsvm format:\n"
        " <class 'ValueError'>\n cannot infer dimensions from zero sized index arrays"
    )


def test_missing_content_type_with_libsvm_data_is_scored(client: FlaskClient, booster: xgb.Booster) -> None:
    answer = client.post("/invocations", data=b"0:0.1 1:0.2 2:0.3")

    assert answer.status_code == 200
    assert answer.get_data(as_text=True) == lines(scores(booster, np.array([[0.1, 0.2, 0.3]])))


@pytest.mark.parametrize("content_type", ["text/libsvm", "text/x-libsvm", "libsvm", "TEXT/LIBSVM; charset=utf-8"])
def test_libsvm_with_and_without_a_leading_label_gives_the_same_prediction(
    client: FlaskClient, booster: xgb.Booster, content_type: str
) -> None:
    expected = lines(scores(booster, np.array([[0.1, 0.2, 0.3], [0.5, np.nan, 0.9]])))  # absent: missing

    unlabelled = client.post("/invocations", data=b"0:0.1 1:0.2 2:0.3\n0:0.5 2:0.9", content_type=content_type)
    labelled = client.post("/invocations", data=b"1 0:0.1 1:0.2 2:0.3\n0 0:0.5 2:0.9", content_type=content_type)

    assert unlabelled.status_code == labelled.status_code == 200
    assert unlabelled.get_data(as_text=True) == labelled.get_data(as_text=True) == expected


def test_libsvm_rows_may_leave_trailing_columns_out(client: FlaskClient) -> None:
    assert client.post("/invocations", data=b"0:0.1 1:0.2", content_type="text/libsvm").status_code == 200


def test_libsvm_with_more_columns_than_the_model_is_400(client: FlaskClient) -> None:
    answer = client.post("/invocations", data=b"0:0.1 1:0.2 2:0.3 3:0.4", content_type="text/libsvm")

    assert answer.status_code == 400
    assert answer.get_data(as_text=True) == (
        "Unable to evaluate payload provided: Feature size of libsvm inference data 4 is larger than feature size "
        "of trained model 3."
    )


@pytest.mark.parametrize("content_type", ["text/csv", "csv", "TEXT/CSV", "text/csv; charset=utf-8"])
def test_csv_content_types_are_case_insensitive_and_ignore_parameters(
    client: FlaskClient, rows: Rows, content_type: str
) -> None:
    assert client.post("/invocations", data=csv_body(rows[:1]), content_type=content_type).status_code == 200


def test_unknown_content_type_is_415_with_the_image_message(client: FlaskClient) -> None:
    answer = client.post("/invocations", data=b'{"instances": [[1, 2, 3]]}', content_type="application/json")

    assert answer.status_code == 415
    assert answer.get_data(as_text=True) == f"application/json is not an accepted ContentType: {ACCEPTED_TYPES}."


def test_an_empty_content_type_is_415(client: FlaskClient) -> None:
    answer = client.post("/invocations", data=b"0:1", headers={"Content-Type": ""})

    assert answer.status_code == 415
    assert answer.get_data(as_text=True) == f" is not an accepted ContentType: {ACCEPTED_TYPES}."


def test_parquet_is_415(client: FlaskClient) -> None:
    answer = client.post("/invocations", data=b"PAR1", content_type="application/x-parquet")

    assert answer.status_code == 415
    assert answer.get_data(as_text=True) == "Content-type application/x-parquet is not supported."


def test_recordio_protobuf_is_refused_with_415_naming_it(client: FlaskClient) -> None:
    answer = client.post("/invocations", data=b"\x0a\x0b", content_type="application/x-recordio-protobuf")

    assert answer.status_code == 415
    assert "recordio-protobuf" in answer.get_data(as_text=True)


def test_label_size_other_than_1_is_415(client: FlaskClient, rows: Rows) -> None:
    answer = client.post("/invocations", data=csv_body(rows[:1]), content_type="text/csv; label_size=2")

    assert answer.status_code == 415
    assert answer.get_data(as_text=True) == (
        "text/csv; label_size=2 is not an accepted csv ContentType. Optional parameter label_size must be equal to 1"
    )


def test_label_size_1_is_accepted(client: FlaskClient, rows: Rows) -> None:
    answer = client.post("/invocations", data=csv_body(rows[:1]), content_type="text/csv; label_size=1")

    assert answer.status_code == 200


def test_unparsable_csv_is_415_with_the_image_message(client: FlaskClient) -> None:
    answer = client.post("/invocations", data=b"a,b,c", content_type="text/csv")

    assert answer.status_code == 415
    assert answer.get_data(as_text=True) == (
        "Loading csv data failed with Exception, please ensure data is in csv format:\n"
        " <class 'ValueError'>\n could not convert string to float: np.str_('a')"
    )


def test_ragged_csv_rows_are_415(client: FlaskClient) -> None:
    answer = client.post("/invocations", data=b"0.1,0.2,0.3\n0.1,0.2", content_type="text/csv")

    assert answer.status_code == 415
    assert answer.get_data(as_text=True).startswith(
        "Loading csv data failed with Exception, please ensure data is in csv format:\n <class 'ValueError'>\n"
        " setting an array element with a sequence. The requested array has an inhomogeneous shape"
    )


@pytest.mark.parametrize(
    "body", [b"0.1\t0.2\t0.3", b"1;2;3", b"1|2|3", b"1 2 3", b"0.1,,0.3", b"\r\n0.1,0.2,0.3\r\n", b"0.1,0.2,0.3\r"]
)
def test_csv_delimiter_is_sniffed_and_the_body_stripped(client: FlaskClient, body: bytes) -> None:
    assert client.post("/invocations", data=body, content_type="text/csv").status_code == 200


def test_empty_body_is_204(client: FlaskClient) -> None:
    answer = client.post("/invocations", data=b"", content_type="text/csv")

    assert answer.status_code == 204
    assert answer.get_data() == b""
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_a_form_typed_body_is_consumed_as_form_data_so_204(client: FlaskClient, content_type: str) -> None:
    assert client.post("/invocations", data=b"0.1,0.2,0.3", content_type=content_type).status_code == 204


@pytest.mark.parametrize("columns", [NUM_FEATURES - 1, NUM_FEATURES + 1])
def test_wrong_csv_column_count_is_400_naming_both_counts(client: FlaskClient, columns: int) -> None:
    answer = client.post("/invocations", data=",".join(["0.5"] * columns).encode(), content_type="text/csv")

    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.get_data(as_text=True) == (
        f"Unable to evaluate payload provided: Feature size of csv inference data {columns} is not consistent with "
        f"feature size of trained model {NUM_FEATURES}."
    )


# --- request size (A.2, C) --------------------------------------------------------------------------------------------
def test_a_body_over_max_content_length_is_413_only_with_a_content_type(model_dir: Path) -> None:
    client = app_for(model_dir, MAX_CONTENT_LENGTH="20").test_client()
    body = b"0:0.1 1:0.2 2:0.3\n" * 3

    limited = client.post("/invocations", data=body, content_type="text/libsvm")
    unlimited = client.post("/invocations", data=body)

    assert limited.status_code == 413
    assert limited.headers["Content-Type"] == "text/html"
    assert limited.get_data(as_text=True) == WERKZEUG_413
    assert unlimited.status_code == 200


# --- other routes (A.2, 1) --------------------------------------------------------------------------------------------
def test_ping_is_200_empty_html(client: FlaskClient) -> None:
    answer = client.get("/ping")

    assert answer.status_code == 200
    assert answer.get_data() == b""
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"


def test_execution_parameters_is_json_with_max_payload_6(client: FlaskClient) -> None:
    answer = client.get("/execution-parameters")

    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.get_data(as_text=True) == (
        f'{{"MaxConcurrentTransforms": {os.cpu_count()}, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}}'
    )


def test_execution_parameters_follow_max_content_length(model_dir: Path) -> None:
    client = app_for(model_dir, MAX_CONTENT_LENGTH="100").test_client()

    assert json.loads(client.get("/execution-parameters").get_data())["MaxPayloadInMB"] == 0


def test_wrong_methods_are_405_and_paths_outside_nginx_locations_are_its_404(client: FlaskClient) -> None:
    get_invocations = client.get("/invocations")
    unknown = client.get("/foo")
    near_miss = client.get("/pingx")

    assert get_invocations.status_code == 405
    assert get_invocations.headers["Content-Type"] == "text/html"
    assert client.post("/ping").status_code == 405
    assert (unknown.status_code, unknown.get_data()) == (404, b"{}")
    assert near_miss.status_code == 404
    assert near_miss.get_data(as_text=True).startswith("<!DOCTYPE HTML PUBLIC")


# --- model loading (A.1, A.5) -----------------------------------------------------------------------------------------
def test_a_stray_file_in_the_model_directory_fails_loading(booster: xgb.Booster, tmp_path: Path) -> None:
    save_model(booster, tmp_path / "xgboost-model")
    (tmp_path / "notes.txt").write_text("not a model\n")

    with pytest.raises(ModelLoadError, match=r"notes\.txt cannot be loaded:\nPickle load error=.*\nXGB load model"):
        app_for(tmp_path)


def test_dotfiles_and_subdirectories_are_ignored(booster: xgb.Booster, tmp_path: Path, rows: Rows) -> None:
    save_model(booster, tmp_path / "xgboost-model")
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x01")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text("x = 1\n")

    answer = app_for(tmp_path).test_client().post("/invocations", data=csv_body(rows[:1]), content_type="text/csv")

    assert answer.status_code == 200


def test_an_empty_model_directory_fails_loading(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError):
        app_for(tmp_path)


def test_a_pickled_booster_is_loaded_in_pickle_format(booster: xgb.Booster, tmp_path: Path, rows: Rows) -> None:
    (tmp_path / "xgboost-model").write_bytes(pickle.dumps(booster))

    model = algorithm_mode.load_model(tmp_path)
    answer = app_for(tmp_path).test_client().post("/invocations", data=csv_body(rows[:2]), content_type="text/csv")

    assert model.model_format == algorithm_mode.PKL_FORMAT
    assert answer.get_data(as_text=True) == lines(scores(booster, rows[:2]))


def test_several_model_files_are_averaged(booster: xgb.Booster, tmp_path: Path, rows: Rows) -> None:
    other = xgb.train({"objective": "reg:squarederror", "nthread": 1}, xgb.DMatrix(rows, label=rows[:, 0]), 2)
    save_model(booster, tmp_path / "a-model")
    save_model(other, tmp_path / "b-model")
    mean = np.mean([booster.predict(xgb.DMatrix(rows[:2])), other.predict(xgb.DMatrix(rows[:2]))], axis=0)

    answer = app_for(tmp_path).test_client().post("/invocations", data=csv_body(rows[:2]), content_type="text/csv")

    assert answer.get_data(as_text=True) == lines(mean.tolist())


def test_with_ensemble_off_only_one_file_is_loaded(booster: xgb.Booster, tmp_path: Path) -> None:
    save_model(booster, tmp_path / "xgboost-model")
    (tmp_path / "zz-notes.txt").write_text("not a model\n")

    model = algorithm_mode.load_model(tmp_path, ensemble=False)

    assert len(model.boosters) == 1
