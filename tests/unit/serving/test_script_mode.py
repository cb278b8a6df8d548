"""The script-mode server calls the user's module as the XGBoost 3.0-5 image does (research/xgboost_serving.md, part B).

Each test writes a small inference module to a temporary submit directory; the server copies it to its code
directory and imports it, as the image installs ``SAGEMAKER_SUBMIT_DIRECTORY`` into /opt/ml/code.
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
from flask import Flask
from flask.testing import FlaskClient

from local_twin.serving.script_mode import UserModuleError, create_app, local_path

from .conftest import Rows, csv_body

WERKZEUG_500 = (
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n'
    "<title>500 Internal Server Error</title>\n"
    "<h1>Internal Server Error</h1>\n"
    "<p>The server encountered an internal error and was unable to complete your request. Either the server is "
    "overloaded or there is an error in the application.</p>\n"
)

# Every argument the image hands to the user's functions, sent back as JSON (a tuple: its content type is used).
ECHO = """
import json

def model_fn(model_dir):
    return {"model_dir": model_dir}

def input_fn(input_data, content_type):
    text = input_data if isinstance(input_data, str) else input_data.decode()
    return {"type": type(input_data).__name__, "content_type": content_type, "data": text}

def predict_fn(input_data, model):
    return {**input_data, **model}

def output_fn(prediction, accept):
    return json.dumps({**prediction, "accept": accept}), "application/json"
"""

XGBOOST_MODEL_FN = """
import os
import xgboost as xgb

def model_fn(model_dir):
    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, "xgboost-model"))
    return booster
"""

Make = Callable[..., Flask]


@pytest.fixture
def make_app(tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Make]:
    """``make_app(source, suffix=".py", **environ)``: the server for a module with that source, under a fresh name."""
    monkeypatch.setattr(sys, "path", list(sys.path))  # the server appends its code directory
    names: list[str] = []

    def make(source: str, *, suffix: str = ".py", **environ: str) -> Flask:
        name = f"inference_{uuid.uuid4().hex[:12]}"
        names.append(name)
        submit = tmp_path / f"submit-{name}"
        submit.mkdir()
        (submit / f"{name}.py").write_text(textwrap.dedent(source))
        settings = {"SAGEMAKER_PROGRAM": name + suffix, "SAGEMAKER_SUBMIT_DIRECTORY": str(submit), **environ}
        return create_app(model_dir, tmp_path / f"code-{name}", environ=settings)

    yield make
    for name in names:
        sys.modules.pop(name, None)


@pytest.fixture
def echo(make_app: Make) -> FlaskClient:
    return make_app(ECHO).test_client()


def echoed(answer: object) -> dict[str, str]:
    data = json.loads(answer.get_data())  # type: ignore[attr-defined]
    assert isinstance(data, dict)
    return data


# --- the module (B.1, B.2) --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".py", ""])
def test_the_module_is_found_through_sagemaker_program_with_or_without_py(
    make_app: Make, model_dir: Path, tmp_path: Path, suffix: str
) -> None:
    client = make_app(ECHO, suffix=suffix).test_client()

    answer = client.post("/invocations", data="[1]", content_type="application/json")

    assert answer.status_code == 200
    assert echoed(answer)["model_dir"] == str(model_dir)  # model_fn(model_dir) with the model directory
    copied = [path.name for path in tmp_path.glob("code-*/*.py")]
    assert len(copied) == 1 and copied[0].startswith("inference_")  # the submit directory copied to the code dir


def test_a_code_directory_with_files_is_used_as_it_is(make_app: Make, model_dir: Path, tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    name = f"inference_{uuid.uuid4().hex[:12]}"
    (code / f"{name}.py").write_text(ECHO)
    environ = {"SAGEMAKER_PROGRAM": name, "SAGEMAKER_SUBMIT_DIRECTORY": "s3://bucket/never/downloaded.tar.gz"}
    try:
        client = create_app(model_dir, code, environ=environ).test_client()
        assert client.post("/invocations", data="[1]").status_code == 200
    finally:
        sys.modules.pop(name, None)


def test_a_local_tar_gz_submit_directory_is_extracted(model_dir: Path, tmp_path: Path) -> None:
    name = f"inference_{uuid.uuid4().hex[:12]}"
    archive = tmp_path / "sourcedir.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        source = ECHO.encode()
        member = tarfile.TarInfo(f"{name}.py")
        member.size = len(source)
        tar.addfile(member, io.BytesIO(source))
    environ = {"SAGEMAKER_PROGRAM": f"{name}.py", "SAGEMAKER_SUBMIT_DIRECTORY": str(archive)}
    try:
        client = create_app(model_dir, tmp_path / "code", environ=environ).test_client()
        assert client.post("/invocations", data="[1]").status_code == 200
    finally:
        sys.modules.pop(name, None)


def test_an_s3_submit_directory_is_refused_under_network_isolation(model_dir: Path, tmp_path: Path) -> None:
    environ = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "s3://bucket/code/source.tar.gz"}

    with pytest.raises(UserModuleError, match=r"s3://bucket/code/source\.tar\.gz.*network isolation"):
        create_app(model_dir, tmp_path / "code", environ=environ)


def test_a_module_that_does_not_import_is_refused(make_app: Make) -> None:
    with pytest.raises(UserModuleError, match="ImportModuleError.*No module named 'not_installed_anywhere'"):
        make_app("import not_installed_anywhere\n")


def test_an_empty_sagemaker_program_is_refused(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UserModuleError, match="SAGEMAKER_PROGRAM is empty"):
        create_app(model_dir, tmp_path / "code", environ={"SAGEMAKER_PROGRAM": ""})


def test_a_module_without_model_fn_is_refused(make_app: Make) -> None:
    with pytest.raises(UserModuleError, match="model_fn.*NotImplementedError.*Please provide a model_fn"):
        make_app("def predict_fn(data, model):\n    return data\n")


def test_a_model_fn_that_raises_is_refused(make_app: Make) -> None:
    with pytest.raises(UserModuleError, match="model_fn.*OSError: no model here"):
        make_app("def model_fn(model_dir):\n    raise OSError('no model here')\n")


@pytest.mark.parametrize("other", ["input_fn", "predict_fn", "output_fn"])
def test_transform_fn_with_another_function_is_refused(make_app: Make, other: str) -> None:
    source = f"""
    def model_fn(model_dir):
        return None

    def transform_fn(model, data, content_type, accept):
        return "x"

    def {other}(*args):
        return None
    """

    with pytest.raises(
        UserModuleError, match="Cannot use transform_fn implementation with input_fn, predict_fn, and/or output_fn"
    ):
        make_app(source)


def test_transform_fn_gets_model_body_content_type_and_accept(make_app: Make) -> None:
    source = """
    import json

    def model_fn(model_dir):
        return "the-model"

    def transform_fn(model, input_data, content_type, accept):
        return json.dumps([model, input_data, content_type, accept]), "application/json"
    """
    client = make_app(source).test_client()

    answer = client.post("/invocations", data="1,2", content_type="text/csv", headers={"Accept": "text/csv"})

    assert answer.status_code == 200
    assert json.loads(answer.get_data()) == ["the-model", "1,2", "text/csv", "text/csv"]


# --- content type, body and accept (B.3) ------------------------------------------------------------------------------
def test_a_missing_content_type_is_application_json_and_the_body_a_str(echo: FlaskClient) -> None:
    answer = echo.post("/invocations", data=b'{"a": 1}')

    assert echoed(answer)["content_type"] == "application/json"
    assert echoed(answer)["type"] == "str"


def test_a_contenttype_header_wins_over_content_type(echo: FlaskClient) -> None:
    answer = echo.post(
        "/invocations", data=b"1,2", headers={"ContentType": "text/csv", "Content-Type": "application/octet-stream"}
    )

    assert echoed(answer)["content_type"] == "text/csv"
    assert echoed(answer)["type"] == "str"


@pytest.mark.parametrize(
    ("content_type", "body_type"),
    [
        ("text/csv", "str"),
        ("application/json", "str"),
        ("text/csv; charset=utf-8", "bytes"),
        ("text/libsvm", "bytes"),
        ("application/octet-stream", "bytes"),
        ("application/x-www-form-urlencoded", "bytes"),
    ],
)
def test_the_body_is_a_str_only_for_exactly_csv_or_json(echo: FlaskClient, content_type: str, body_type: str) -> None:
    answer = echo.post("/invocations", data=b"1,2", content_type=content_type)

    assert echoed(answer) | {"model_dir": ""} == {
        "type": body_type,
        "content_type": content_type,
        "data": "1,2",
        "accept": "application/json",
        "model_dir": "",
    }


@pytest.mark.parametrize("accept", [None, "", "*/*"])
def test_the_default_accept_is_application_json(echo: FlaskClient, accept: str | None) -> None:
    headers = {} if accept is None else {"Accept": accept}

    assert echoed(echo.post("/invocations", data="1", content_type="text/csv", headers=headers))["accept"] == (
        "application/json"
    )


def test_the_accept_header_is_passed_as_sent(echo: FlaskClient) -> None:
    answer = echo.post("/invocations", data="1", content_type="text/csv", headers={"Accept": "Text/Plain, */*"})

    assert echoed(answer)["accept"] == "Text/Plain, */*"


def test_default_invocations_accept_is_honoured(make_app: Make) -> None:
    client = make_app(ECHO, SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT="text/csv").test_client()

    assert echoed(client.post("/invocations", data="1", headers={"Accept": "*/*"}))["accept"] == "text/csv"


# --- what the functions return (B.5) ----------------------------------------------------------------------------------
def output_module(output: str) -> str:
    return f"""
    import flask

    def model_fn(model_dir):
        return None

    def input_fn(input_data, content_type):
        return input_data

    def predict_fn(input_data, model):
        return input_data

    def output_fn(prediction, accept):
        return {output}
    """


def test_a_tuple_is_sent_with_its_content_type(make_app: Make) -> None:
    answer = make_app(output_module('("T:" + prediction, "text/plain")')).test_client().post("/invocations", data="x")

    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert answer.get_data(as_text=True) == "T:x"


def test_a_returned_response_keeps_its_status(make_app: Make) -> None:
    output = 'flask.Response("bad input", status=400, mimetype="text/plain")'
    answer = make_app(output_module(output)).test_client().post("/invocations", data="x")

    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert answer.get_data(as_text=True) == "bad input"


def test_a_dict_is_jsonified_as_flask_1_1_does(make_app: Make) -> None:
    answer = make_app(output_module('{"p": [2.5], "a": 1}')).test_client().post("/invocations", data="x")

    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.get_data(as_text=True) == '{"a":1,"p":[2.5]}\n'


@pytest.mark.parametrize("output", ['"plain text"', 'b"plain bytes"'])
def test_a_str_or_bytes_is_sent_as_html(make_app: Make, output: str) -> None:
    answer = make_app(output_module(output)).test_client().post("/invocations", data="x")

    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.get_data(as_text=True).startswith("plain")


def test_a_list_is_500(make_app: Make) -> None:
    answer = make_app(output_module("[1.0, 2.0]")).test_client().post("/invocations", data="x")

    assert answer.status_code == 500
    assert answer.get_data(as_text=True) == WERKZEUG_500


# --- errors: everything is 500 (B.4) ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "failing",
    [
        "def input_fn(input_data, content_type):\n    raise ValueError('unsupported')\n",
        "def predict_fn(input_data, model):\n    raise RuntimeError('boom')\n",
        "def output_fn(prediction, accept):\n    raise TypeError('no encoder')\n",
        "import flask\ndef input_fn(input_data, content_type):\n    flask.abort(400)\n",
        "def input_fn(input_data, content_type):\n"
        "    raise type('GenericInferenceToolkitError', (Exception,), {})(400, 'bad request')\n",
    ],
)
def test_any_exception_is_the_images_500(make_app: Make, failing: str) -> None:
    client = make_app("def model_fn(model_dir):\n    return None\n" + failing).test_client()

    answer = client.post("/invocations", data="1,2,3", content_type="text/csv")

    assert answer.status_code == 500
    assert answer.headers["Content-Type"] == "text/html"
    assert answer.get_data(as_text=True) == WERKZEUG_500


def test_a_transform_fn_exception_is_500(make_app: Make) -> None:
    source = "def model_fn(d):\n    return None\ndef transform_fn(m, d, c, a):\n    raise ValueError('x')\n"

    assert make_app(source).test_client().post("/invocations", data="1").status_code == 500


# --- the image's default functions (B.2) ------------------------------------------------------------------------------
@pytest.fixture
def default_fns(make_app: Make) -> FlaskClient:
    return make_app(XGBOOST_MODEL_FN).test_client()


def test_default_functions_answer_json_with_the_float64_repr(
    default_fns: FlaskClient, booster: xgb.Booster, rows: Rows
) -> None:
    answer = default_fns.post("/invocations", data=csv_body(rows[:2]), content_type="text/csv")

    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    predictions = booster.predict(xgb.DMatrix(rows[:2]))
    assert answer.get_data(as_text=True) == json.dumps([float(value) for value in predictions])


def test_default_csv_output_writes_float32_with_str(default_fns: FlaskClient, booster: xgb.Booster, rows: Rows) -> None:
    answer = default_fns.post(
        "/invocations", data=csv_body(rows[:2]), content_type="text/csv", headers={"Accept": "text/csv"}
    )

    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    float32 = booster.predict(xgb.DMatrix(rows[:2]))
    assert answer.get_data(as_text=True) == "".join(str(value) + "\n" for value in float32)  # e.g. 3.0532923


def test_default_npy_output(default_fns: FlaskClient, booster: xgb.Booster, rows: Rows) -> None:
    answer = default_fns.post(
        "/invocations", data=csv_body(rows[:2]), content_type="text/csv", headers={"Accept": "application/x-npy"}
    )

    assert answer.headers["Content-Type"] == "application/x-npy"
    np.testing.assert_array_equal(np.load(io.BytesIO(answer.get_data())), booster.predict(xgb.DMatrix(rows[:2])))


def test_default_libsvm_input_reads_the_first_token_as_the_label(
    default_fns: FlaskClient, booster: xgb.Booster
) -> None:
    answer = default_fns.post("/invocations", data=b"7 0:0.1 1:0.2 2:0.3", content_type="text/libsvm")

    assert answer.status_code == 200
    assert json.loads(answer.get_data()) == [float(booster.predict(xgb.DMatrix(np.array([[0.1, 0.2, 0.3]])))[0])]


@pytest.mark.parametrize(
    ("body", "content_type", "accept"),
    [
        (b"0.1,0.2,0.3\n", "text/csv", "application/json"),  # no strip: the trailing newline is a ragged row
        (b"", "text/csv", "application/json"),  # no 204 in script mode
        (b"0.1,0.2,0.3", None, "application/json"),  # application/json has no default decoder
        (b"0.1,0.2,0.3", "TEXT/CSV", "application/json"),  # the decoder's match is case-sensitive
        (b"0.1,0.2,0.3", "text/csv", "application/jsonlines"),  # no 406: the default encoder raises
        (b"0.1,0.2,0.3", "text/csv", "text/csv; charset=utf-8"),
    ],
)
def test_default_functions_fail_with_500(
    default_fns: FlaskClient, body: bytes, content_type: str | None, accept: str
) -> None:
    answer = default_fns.post("/invocations", data=body, content_type=content_type, headers={"Accept": accept})

    assert answer.status_code == 500
    assert answer.get_data(as_text=True) == WERKZEUG_500


# --- other routes (B.6) -----------------------------------------------------------------------------------------------
def test_ping_is_200_empty_json(echo: FlaskClient) -> None:
    answer = echo.get("/ping")

    assert answer.status_code == 200
    assert answer.get_data() == b""
    assert answer.headers["Content-Type"] == "application/json"


def test_execution_parameters_is_404(echo: FlaskClient) -> None:
    answer = echo.get("/execution-parameters")

    assert answer.status_code == 404
    assert answer.headers["Content-Type"] == "text/html"
    assert "<title>404 Not Found</title>" in answer.get_data(as_text=True)


def test_sagemaker_batch_changes_nothing_in_script_mode(make_app: Make, booster: xgb.Booster, rows: Rows) -> None:
    client = make_app(XGBOOST_MODEL_FN, SAGEMAKER_BATCH="true").test_client()

    answer = client.post("/invocations", data=csv_body(rows[:2]), content_type="text/csv")

    assert answer.get_data(as_text=True) == json.dumps([float(v) for v in booster.predict(xgb.DMatrix(rows[:2]))])


@pytest.mark.parametrize(
    ("container_path", "expected"),
    [
        ("/opt/ml/model/code", "MODEL/code"),  # what the SDK sets with network isolation: code inside the archive
        ("/opt/ml/model", "MODEL"),
        ("/opt/ml/code", "CODE"),
        ("/opt/ml/modelling/code", "/opt/ml/modelling/code"),  # only the directory itself, not a prefix of a name
        ("s3://bucket/sourcedir.tar.gz", "s3://bucket/sourcedir.tar.gz"),
    ],
)
def test_image_paths_map_to_the_local_folders_that_stand_for_them(
    tmp_path: Path, container_path: str, expected: str
) -> None:
    model_dir, code_dir = tmp_path / "model", tmp_path / "code"
    local = local_path(container_path, model_dir, code_dir)
    assert local == expected.replace("MODEL", str(model_dir)).replace("CODE", str(code_dir))
