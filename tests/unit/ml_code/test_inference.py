"""ml_code/inference.py called as the XGBoost image's script mode calls it (research/xgboost_serving.md, B.2-B.5).

The module is imported the container's way: its file and abalone_features.py copied to a code folder that is put on
``sys.path``, the sibling a top-level module. The model directory is what training writes: a booster trained on the
encoded features, and the encoding beside it.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import xgboost as xgb
from flask import Response

from ml_code import abalone_features

REPO_ROOT = Path(__file__).resolve().parents[3]
SERVING_FILES = ("inference.py", "abalone_features.py")
CSV, JSON, JSON_LINES = "text/csv", "application/json", "application/jsonlines"
TYPES = (CSV, JSON, JSON_LINES)
SUPPORTED = "text/csv, application/json, application/jsonlines"
LINES = (REPO_ROOT / "data" / "abalone.csv").read_text().splitlines()
REQUEST_ROWS = [line.rsplit(",", 1)[0] for line in LINES[300:305]]  # raw records, no rings: as callers have them


@pytest.fixture(scope="module")
def inference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """``inference`` imported from a copy of the serving files, as the image imports it from /opt/ml/code."""
    code_dir = tmp_path_factory.mktemp("code")
    for name in SERVING_FILES:
        shutil.copyfile(REPO_ROOT / "ml_code" / name, code_dir / name)
    names = ("inference", "abalone_features")
    saved_path = list(sys.path)
    for name in names:
        sys.modules.pop(name, None)
    sys.path.insert(0, str(code_dir))
    try:
        yield importlib.import_module("inference")
    finally:
        sys.path[:] = saved_path
        for name in names:
            sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny regressor on 300 real records, saved as train.py saves it (booster + features.json)."""
    records = abalone_features.parse_csv("\n".join(line.rsplit(",", 1)[0] for line in LINES[:300]))
    labels = np.array([float(line.rsplit(",", 1)[1]) for line in LINES[:300]])
    encoder = abalone_features.FeatureEncoder.fit(records)
    params = {"objective": "reg:squarederror", "max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 0}
    booster = xgb.train(params, xgb.DMatrix(encoder.encode(records), label=labels), num_boost_round=10)
    directory = tmp_path_factory.mktemp("model")
    save_booster(booster, directory / "xgboost-model")
    encoder.save(directory)
    return directory


@pytest.fixture(scope="module")
def model(inference: ModuleType, model_dir: Path) -> Any:
    return inference.model_fn(str(model_dir))


def save_booster(booster: xgb.Booster, path: Path) -> None:
    with warnings.catch_warnings():  # a name without extension: XGBoost warns, then writes UBJSON
        warnings.simplefilter("ignore", UserWarning)
        booster.save_model(str(path))


def expected_predictions(model_dir: Path, rows: list[str]) -> list[float]:
    """What the booster predicts for the encoded records, computed here without the module under test."""
    booster = xgb.Booster()
    booster.load_model(str(model_dir / "xgboost-model"))
    encoder = abalone_features.FeatureEncoder.load(model_dir)
    records = abalone_features.parse_csv("\n".join(rows))
    return [float(value) for value in booster.predict(xgb.DMatrix(encoder.encode(records)))]


def instance_of(row: str) -> dict[str, Any]:
    fields = dict(zip(abalone_features.RAW_COLUMNS, row.split(","), strict=True))
    return {name: value if name == "sex" else float(value) for name, value in fields.items()}


def body_for(content_type: str, rows: list[str]) -> str:
    """The same raw records in each request format."""
    if content_type == CSV:
        return "\n".join(rows) + "\n"
    instances = [instance_of(row) for row in rows]
    if content_type == JSON:
        return json.dumps({"instances": instances})
    return "".join(json.dumps(instance) + "\n" for instance in instances)


def answer_for(accept: str, predictions: list[float]) -> str:
    if accept == CSV:
        return "".join(f"{value!r}\n" for value in predictions)
    if accept == JSON:
        return json.dumps({"predictions": [{"rings": value} for value in predictions]})
    return "".join(json.dumps({"rings": value}) + "\n" for value in predictions)


def call(inference: ModuleType, model: Any, data: str | bytes, content_type: str, accept: str) -> Response:
    response = inference.transform_fn(model, data, content_type, accept)
    assert isinstance(response, Response)  # never raised: the image would turn any exception into a 500
    return response


def text(response: Response) -> str:
    return response.get_data(as_text=True)


# --- the contract ----------------------------------------------------------------------------------------------------
def test_the_module_has_the_functions_the_image_accepts_together(inference: ModuleType) -> None:
    assert callable(inference.model_fn) and callable(inference.transform_fn)
    # The image refuses transform_fn together with any of these (serving._user_module_transformer).
    assert not any(hasattr(inference, name) for name in ("input_fn", "predict_fn", "output_fn"))


def test_the_sibling_is_imported_as_a_top_level_module(inference: ModuleType) -> None:
    assert inference.abalone_features.__name__ == "abalone_features"
    assert Path(inference.abalone_features.__file__).parent == Path(str(inference.__file__)).parent


def test_model_fn_loads_the_booster_and_the_encoding(model: Any, model_dir: Path) -> None:
    assert model.booster.num_features() == len(abalone_features.FEATURE_COLUMNS)
    fitted = abalone_features.FeatureEncoder.load(model_dir)
    assert (model.encoder.means, model.encoder.scales) == (fitted.means, fitted.scales)


def test_model_fn_refuses_a_booster_of_other_features(inference: ModuleType, model_dir: Path, tmp_path: Path) -> None:
    rows = np.random.default_rng(1).uniform(size=(20, 3))
    booster = xgb.train({"nthread": 1}, xgb.DMatrix(rows, label=rows.sum(axis=1)), num_boost_round=2)
    save_booster(booster, tmp_path / "xgboost-model")
    shutil.copyfile(model_dir / "features.json", tmp_path / "features.json")

    with pytest.raises(ValueError, match="^xgboost-model takes 3 features, the encoding makes 10$"):
        inference.model_fn(str(tmp_path))


def test_model_fn_needs_the_encoding(inference: ModuleType, model_dir: Path, tmp_path: Path) -> None:
    shutil.copyfile(model_dir / "xgboost-model", tmp_path / "xgboost-model")

    with pytest.raises(FileNotFoundError, match="features.json"):
        inference.model_fn(str(tmp_path))


# --- answers ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("accept", TYPES)
@pytest.mark.parametrize("content_type", TYPES)
def test_each_request_type_answers_in_each_accepted_type(
    inference: ModuleType, model: Any, model_dir: Path, content_type: str, accept: str
) -> None:
    response = call(inference, model, body_for(content_type, REQUEST_ROWS), content_type, accept)

    assert response.status_code == 200
    assert response.mimetype == accept
    assert text(response) == answer_for(accept, expected_predictions(model_dir, REQUEST_ROWS))


def test_predictions_are_the_boosters_float32_values(model: Any, inference: ModuleType, model_dir: Path) -> None:
    response = call(inference, model, body_for(CSV, REQUEST_ROWS), CSV, JSON)
    records = abalone_features.parse_csv("\n".join(REQUEST_ROWS))
    booster = xgb.Booster()
    booster.load_model(str(model_dir / "xgboost-model"))
    scores = booster.predict(xgb.DMatrix(abalone_features.FeatureEncoder.load(model_dir).encode(records)))

    values = [item["rings"] for item in json.loads(text(response))["predictions"]]

    assert values == [float(score) for score in scores]
    assert np.array(values, dtype=np.float32).tolist() == values  # float32 values, written exactly
    assert len(set(values)) > 1  # the records are told apart: the encoding reached the booster


def test_csv_answers_are_text_csv_utf8(inference: ModuleType, model: Any) -> None:
    response = call(inference, model, REQUEST_ROWS[0], CSV, CSV)

    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert text(response).count("\n") == 1 and text(response).endswith("\n")


def test_a_header_line_gets_no_prediction(inference: ModuleType, model: Any, model_dir: Path) -> None:
    body = ",".join(abalone_features.RAW_COLUMNS) + "\r\n" + "\r\n".join(REQUEST_ROWS) + "\r\n"

    response = call(inference, model, body, CSV, CSV)

    assert text(response) == answer_for(CSV, expected_predictions(model_dir, REQUEST_ROWS))


@pytest.mark.parametrize(
    ("content_type", "accept", "answer_type"),
    [
        (CSV, "text/csv; charset=utf-8", CSV),
        (CSV, "Application/JSON", JSON),
        (CSV, "application/xml, application/jsonlines;q=0.1, text/csv", JSON_LINES),  # the first served, q ignored
        (CSV, "text/plain, */*", CSV),  # */* in a list: the request's own type
        (JSON_LINES, "text/html,*/*;q=0.8", JSON_LINES),
        (JSON, "*/*", JSON),  # the image passes application/json instead of a lone */*; a direct call gets this
        (JSON, "text/*", CSV),
        (CSV, "application/*", JSON),
        (JSON_LINES, "application/*", JSON_LINES),  # a wildcard prefers the request's own type
        (CSV, "", CSV),
    ],
)
def test_accept_picks_the_first_listed_type_served(
    inference: ModuleType, model: Any, content_type: str, accept: str, answer_type: str
) -> None:
    response = call(inference, model, body_for(content_type, REQUEST_ROWS[:2]), content_type, accept)

    assert (response.status_code, response.mimetype) == (200, answer_type)


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        (CSV, "\n".join(REQUEST_ROWS)),
        ("text/csv; charset=utf-8", "\n".join(REQUEST_ROWS).encode()),  # not exactly text/csv: the image passes bytes
        ("Text/CSV", "\n".join(REQUEST_ROWS).encode()),
        (CSV, "\n".join(REQUEST_ROWS).encode()),
        ("application/json; charset=UTF-8", body_for(JSON, REQUEST_ROWS).encode()),
        (JSON, body_for(JSON, REQUEST_ROWS)),
        (JSON_LINES, body_for(JSON_LINES, REQUEST_ROWS).encode()),
        (JSON_LINES, body_for(JSON_LINES, REQUEST_ROWS)),
    ],
)
def test_str_and_bytes_bodies_and_content_type_parameters(
    inference: ModuleType, model: Any, model_dir: Path, content_type: str, data: str | bytes
) -> None:
    response = call(inference, model, data, content_type, CSV)

    assert response.status_code == 200
    assert text(response) == answer_for(CSV, expected_predictions(model_dir, REQUEST_ROWS))


# --- refusals --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("content_type", ["application/x-npy", "text/libsvm", "application/x-recordio-protobuf", ""])
def test_other_content_types_are_415_naming_the_accepted_ones(
    inference: ModuleType, model: Any, content_type: str
) -> None:
    response = call(inference, model, b"M,0.1,0.1,0.1,0.1,0.1,0.1,0.1", content_type, CSV)

    assert (response.status_code, response.mimetype) == (415, "text/plain")
    assert text(response) == f"Content-Type {content_type!r} is not supported: send {SUPPORTED}"


@pytest.mark.parametrize("accept", ["text/html", "application/xml, text/plain", "application/x-npy", "image/*"])
def test_other_accept_types_are_406_naming_the_served_ones(inference: ModuleType, model: Any, accept: str) -> None:
    response = call(inference, model, REQUEST_ROWS[0], CSV, accept)

    assert (response.status_code, response.mimetype) == (406, "text/plain")
    assert text(response) == f"Accept {accept!r}: no type this model answers with ({SUPPORTED})"


def test_the_content_type_is_checked_first(inference: ModuleType, model: Any) -> None:
    assert call(inference, model, b"", "application/x-npy", "text/html").status_code == 415


BAD_ROW = "M,abc,0.1,0.1,0.1,0.1,0.1,0.1"


@pytest.mark.parametrize(
    ("data", "content_type", "message"),
    [
        (f"{REQUEST_ROWS[0]}\nX,1,2,3,4,5,6,7\n", CSV, "row 2: sex 'X' is not one of M, F, I"),
        (
            "M,1,2,3,4,5,6",
            CSV,
            "row 1: 7 values, expected 8 (sex, length, diameter, height, whole_weight, "
            "shucked_weight, viscera_weight, shell_weight)",
        ),
        (f"{REQUEST_ROWS[0]}\n{BAD_ROW}", CSV, "row 2: length 'abc' is not a number"),
        ("M,1,2,inf,4,5,6,7", CSV, "row 1: height 'inf' is not a finite number"),
        (
            json.dumps({"instances": [{"sex": "M"}]}),
            JSON,
            "row 1: missing length, diameter, height, whole_weight, shucked_weight, viscera_weight, shell_weight",
        ),
        (
            body_for(JSON, REQUEST_ROWS[:3])[:-2] + ', {"colour": "red"}]}',
            JSON,
            "row 4: unknown field 'colour'",
        ),
        (
            '{"instances": [1]}',
            JSON,
            "row 1: expected an object with the fields sex, length, diameter, height, "
            "whole_weight, shucked_weight, viscera_weight, shell_weight, got a number",
        ),
        ("[]", JSON, 'expected a JSON body {"instances": [{"sex": "M", "length": 0.455, ...}, ...]}: got an array'),
        ('{"instances": [', JSON, "the body is not valid JSON: Expecting value: line 1 column 16 (char 15)"),
        (
            json.dumps(instance_of(REQUEST_ROWS[0]))
            + "\n"
            + json.dumps({**instance_of(REQUEST_ROWS[0]), "length": "0.4"}),
            JSON_LINES,
            "row 2: length '0.4' is not a number",
        ),
        ("", CSV, "no records: the body is empty"),
        ("", JSON, "no records: the body is empty"),
        (b"", JSON_LINES, "no records: the body is empty"),
        (
            "sex,length,diameter,height,whole_weight,shucked_weight,viscera_weight,shell_weight\n",
            CSV,
            "no records: the CSV has only a header line",
        ),
        ('{"instances": []}', JSON, 'no records: "instances" is empty'),
    ],
)
def test_bad_records_are_400_with_the_message(
    inference: ModuleType, model: Any, data: str | bytes, content_type: str, message: str
) -> None:
    response = call(inference, model, data, content_type, CSV)

    assert (response.status_code, response.mimetype) == (400, "text/plain")
    assert text(response) == message


def test_a_body_that_is_not_utf8_is_400(inference: ModuleType, model: Any) -> None:
    response = call(
        inference, model, "F,0.5,0.4,0.1,0.5,0.2,0.1,0.15\n".encode("utf-16"), "text/csv; charset=utf-16", CSV
    )

    assert response.status_code == 400
    assert text(response).startswith("the body is not UTF-8 text: 'utf-8' codec can't decode byte 0xff in position 0")
