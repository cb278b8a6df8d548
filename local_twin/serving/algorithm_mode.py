"""The SageMaker XGBoost 3.0-5 image's algorithm-mode server (no ``SAGEMAKER_PROGRAM``), as a Flask app.

Follows aws/sagemaker-xgboost-container at tag v3.0-5 (commit c988a0e): ``algorithm_mode/serve.py``,
``algorithm_mode/serve_utils.py``, ``data_utils.py`` and ``encoder.py``, with sagemaker-containers 2.8.6.post2's
encoders. Step by step, in the container's order:

* loading (``serve_utils.get_loaded_booster``, ensemble on by default): every top-level, non-dot regular file of the
  model directory is a model, tried as a pickle, then with ``Booster.load_model``; several files are averaged;
  ``nthread`` is 1. A directory that cannot be loaded fails at start-up, as the container's preload kills its worker;
* ``POST /invocations``: an empty body is 204; the Content-Type (case-insensitive, parameters ignored) selects CSV
  (``text/csv``, ``csv``) or libsvm (``text/libsvm``, ``text/x-libsvm``, ``libsvm``, and a *missing* header); any
  other type, a ``label_size`` other than 1, or data that does not parse is 415 with the container's message;
  a prediction that fails is 400 (``Unable to evaluate payload provided: ...``); then Accept is checked (missing or
  ``*/*`` means ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``, else ``text/csv``): outside the four supported types 406.
  The body is read as the image's Werkzeug 0.15.6 reads it (:func:`~local_twin.serving.image_http.request_data`):
  over ``MAX_CONTENT_LENGTH`` is 413 only with a Content-Type, and a form-typed body arrives empty (204);
* responses: ``text/csv`` one prediction per line with a trailing newline (float64 repr of each float32 score),
  ``application/json`` ``{"predictions": [{"score": ...}]}``; ``application/jsonlines`` and
  ``application/x-recordio-protobuf`` are 500 in this image (its encoder knows only csv/json/npy); with
  ``SAGEMAKER_BATCH`` set (batch transform) every type gets one prediction per line;
* ``GET /ping`` 200; ``GET /execution-parameters`` the batch-transform parameters as JSON; HTTP errors and
  unhandled exceptions get the image's pages (:mod:`~local_twin.serving.image_http`).

Deliberate differences, listed in docs/local-twin.md: recordio-protobuf input is refused with 415 naming it (the
image's mlio decoder is not available locally); and the column count is checked for every model format, 400 naming
both counts -- the image checks it only for pickled models, so a request with too few columns is silently scored
against an XGBoost-format model. A CSV row must have exactly the model's feature count (the image lets a pickled
model take one fewer); a libsvm row names its columns, so only more columns than the model's are refused (which the
image refuses too, through XGBoost).
"""

from __future__ import annotations

import csv
import http
import json
import logging
import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import xgboost as xgb
from flask import Flask, Response, request
from scipy.sparse import csr_matrix

from local_twin.serving.image_http import parse_header, request_data, use_image_error_pages

LOG = logging.getLogger(__name__)

SUPPORTED_ACCEPTS = ("application/json", "application/jsonlines", "application/x-recordio-protobuf", "text/csv")
CSV_TYPES = ("text/csv", "csv")
LIBSVM_TYPES = ("text/libsvm", "text/x-libsvm", "libsvm")
RECORDIO_TYPES = ("application/x-recordio-protobuf", "recordio-protobuf")
PARQUET_TYPES = ("application/x-parquet", "parquet")
ACCEPTED_CONTENT_TYPES = (
    "csv, libsvm, parquet, recordio-protobuf, text/csv, text/libsvm, text/x-libsvm, application/x-parquet, "
    "application/x-recordio-protobuf"
)
DEFAULT_MAX_CONTENT_LENGTH = 6 * 1024 * 1024
PKL_FORMAT: Final = "pkl_format"
XGB_FORMAT: Final = "xgb_format"
ModelFormat = Literal["pkl_format", "xgb_format"]


class ModelLoadError(RuntimeError):
    """The model directory holds something the container could not load (its server would not start)."""


class ContentError(ValueError):
    """415: the payload's type is not accepted or its data does not parse."""


@dataclass(frozen=True)
class LoadedModel:
    """The boosters found in a model directory, in the format the container would have detected."""

    boosters: tuple[xgb.Booster, ...]
    model_format: ModelFormat
    num_features: int


def load_model(model_dir: Path, ensemble: bool = True) -> LoadedModel:
    """``serve_utils.get_loaded_booster``: top-level non-dot files, pickle first, then ``Booster.load_model``."""
    if not model_dir.is_dir():
        raise ModelLoadError(f"model directory {model_dir} does not exist")
    files = sorted(p for p in model_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ModelLoadError(f"model directory {model_dir} holds no model file (expected xgboost-model)")
    files = files if ensemble else files[:1]
    boosters: list[xgb.Booster] = []
    formats: list[ModelFormat] = []
    for path in files:
        booster, model_format = _load_one(path)
        booster.set_param("nthread", "1")
        boosters.append(booster)
        formats.append(model_format)
    widths = {booster.num_features() for booster in boosters}
    if len(widths) != 1:
        raise ModelLoadError(f"the model files in {model_dir} expect different feature counts: {sorted(widths)}")
    return LoadedModel(boosters=tuple(boosters), model_format=formats[0], num_features=widths.pop())


def _load_one(path: Path) -> tuple[xgb.Booster, ModelFormat]:
    # The container's order: a pickle first, then XGBoost's own format. The files are this project's own training
    # output (what the emulated Model Registry registered), as they are for the real endpoint.
    try:
        with path.open("rb") as handle:
            loaded = pickle.load(handle)  # the container's loader, reproduced on our own artifact
        if not isinstance(loaded, xgb.Booster):
            raise TypeError(f"unpickled a {type(loaded).__name__}, not an xgboost Booster")
        return loaded, PKL_FORMAT
    except Exception as pkl_error:  # noqa: BLE001 - the image falls back to Booster.load_model on any pickle error
        booster = xgb.Booster()
        try:
            booster.load_model(str(path))
        except Exception as xgb_error:  # noqa: BLE001 - the image reports any load failure with both errors
            raise ModelLoadError(
                f"Model {path} cannot be loaded:\nPickle load error={pkl_error}\nXGB load model error={xgb_error}"
            ) from xgb_error
        return booster, XGB_FORMAT


def content_kind(header: str | None) -> str:
    """``data_utils.get_content_type``: "csv" or "libsvm"; a missing header is libsvm."""
    if header is None:
        return "libsvm"
    media_type, params = parse_header(header.lower())
    if media_type in CSV_TYPES:
        if params.get("label_size", "1") != "1":
            raise ContentError(
                f"{header} is not an accepted csv ContentType. Optional parameter label_size must be equal to 1"
            )
        return "csv"
    if media_type in LIBSVM_TYPES:
        return "libsvm"
    if media_type in RECORDIO_TYPES:
        raise ContentError(
            f"Content-type {header} is not supported by the local endpoint: the image's recordio-protobuf decoder "
            "(mlio) is not available here. Send text/csv or text/libsvm."
        )
    if media_type in PARQUET_TYPES:
        raise ContentError(f"Content-type {header} is not supported.")
    raise ContentError(f"{header} is not an accepted ContentType: {ACCEPTED_CONTENT_TYPES}.")


def parse_csv(payload: bytes) -> np.ndarray[Any, np.dtype[np.float64]]:
    """``encoder.csv_to_dmatrix`` after ``payload.strip()``: sniffed delimiter, "" → NaN, float64."""
    try:
        text = payload.strip().decode("utf-8")
        sniffed = csv.Sniffer().sniff(text.split("\n")[0][:512]).delimiter
        delimiter = "," if sniffed.isalnum() else sniffed
        rows = [["nan" if field == "" else field for field in line.split(delimiter)] for line in text.split("\n")]
        return np.array(rows).astype(float)
    except Exception as exc:  # noqa: BLE001 - the container wraps every parse failure in one message (415)
        raise ContentError(
            f"Loading csv data failed with Exception, please ensure data is in csv format:\n {type(exc)}\n {exc}"
        ) from exc


def parse_libsvm(payload: bytes) -> csr_matrix:
    """``serve_utils._get_sparse_matrix_from_libsvm``: ``index:value`` tokens; one without ":" (a label) is skipped."""
    try:
        text = payload.strip().decode("utf-8")
        rows: list[int] = []
        cols: list[str] = []
        values: list[str] = []
        for row_index, line in enumerate(text.split("\n")):
            for item in line.split(" "):
                if ":" in item:
                    column, value = item.split(":")[0], item.split(":")[1]
                    rows.append(row_index)
                    cols.append(column)
                    values.append(value)
        return csr_matrix((np.array(values).astype(float), (np.array(rows), np.array(cols).astype(int))))
    except Exception as exc:  # noqa: BLE001 - the container wraps every parse failure in one message (415)
        raise ContentError(
            f"Loading libsvm data failed with Exception, please ensure data is in libsvm format:\n {type(exc)}\n {exc}"
        ) from exc


def predict(model: LoadedModel, features: Any, kind: str = "csv") -> np.ndarray[Any, Any]:
    """Score a feature matrix (dense or sparse) with ``serve_utils.predict``'s column check, for every model format."""
    columns = int(features.shape[1])
    if kind == "libsvm" and columns > model.num_features:
        raise ValueError(
            f"Feature size of libsvm inference data {columns} is larger than feature size of trained model "
            f"{model.num_features}."
        )
    if kind == "csv" and columns != model.num_features:
        raise ValueError(
            f"Feature size of csv inference data {columns} is not consistent with feature size of trained model "
            f"{model.num_features}."
        )
    # nthread=1: building a small DMatrix with every core's threads costs more than the prediction (make bench).
    matrix = xgb.DMatrix(features, nthread=1)
    predictions = [booster.predict(matrix, validate_features=False) for booster in model.boosters]
    result: np.ndarray[Any, Any] = predictions[0] if len(predictions) == 1 else np.mean(predictions, axis=0)
    return result


def encode(predictions: list[Any], accept: str, batch: bool) -> str:
    """The response body for the accept type (``serve.invocations`` and sagemaker-containers' encoders)."""
    if batch:
        return "\n".join(map(str, predictions)) + "\n"
    if accept == "application/json":
        return json.dumps({"predictions": [{"score": value} for value in predictions]})
    if accept == "text/csv":
        rows = [value if isinstance(value, list) else [value] for value in predictions]
        return "".join(",".join(str(item) for item in row) + "\n" for row in rows)
    raise _EncoderMissing(accept)  # jsonlines, recordio-protobuf: the image's encoder has no entry for them


class _EncoderMissing(KeyError):
    """sagemaker-containers' UnsupportedFormatError, raised outside any try in the image: a 500."""


def create_app(model_dir: Path, environ: Mapping[str, str] | None = None) -> Flask:
    """The container's routes around the model in ``model_dir`` (loaded now, as the container's preload does)."""
    environ = os.environ if environ is None else environ
    model = load_model(model_dir, ensemble=environ.get("SAGEMAKER_INFERENCE_ENSEMBLE", "true") == "true")
    batch = bool(environ.get("SAGEMAKER_BATCH"))
    max_length = int(environ.get("MAX_CONTENT_LENGTH", str(DEFAULT_MAX_CONTENT_LENGTH)))
    default_accept = environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "text/csv")
    app = Flask("sagemaker_xgboost_container.algorithm_mode")
    app.config["MAX_CONTENT_LENGTH"] = max_length  # applied by request_data, as Werkzeug 0.15.6 applies it
    use_image_error_pages(app)

    def text(body: str, status: int) -> Response:
        return Response(response=body, status=status, mimetype="text/html")

    @app.get("/ping")
    def ping() -> Response:
        return Response(status=http.HTTPStatus.OK, mimetype="text/html")

    @app.get("/execution-parameters")
    def execution_parameters() -> Response:
        parameters = {
            "MaxConcurrentTransforms": os.cpu_count() or 1,
            "BatchStrategy": "MULTI_RECORD",
            "MaxPayloadInMB": int(max_length / (1024**2)),
        }
        return Response(response=json.dumps(parameters), status=http.HTTPStatus.OK, mimetype="application/json")

    @app.post("/invocations")
    def invocations() -> Response:
        payload = request_data(max_length)
        if len(payload) == 0:
            return Response(response="", status=http.HTTPStatus.NO_CONTENT, mimetype="text/html")
        try:
            kind = content_kind(request.content_type)
            features = parse_csv(payload) if kind == "csv" else parse_libsvm(payload)
        except ContentError as exc:
            LOG.info("415: %s", exc)
            return text(str(exc), http.HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
        try:
            predictions = predict(model, features, kind)
        except Exception as exc:  # noqa: BLE001 - the container answers any prediction failure with 400
            LOG.info("400: %s", exc)
            return text(f"Unable to evaluate payload provided: {exc}", http.HTTPStatus.BAD_REQUEST)
        accept, _ = parse_header(request.headers.get("Accept", ""))  # serve._parse_accept
        if not accept or accept == "*/*":
            accept = default_accept  # as set, not validated
        elif accept.lower() not in SUPPORTED_ACCEPTS:
            message = (
                f"Accept type {accept} is not supported. Please use supported accept types: {list(SUPPORTED_ACCEPTS)}."
            )
            return text(message, http.HTTPStatus.NOT_ACCEPTABLE)
        else:
            accept = accept.lower()
        body = encode(predictions.tolist(), accept, batch)  # _EncoderMissing propagates: Flask's 500, as the image's
        return Response(response=body, status=http.HTTPStatus.OK, mimetype=accept)

    return app
