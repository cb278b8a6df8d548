"""The SageMaker XGBoost 3.0-5 image's script-mode server (``SAGEMAKER_PROGRAM`` set), as a Flask app.

Follows the single-model path of aws/sagemaker-xgboost-container v3.0-5 (``serving.py``: ``main``,
``_user_module_transformer`` and its ``default_*_fn``) and sagemaker-containers 2.8.6.post2 (``_modules``,
``_transformer``, ``_worker``, ``_functions``), which that image runs behind nginx and gunicorn:

* the code: ``SAGEMAKER_SUBMIT_DIRECTORY`` (a local folder such as ``/opt/ml/model/code``: with network isolation
  nothing is downloaded) is copied to the code directory (the image's ``/opt/ml/code``) if that is empty, which goes
  on ``sys.path``; the module ``SAGEMAKER_PROGRAM`` (a trailing ``.py`` dropped) is imported from it;
* the functions: ``model_fn(model_dir)`` once (no default: without it every request fails with 500),
  then per request either ``transform_fn(model, data, content_type, accept)`` or
  ``input_fn(data, content_type)`` → ``predict_fn(data, model)`` → ``output_fn(prediction, accept)``, each
  falling back to the image's default (CSV/libsvm decoding, ``model.predict(..., validate_features=False)``,
  json/csv/npy encoding). ``transform_fn`` with any of the other three is refused at start-up;
* the request: ``content_type`` is the ``ContentType`` header, else ``Content-Type``, else ``application/json``;
  ``accept`` is the Accept header as sent, or ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`` / ``application/json`` when it
  is missing or ``*/*``; the body is a ``str`` for exactly ``text/csv`` or ``application/json``, else ``bytes``;
* the answer: a ``(body, content_type)`` tuple is sent with that type; a Response object as it is, status included
  (how user code answers 400, 406 or 415 here); a ``str``/``bytes`` as ``text/html``; a ``dict`` as JSON. *Any*
  exception from the user's or the default functions is a 500 with Werkzeug's HTML page: the image wraps every
  function in ``_functions.error_wrapper``, so no status code of an exception reaches the caller;
* ``GET /ping`` 200 (``application/json``, empty); ``/execution-parameters`` is not served (404).
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
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import xgboost as xgb
from flask import Flask, Response, request

LOG = logging.getLogger(__name__)
UTF8_TYPES = ("application/json", "text/csv")


class UserModuleError(RuntimeError):
    """The user module cannot be served (not found, import failure, transform_fn with the other functions)."""


def install_code(submit_directory: str, code_dir: Path) -> None:
    """``_files.download_and_extract`` for a local folder: copied to the code directory if that is empty."""
    if submit_directory.startswith("s3://"):
        raise UserModuleError(
            f"SAGEMAKER_SUBMIT_DIRECTORY={submit_directory}: the local endpoint serves models with network isolation, "
            "which cannot download code; put the code in the model archive and point at /opt/ml/model/code"
        )
    source = Path(submit_directory)
    code_dir.mkdir(parents=True, exist_ok=True)
    if any(code_dir.iterdir()):
        return
    if not source.is_dir():
        raise UserModuleError(f"SAGEMAKER_SUBMIT_DIRECTORY {submit_directory} is not a directory")
    shutil.copytree(source, code_dir, dirs_exist_ok=True)


def import_user_module(program: str, code_dir: Path) -> ModuleType:
    """Import ``SAGEMAKER_PROGRAM`` from the code directory (the image puts /opt/ml/code on the workers' path)."""
    name = program[:-3] if program.endswith(".py") else program
    if str(code_dir) not in sys.path:
        sys.path.append(str(code_dir))
    try:
        return importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 - the image reports any import failure as ImportModuleError
        raise UserModuleError(f"ImportModuleError: cannot import {name!r} from {code_dir}: {exc}") from exc


# --- the image's defaults (serving.py default_*_fn) -----------------------------------------------------------------
def default_input_fn(input_data: str | bytes, content_type: str) -> xgb.DMatrix:
    """``xgb_encoders.decode``: text/csv (no strip: a trailing newline fails), text/libsvm, recordio."""
    media_type = content_type.split(";")[0].strip()
    if media_type == "text/csv":
        text = input_data.decode() if isinstance(input_data, bytes) else input_data
        delimiter = csv.Sniffer().sniff(text.split("\n")[0][:512]).delimiter
        delimiter = "," if delimiter.isalnum() else delimiter
        rows = [["nan" if x == "" else x for x in line.split(delimiter)] for line in text.split("\n")]
        return xgb.DMatrix(np.array(rows).astype(None))
    raise ValueError(f"UnsupportedFormatError: Content type {content_type} is not supported by this framework")


def default_predict_fn(input_data: Any, model: Any) -> Any:
    return model.predict(input_data, validate_features=False)


def default_output_fn(prediction: Any, accept: str) -> Response:
    """sagemaker-containers' encoders: exactly application/json, text/csv or application/x-npy."""
    array = np.array(prediction)
    if accept == "application/json":
        body: str | bytes = json.dumps(array.tolist())
    elif accept == "text/csv":
        stream = io.StringIO()
        rows = np.reshape(array, (array.shape[0], 1)) if array.ndim == 1 else array
        csv.writer(stream, lineterminator="\n").writerows(rows)
        body = stream.getvalue()
    elif accept == "application/x-npy":
        buffer = io.BytesIO()
        np.save(buffer, array)
        body = buffer.getvalue()
    else:
        raise ValueError(f"UnsupportedFormatError: Content type {accept} is not supported by this framework")
    return Response(response=body, status=http.HTTPStatus.OK, mimetype=accept)


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
        if self.transform_fn is not None:
            return self.transform_fn(model, data, content_type, accept)
        return self.output_fn(self.predict_fn(self.input_fn(data, content_type), model), accept)


def _as_response(result: Any) -> Response:
    """What Flask (1.1, the image's) makes of a transform's return value."""
    if isinstance(result, Response):
        return result
    if isinstance(result, tuple):
        return Response(response=result[0], mimetype=result[1])
    if isinstance(result, dict):
        return Response(response=json.dumps(result, separators=(",", ":")) + "\n", mimetype="application/json")
    if isinstance(result, str | bytes):
        return Response(response=result, mimetype="text/html")
    raise TypeError(f"The view function did not return a valid response: {type(result).__name__}")


def create_app(model_dir: Path, code_dir: Path, environ: Mapping[str, str] | None = None) -> Flask:
    """The image's script-mode server for the model in ``model_dir`` (``model_fn`` runs now)."""
    environ = os.environ if environ is None else environ
    program = environ.get("SAGEMAKER_PROGRAM")
    if not program:
        raise UserModuleError(
            "SAGEMAKER_PROGRAM is not set: that is algorithm mode (local_twin.serving.algorithm_mode)"
        )
    install_code(environ.get("SAGEMAKER_SUBMIT_DIRECTORY", str(code_dir)), code_dir)
    transformer = Transformer(import_user_module(program, code_dir))
    model = transformer.model_fn(str(model_dir))
    default_accept = environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "application/json")
    app = Flask("sagemaker_containers._worker")

    @app.get("/ping")
    def ping() -> Response:
        return Response(status=http.HTTPStatus.OK, mimetype="application/json")

    @app.post("/invocations")
    def invocations() -> Response:
        content_type = request.headers.get("ContentType") or request.headers.get("Content-Type") or "application/json"
        accept = request.headers.get("Accept")
        if not accept or accept == "*/*":
            accept = default_accept
        data: str | bytes = request.get_data(as_text=True) if content_type in UTF8_TYPES else request.get_data()
        # Any exception propagates to Flask: a 500 with Werkzeug's page, as the image's error_wrapper makes it.
        return _as_response(transformer.transform(model, data, content_type, accept))

    return app
