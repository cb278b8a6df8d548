"""A loopback stand-in for the inference server of the SageMaker XGBoost 3.0-5 image (algorithm mode).

The local twin cannot run the real container (no Docker), but what a caller sees must be the same: the same HTTP
contract (``GET /ping``, ``POST /invocations`` with ``text/csv``, ``GET /execution-parameters`` for batch transform),
the same model loading and the same CSV parsing and prediction. The functions below follow
``sagemaker_xgboost_container.algorithm_mode.serve_utils`` / ``serve.py`` and ``encoder.csv_to_dmatrix`` step by step:

* loading: every regular file of the model directory is tried as a pickle first, then with ``Booster.load_model``
  (the training step saves ``xgboost-model`` in XGBoost's own format, so the second path is the one taken); several
  files are an ensemble whose predictions are averaged; ``nthread`` is set to 1;
* parsing: the payload is decoded as UTF-8 and stripped, the delimiter is sniffed from the first line (an alphanumeric
  guess means ``,``), rows are split on ``\\n``, empty fields become NaN, the matrix is float64;
* responses: a parse failure is 415, a prediction failure 400, an empty body 204, predictions are joined with ``,``
  (endpoint) or one per line with a trailing newline (batch transform, ``SAGEMAKER_BATCH``).

One deliberate difference: the container checks the column count only for pickled models, so a request with too
few columns is silently scored against an XGBoost-format model. Here the column count is checked for every format
and answered with a 400 naming both counts, so a client bug shows up locally instead of as wrong predictions.

The HTTP layer is Flask on werkzeug's threaded server, like the container's Flask app (minus gunicorn, which a single
loopback process does not need).
"""

from __future__ import annotations

import csv
import http
import io
import json
import logging
import pickle
import tarfile
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import xgboost as xgb
from flask import Flask, Response, request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

LOG = logging.getLogger(__name__)

CSV_CONTENT_TYPE = "text/csv"
# What the container recognises; the local twin serves the one the model package declares (text/csv).
CONTAINER_CONTENT_TYPES = ("text/csv", "text/libsvm", "text/x-libsvm", "application/x-recordio-protobuf")
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # the container's default MAX_CONTENT_LENGTH and the runtime API's limit
PKL_FORMAT: Final = "pkl_format"
XGB_FORMAT: Final = "xgb_format"
ModelFormat = Literal["pkl_format", "xgb_format"]


class InferenceError(Exception):
    """A request the model cannot answer; ``status`` is the HTTP status the container would send."""

    status: int = http.HTTPStatus.BAD_REQUEST


class UnsupportedContentTypeError(InferenceError):
    status = http.HTTPStatus.UNSUPPORTED_MEDIA_TYPE


class PayloadParseError(InferenceError):
    status = http.HTTPStatus.UNSUPPORTED_MEDIA_TYPE


class FeatureCountError(InferenceError):
    status = http.HTTPStatus.BAD_REQUEST


class ModelLoadError(RuntimeError):
    """The model directory holds nothing the container could load."""


@dataclass(frozen=True)
class LoadedModel:
    """The boosters found in a model directory, in the format the container would have detected."""

    boosters: tuple[xgb.Booster, ...]
    model_format: ModelFormat
    num_features: int


def extract_model_archive(archive: bytes, model_dir: Path) -> Path:
    """Unpack a SageMaker ``model.tar.gz`` (the model directory's contents at the tar root) into ``model_dir``.

    The ``data`` filter refuses absolute paths, ``..`` and links out of the directory: the archive is read from S3.
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
            tar.extractall(model_dir, filter="data")
    except tarfile.TarError as exc:
        raise ModelLoadError(f"the model archive is not a readable tar.gz: {exc}") from exc
    return model_dir


def load_model(model_dir: Path) -> LoadedModel:
    """Load every model file in ``model_dir`` the way the container's ``get_loaded_booster`` does."""
    if not model_dir.is_dir():
        raise ModelLoadError(f"model directory {model_dir} does not exist")
    files = sorted(path for path in model_dir.iterdir() if path.is_file())
    if not files:
        raise ModelLoadError(f"model directory {model_dir} holds no model file (expected xgboost-model)")
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
    # Same order as the container: a pickle first, then XGBoost's own format. The files come from this run's own
    # training job (the model registered in the emulated Model Registry), as they do for the real endpoint.
    try:
        with path.open("rb") as handle:
            # pickle is safe here: it reproduces the container's loader on our own artifact (see above).
            loaded = pickle.load(handle)
        if not isinstance(loaded, xgb.Booster):
            raise TypeError(f"unpickled a {type(loaded).__name__}, not an xgboost Booster")
        return loaded, PKL_FORMAT
    except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError, ImportError) as pkl_error:
        booster = xgb.Booster()
        try:
            booster.load_model(str(path))
        except xgb.core.XGBoostError as xgb_error:
            raise ModelLoadError(f"model at {path} cannot be loaded:\n{pkl_error}\n{xgb_error}") from xgb_error
        return booster, XGB_FORMAT


def content_type_of(header: str | None) -> str:
    """The media type of a Content-Type header; a missing header means text/csv, as in the container."""
    media_type = (header or CSV_CONTENT_TYPE).split(";")[0].strip().lower()
    if media_type != CSV_CONTENT_TYPE:
        known = "" if media_type in CONTAINER_CONTENT_TYPES else " (the XGBoost container does not know it either)"
        raise UnsupportedContentTypeError(
            f"Content-type {media_type} is not supported by the local endpoint{known}. "
            f"Send {CSV_CONTENT_TYPE}: one row of features per line, no header, no label column."
        )
    return media_type


def parse_csv(payload: bytes) -> np.ndarray[Any, np.dtype[np.float64]]:
    """CSV rows → a float64 matrix, as ``encoder.csv_to_dmatrix`` builds it."""
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise PayloadParseError(f"Loading csv data failed: the payload is not UTF-8 ({exc})") from exc
    try:
        sniffed = csv.Sniffer().sniff(text.split("\n")[0][:512]).delimiter
    except csv.Error:
        sniffed = ","  # one column, or nothing the sniffer can use: the container's fallback for a bad guess
    delimiter = "," if sniffed.isalnum() else sniffed
    rows = [["nan" if field == "" else field for field in line.split(delimiter)] for line in text.split("\n")]
    widths = sorted({len(row) for row in rows})
    if len(widths) > 1:
        raise PayloadParseError(f"Loading csv data failed: rows have different column counts {widths}")
    try:
        return np.array(rows, dtype=np.str_).astype(np.float64)
    except ValueError as exc:
        raise PayloadParseError(f"Loading csv data failed, please ensure data is in csv format: {exc}") from exc


def predict(model: LoadedModel, features: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, Any]:
    """Score a feature matrix; a column count other than the model's is a 400, not a silent misprediction."""
    columns = features.shape[1]
    if columns != model.num_features:
        raise FeatureCountError(
            f"Feature size of csv inference data {columns} is not consistent with feature size of trained model "
            f"{model.num_features}: send exactly {model.num_features} feature columns per row, without the label"
        )
    # nthread=1 (the container leaves the default): starting every core's threads to build a small DMatrix costs more
    # than the prediction itself on a busy laptop (make bench, README "Performance"); the predictions are identical.
    matrix = xgb.DMatrix(features, nthread=1)
    predictions = [booster.predict(matrix, validate_features=False) for booster in model.boosters]
    result: np.ndarray[Any, Any] = predictions[0] if len(predictions) == 1 else np.mean(predictions, axis=0)
    return result


def format_predictions(predictions: Sequence[float], *, batch: bool) -> str:
    """The container's response body: comma-joined for an endpoint, one per line for batch transform."""
    values = [str(value) for value in predictions]
    return "\n".join(values) + "\n" if batch else ",".join(values)


def create_app(model: LoadedModel, *, batch: bool = False) -> Flask:
    """The container's routes around one loaded model."""
    app = Flask("local_twin.endpoint_server")
    app.config["MAX_CONTENT_LENGTH"] = MAX_PAYLOAD_BYTES
    lock = threading.Lock()  # the container loads one booster per worker because predict is not thread-safe

    @app.get("/ping")
    def ping() -> Response:
        return Response(status=http.HTTPStatus.OK)

    @app.get("/execution-parameters")
    def execution_parameters() -> Response:
        parameters = {"MaxConcurrentTransforms": 1, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}
        return Response(response=json.dumps(parameters), status=http.HTTPStatus.OK, mimetype="application/json")

    @app.post("/invocations")
    def invocations() -> Response:
        payload = request.get_data()
        if not payload:
            return Response(response="", status=http.HTTPStatus.NO_CONTENT)
        try:
            content_type_of(request.headers.get("Content-Type"))
            features = parse_csv(payload)
            with lock:
                predictions = predict(model, features)
        except InferenceError as exc:
            LOG.info("rejected a request (%s): %s", int(exc.status), exc)
            return Response(response=str(exc), status=exc.status, mimetype="text/plain")
        body = format_predictions(predictions.tolist(), batch=batch)
        return Response(response=body, status=http.HTTPStatus.OK, mimetype=CSV_CONTENT_TYPE)

    return app


class _QuietHandler(WSGIRequestHandler):
    """Request lines go to this module's logger at debug level instead of stderr, to keep the run's output clean."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        LOG.debug("%s %s -> %s", self.command, self.path, code)


class EndpointServer:
    """The local endpoint: a threaded HTTP server on 127.0.0.1 (a free port unless one is given).

    Use as a context manager, or ``start()`` / ``stop()``. ``url`` is the base URL (``http://127.0.0.1:<port>``).
    """

    def __init__(self, model: LoadedModel, *, port: int = 0, batch: bool = False) -> None:
        self.model = model
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", port, create_app(model, batch=batch), threaded=True, request_handler=_QuietHandler
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> EndpointServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, name="local-endpoint", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> EndpointServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@dataclass(frozen=True)
class Invocation:
    """What ``POST /invocations`` answered."""

    status: int
    body: str


def invoke(url: str, body: bytes, content_type: str = CSV_CONTENT_TYPE, *, timeout: float = 60.0) -> Invocation:
    """POST a payload to a local endpoint (any status is returned, not raised: callers check 4xx messages)."""
    # Only ever the loopback server this module started (http://127.0.0.1:<port>).
    req = urllib.request.Request(f"{url}/invocations", data=body, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return Invocation(status=int(response.status), body=response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        return Invocation(status=int(error.code), body=error.read().decode("utf-8"))


def score_rows(url: str, rows: Sequence[str], *, rows_per_request: int = 500) -> list[float]:
    """Score feature rows (CSV lines without the label) in requests of at most ``rows_per_request`` rows.

    Raises ``InferenceError`` with the endpoint's message if a request is refused.
    """
    predictions: list[float] = []
    for start in range(0, len(rows), rows_per_request):
        chunk = rows[start : start + rows_per_request]
        answer = invoke(url, "\n".join(chunk).encode("utf-8"))
        if answer.status != http.HTTPStatus.OK:
            raise InferenceError(f"the endpoint answered {answer.status} for rows {start}..: {answer.body}")
        values = [float(value) for value in answer.body.split(",")]
        if len(values) != len(chunk):
            raise InferenceError(f"the endpoint returned {len(values)} predictions for {len(chunk)} rows")
        predictions.extend(values)
    return predictions
