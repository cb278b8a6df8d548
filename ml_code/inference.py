"""The model's inference code: raw abalone records in, predicted rings out (SageMaker XGBoost 3.0-5, script mode).

The model archive carries this file and ``abalone_features.py`` under ``code/``; the model's environment selects it
(``SAGEMAKER_PROGRAM=inference.py``, ``SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code``). The image copies that folder
to /opt/ml/code, the only code folder on its workers' path, so the encoding module is imported as a top-level module.

The image's contract (research/xgboost_serving.md, B.2-B.5), and what this module does with it:

* ``model_fn(model_dir)`` runs once per worker; a failure fails every request, ``/ping`` included, so the booster and
  the encoding are both loaded and checked against each other there;
* ``transform_fn`` alone: the image refuses it together with ``input_fn``/``predict_fn``/``output_fn``;
* every exception a function raises becomes a 500 with a generic page, the message only logged. A caller's mistake
  is therefore never raised: it is *returned* as a ``flask.Response`` with its status (415 content type, 406 Accept,
  400 record) and the reason as a plain-text body, which the image sends as it is.

Requests: ``text/csv`` (one record per line, optional header), ``application/json`` (``{"instances": [{...}]}``) or
``application/jsonlines`` (one object per line), UTF-8; the rules are abalone_features'. Answers, by the first type of
the Accept header this module serves (``*/*`` there: the request's own type; no Accept at all: the image passes
application/json): ``text/csv`` one prediction per line; ``application/json`` ``{"predictions": [{"rings": 9.2}]}``;
``application/jsonlines`` ``{"rings": 9.2}`` per line. A prediction is written as ``repr(float(p))`` of XGBoost's
float32 value in every format, so every answer, batch transform's included, gives the very same numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING

import flask
import xgboost as xgb

if TYPE_CHECKING:  # the repository, where type checkers read the module as part of the ml_code package
    from ml_code import abalone_features
else:  # the container: /opt/ml/code holds this file and its sibling, both top-level modules
    import abalone_features

MODEL_FILE = "xgboost-model"
CSV, JSON, JSON_LINES = "text/csv", "application/json", "application/jsonlines"

PARSERS: dict[str, Callable[[str], list[abalone_features.Record]]] = {
    CSV: abalone_features.parse_csv,
    JSON: abalone_features.parse_json,
    JSON_LINES: abalone_features.parse_jsonlines,
}


def _csv_answer(predictions: Sequence[float]) -> str:
    return "".join(f"{value!r}\n" for value in predictions)


def _json_answer(predictions: Sequence[float]) -> str:
    return json.dumps({"predictions": [{"rings": value} for value in predictions]})


def _jsonlines_answer(predictions: Sequence[float]) -> str:
    return "".join(json.dumps({"rings": value}) + "\n" for value in predictions)


ANSWERS: dict[str, Callable[[Sequence[float]], str]] = {
    CSV: _csv_answer,
    JSON: _json_answer,
    JSON_LINES: _jsonlines_answer,
}


@dataclass(frozen=True)
class Model:
    """What ``model_fn`` loads: the booster, and the encoding its features were made with."""

    booster: xgb.Booster
    encoder: abalone_features.FeatureEncoder


def model_fn(model_dir: str) -> Model:
    """The booster (``xgboost-model``) and the fitted encoding (``features.json``) from the unpacked model archive."""
    booster = xgb.Booster()
    booster.load_model(str(Path(model_dir) / MODEL_FILE))
    encoder = abalone_features.FeatureEncoder.load(Path(model_dir))
    expected = len(abalone_features.FEATURE_COLUMNS)
    if booster.num_features() != expected:  # refuse to start rather than answer every request with a 500
        raise ValueError(f"{MODEL_FILE} takes {booster.num_features()} features, the encoding makes {expected}")
    return Model(booster, encoder)


def transform_fn(model: Model, input_data: str | bytes, content_type: str, accept: str) -> flask.Response:
    """One request. ``input_data`` is a ``str`` when the Content-Type is exactly text/csv or application/json, else
    ``bytes``; ``content_type`` and ``accept`` are the headers as sent (the image puts application/json for a missing
    or ``*/*`` Accept)."""
    request_type = _media_type(content_type)
    if request_type not in PARSERS:
        return _refuse(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"Content-Type {content_type!r} is not supported: send {_supported()}"
        )
    answer_type = _answer_type(accept, request_type)
    if answer_type is None:
        return _refuse(
            HTTPStatus.NOT_ACCEPTABLE, f"Accept {accept!r}: no type this model answers with ({_supported()})"
        )
    try:
        text = input_data if isinstance(input_data, str) else input_data.decode("utf-8")
        records = PARSERS[request_type](text)
    except UnicodeDecodeError as error:
        return _refuse(HTTPStatus.BAD_REQUEST, f"the body is not UTF-8 text: {error}")
    except abalone_features.RecordError as error:
        return _refuse(HTTPStatus.BAD_REQUEST, str(error))
    scores = model.booster.predict(xgb.DMatrix(model.encoder.encode(records)))
    body = ANSWERS[answer_type]([float(score) for score in scores])  # the float32 values, exactly
    return flask.Response(body, status=int(HTTPStatus.OK), mimetype=answer_type)


def _media_type(header: str) -> str:
    """``Text/CSV; charset=utf-8`` → ``text/csv`` (parameters ignored: bodies are read as UTF-8)."""
    return header.split(";", 1)[0].strip().lower()


def _answer_type(accept: str, request_type: str) -> str | None:
    """The first type of the Accept list this module answers with (q-values are not weighed); a wildcard (``*/*``,
    ``text/*``) prefers the request's own type."""
    if not accept.strip():  # the image never passes one (it puts application/json); a direct caller might
        return request_type
    for item in accept.split(","):
        wanted = _media_type(item)
        if wanted == "*/*":
            return request_type
        for media in (request_type, *ANSWERS):
            if media == wanted or (wanted.endswith("/*") and media.startswith(wanted[:-1])):
                return media
    return None


def _supported() -> str:
    return ", ".join(PARSERS)


def _refuse(status: HTTPStatus, message: str) -> flask.Response:
    return flask.Response(message, status=int(status), mimetype="text/plain")
