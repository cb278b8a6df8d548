"""The SageMaker XGBoost 3.0-5 image's script-mode server (``SAGEMAKER_PROGRAM`` set), as a Flask app.

Follows the single-model path of aws/sagemaker-xgboost-container v3.0-5 (``serving.py``: ``main``,
``_user_module_transformer`` and its ``default_*_fn``) and sagemaker-containers 2.8.6.post2 (``_modules``,
``_transformer``, ``_worker``, ``_functions``), which that image runs behind nginx and gunicorn:

* the code: ``SAGEMAKER_SUBMIT_DIRECTORY`` (a local folder such as ``/opt/ml/model/code``, a local tar.gz or file)
  is copied to the code directory (the image's ``/opt/ml/code``) if that is empty, which goes on ``sys.path``; the
  module ``SAGEMAKER_PROGRAM`` (a trailing ``.py`` dropped) is imported from it. An ``s3://`` value is refused: the
  models run with network isolation, where the image cannot download it either;
* the functions: ``model_fn(model_dir)`` once, then per request either ``transform_fn(model, data, content_type,
  accept)`` or ``input_fn(data, content_type)`` → ``predict_fn(data, model)`` → ``output_fn(prediction, accept)``,
  each falling back to the image's default (CSV/libsvm decoding, ``model.predict(..., validate_features=False)``,
  json/csv/npy encoding). A missing ``model_fn`` (or one that raises), ``transform_fn`` with any of the other three,
  or an empty ``SAGEMAKER_PROGRAM`` is refused at start-up: the image's server starts, but answers every request,
  ``/ping`` included, with gunicorn's 500 (B.2), so its endpoint fails the ping health check -- refusing to start is
  how the local endpoint reports that same failure;
* the request: ``content_type`` is the ``ContentType`` header, else ``Content-Type``, else ``application/json``;
  ``accept`` is the Accept header as sent, or ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`` / ``application/json`` when it
  is missing or ``*/*``; the body is a ``str`` for exactly ``text/csv`` or ``application/json``, else ``bytes``;
* the answer: a ``(body, content_type)`` tuple is sent with that type; a Response object as it is, status included
  (how user code answers 400, 406 or 415 here); a ``str``/``bytes`` as ``text/html``; a ``dict`` as Flask 1.1's
  ``jsonify`` writes it; anything else is a 500. *Any* exception from the user's or the default functions is a 500
  with Werkzeug 0.15.6's HTML page: the image wraps every function in ``_functions.error_wrapper``, so no status
  code of an exception reaches the caller;
* ``GET /ping`` 200 (``application/json``, empty); ``/execution-parameters`` is not served (404).

As in algorithm mode, recordio-protobuf input to the default ``input_fn`` fails (a 500 here, like any decoding
error): the image's mlio decoder is not available locally.
"""

from __future__ import annotations

import csv
import http
import importlib
import io
import json
import logging
import os
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import xgboost as xgb
from flask import Flask, Response, request
from werkzeug.wrappers import Response as WerkzeugResponse

from local_twin.serving.image_http import parse_header, use_image_error_pages

LOG = logging.getLogger(__name__)
UTF8_TYPES = ("application/json", "text/csv")


class UserModuleError(RuntimeError):
    """The user code cannot be served: not installable or importable, no or a failing ``model_fn``, ``transform_fn``
    with the other functions. The image's endpoint fails its ping health check then; the local one does not start."""


CONTAINER_MODEL_DIR = "/opt/ml/model"  # where the image extracts model.tar.gz
CONTAINER_CODE_DIR = "/opt/ml/code"  # the image's code directory (sagemaker_containers' _env.code_dir)


def local_path(container_path: str, model_dir: Path, code_dir: Path) -> str:
    """A path inside the image (``/opt/ml/model/...``, ``/opt/ml/code``) as the local folder that stands for it;
    anything else (an s3:// URI, a path of this machine) as given. Needed for the value the SDK sets with network
    isolation, SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code: the code inside the model archive."""
    for inside, local in ((CONTAINER_MODEL_DIR, model_dir), (CONTAINER_CODE_DIR, code_dir)):
        if container_path == inside or container_path.startswith(inside + "/"):
            return str(local / container_path[len(inside) :].lstrip("/"))
    return container_path


def install_code(submit_directory: str, code_dir: Path) -> None:
    """``_files.download_and_extract``: nothing if the code directory has files already; else a folder is copied, a
    tar.gz extracted, any other file copied into it."""
    code_dir.mkdir(parents=True, exist_ok=True)
    if any(code_dir.iterdir()):
        return
    if submit_directory.startswith("s3://"):
        raise UserModuleError(
            f"SAGEMAKER_SUBMIT_DIRECTORY={submit_directory}: the local endpoint serves models with network isolation, "
            "which cannot download code; put the code in the model archive and point at /opt/ml/model/code"
        )
    source = Path(submit_directory)
    try:
        if source.is_dir():
            if source.resolve() != code_dir.resolve():
                shutil.copytree(source, code_dir, dirs_exist_ok=True)
        elif tarfile.is_tarfile(source):
            with tarfile.open(source, mode="r:gz") as tar:
                tar.extractall(code_dir, filter="data")
        else:
            shutil.copy2(source, code_dir)
    except (OSError, tarfile.TarError) as exc:
        raise UserModuleError(f"SAGEMAKER_SUBMIT_DIRECTORY={submit_directory} cannot be installed: {exc}") from exc


def import_user_module(program: str, code_dir: Path) -> ModuleType:
    """Import ``SAGEMAKER_PROGRAM`` from the code directory (the image puts /opt/ml/code on the workers' path)."""
    name = program[:-3] if program.endswith(".py") else program
    if not name:
        raise UserModuleError("SAGEMAKER_PROGRAM is empty: the image imports the module '' and fails every request")
    if str(code_dir) not in sys.path:
        sys.path.append(str(code_dir))
    importlib.invalidate_caches()  # the code directory was just written
    try:
        return importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 - the image reports any import failure as ImportModuleError
        raise UserModuleError(f"ImportModuleError: cannot import {name!r} from {code_dir}: {exc}") from exc


# --- the image's defaults (serving.py default_*_fn) -----------------------------------------------------------------
def default_input_fn(input_data: str | bytes, content_type: str) -> xgb.DMatrix:
    """``encoder.decode``: exactly text/csv (no strip: a trailing newline fails), text/libsvm or text/x-libsvm."""
    media_type, _ = parse_header(content_type)
    if media_type == "text/csv":
        text = input_data.decode() if isinstance(input_data, bytes) else input_data
        delimiter = csv.Sniffer().sniff(text.split("\n")[0][:512]).delimiter
        delimiter = "," if delimiter.isalnum() else delimiter
        rows = [["nan" if x == "" else x for x in line.split(delimiter)] for line in text.split("\n")]
        return xgb.DMatrix(np.array(rows).astype(None))
    if media_type in ("text/libsvm", "text/x-libsvm"):
        return _libsvm_to_dmatrix(input_data)
    if media_type == "application/x-recordio-protobuf":
        raise ValueError("recordio-protobuf input needs the image's mlio decoder, which is not available locally")
    raise ValueError(f"UnsupportedFormatError: Content type {media_type} is not supported by this framework")


def _libsvm_to_dmatrix(input_data: str | bytes) -> xgb.DMatrix:
    """``encoder.libsvm_to_dmatrix``: XGBoost's own libsvm reader on a temporary file (the first token is a label)."""
    with tempfile.NamedTemporaryFile(suffix=".libsvm", delete=False) as handle:
        path = Path(handle.name)
        handle.write(input_data)  # type: ignore[arg-type]  # a str fails here, as it does in the image
    try:
        return xgb.DMatrix(f"{path}?format=libsvm")
    finally:
        path.unlink(missing_ok=True)


def default_predict_fn(input_data: Any, model: Any) -> Any:
    return model.predict(input_data, validate_features=False)


def _array_to_json(array_like: Any) -> str:
    """sagemaker-containers' ``array_to_json``: numpy values through their ``tolist``."""

    def default(value: Any) -> Any:
        if hasattr(value, "tolist"):
            return value.tolist()
        return json.JSONEncoder().default(value)

    return json.dumps(array_like, default=default)


class WorkerResponse(Response):
    """``sagemaker_containers._worker.Response``: JSON unless told otherwise (``/ping``, tuples without a type)."""

    default_mimetype = "application/json"


def default_output_fn(prediction: Any, accept: str) -> Response:
    """sagemaker-containers' ``encoders.encode``: exactly application/json, text/csv or application/x-npy."""
    body: str | bytes
    if accept == "application/json":
        body = _array_to_json(prediction)
    elif accept == "text/csv":  # array_to_csv: numpy values written with str(), so float32 as its shortest repr
        array = np.array(prediction)
        rows = np.reshape(array, (array.shape[0], 1)) if array.ndim == 1 else array
        stream = io.StringIO()
        csv.writer(stream, lineterminator="\n").writerows(rows)
        body = stream.getvalue()
    elif accept == "application/x-npy":
        buffer = io.BytesIO()
        np.save(buffer, prediction)
        body = buffer.getvalue()
    else:
        raise ValueError(f"UnsupportedFormatError: Content type {accept} is not supported by this framework")
    return WorkerResponse(response=body, status=http.HTTPStatus.OK, mimetype=accept)


def _missing_model_fn(model_dir: str) -> Any:
    raise NotImplementedError(
        "Please provide a model_fn implementation. See documentation for model_fn at https://sagemaker.readthedocs.io"
    )


class Transformer:
    """``_user_module_transformer`` + sagemaker-containers' ``Transformer``: the functions the image would call."""

    def __init__(self, module: ModuleType) -> None:
        self.model_fn: Callable[[str], Any] = getattr(module, "model_fn", _missing_model_fn)
        self.transform_fn: Callable[..., Any] | None = getattr(module, "transform_fn", None)
        own = {name: getattr(module, name, None) for name in ("input_fn", "predict_fn", "output_fn")}
        if self.transform_fn is not None and any(own.values()):
            raise UserModuleError("Cannot use transform_fn implementation with input_fn, predict_fn, and/or output_fn")
        self.input_fn: Callable[..., Any] = own["input_fn"] or default_input_fn
        self.predict_fn: Callable[..., Any] = own["predict_fn"] or default_predict_fn
        self.output_fn: Callable[..., Any] = own["output_fn"] or default_output_fn

    def transform(self, model: Any, data: str | bytes, content_type: str, accept: str) -> Any:
        """One request; any exception, an ``HTTPException`` such as ``flask.abort(400)`` included, is a ClientError."""
        try:
            if self.transform_fn is not None:
                return self.transform_fn(model, data, content_type, accept)
            return self.output_fn(self.predict_fn(self.input_fn(data, content_type), model), accept)
        except Exception as exc:  # noqa: BLE001 - _functions.error_wrapper: every failure becomes a 500
            raise ClientError(exc) from exc


class ClientError(Exception):
    """sagemaker-containers' ``_errors.ClientError``: neither an HTTPException nor UnsupportedFormatError, so a 500."""


def _as_response(result: Any) -> WerkzeugResponse:
    """What ``Transformer.transform`` and then Flask 1.1 (the image's) make of a transform's return value."""
    if isinstance(result, tuple):
        return WorkerResponse(response=result[0], mimetype=result[1])
    if isinstance(result, WerkzeugResponse):
        return result
    if isinstance(result, dict):  # jsonify with Flask 1.1's defaults: sorted keys, compact, a trailing newline
        body = json.dumps(result, sort_keys=True, separators=(",", ":")) + "\n"
        return Response(response=body, mimetype="application/json")
    if isinstance(result, str | bytes):
        return Response(response=result, mimetype="text/html")
    raise TypeError(f"The view function did not return a valid response: {type(result).__name__}")


def create_app(model_dir: Path, code_dir: Path, environ: Mapping[str, str] | None = None) -> Flask:
    """The image's script-mode server for the model in ``model_dir`` (``model_fn`` runs now)."""
    environ = os.environ if environ is None else environ
    program = environ.get("SAGEMAKER_PROGRAM")
    if program is None:
        raise UserModuleError(
            "SAGEMAKER_PROGRAM is not set: that is algorithm mode (local_twin.serving.algorithm_mode)"
        )
    submit_directory = local_path(environ.get("SAGEMAKER_SUBMIT_DIRECTORY", CONTAINER_CODE_DIR), model_dir, code_dir)
    install_code(submit_directory, code_dir)
    transformer = Transformer(import_user_module(program, code_dir))
    try:
        model = transformer.model_fn(str(model_dir))
    except Exception as exc:  # noqa: BLE001 - any model_fn failure fails every request in the image (B.2)
        raise UserModuleError(f"model_fn({str(model_dir)!r}) failed: {type(exc).__name__}: {exc}") from exc
    default_accept = environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "application/json")
    app = Flask("sagemaker_containers._worker")
    use_image_error_pages(app)

    @app.get("/ping")
    def ping() -> Response:
        return WorkerResponse(status=http.HTTPStatus.OK)

    @app.post("/invocations")
    def invocations() -> WerkzeugResponse:
        content_type = request.headers.get("ContentType") or request.headers.get("Content-Type") or "application/json"
        accept = request.headers.get("Accept")
        if not accept or accept == "*/*":
            accept = default_accept
        data: str | bytes = request.get_data(as_text=True) if content_type in UTF8_TYPES else request.get_data()
        # Any exception propagates to Flask: a 500 with Werkzeug's page, as the image's error_wrapper makes it.
        return _as_response(transformer.transform(model, data, content_type, accept))

    return app
