"""The serving container as a process: started for a model directory, called over HTTP as an endpoint is."""

from __future__ import annotations

import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import xgboost as xgb

from local_twin.serving import ContainerError, ServingContainer, invoke, predictions_from, score_rows

from .conftest import IMAGE_URI, Rows, csv_lines, save_model, scores


@pytest.fixture(scope="module")
def container(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServingContainer]:
    with ServingContainer(IMAGE_URI, model_dir, work_dir=tmp_path_factory.mktemp("endpoint")) as running:
        yield running


def get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), response.read(), str(response.headers["Content-Type"])
    except urllib.error.HTTPError as error:
        return int(error.code), error.read(), str(error.headers["Content-Type"])


def test_ping_is_200(container: ServingContainer) -> None:
    assert get(f"{container.url}/ping") == (200, b"", "text/html; charset=utf-8")


def test_csv_rows_are_scored_one_prediction_per_line(
    container: ServingContainer, booster: xgb.Booster, rows: Rows
) -> None:
    answer = invoke(container.url, "\n".join(csv_lines(rows)).encode(), "text/csv")

    assert answer.status == 200
    assert answer.content_type == "text/csv; charset=utf-8"
    assert answer.body == "".join(f"{value}\n" for value in scores(booster, rows))
    assert predictions_from(answer) == scores(booster, rows)


def test_json_predictions(container: ServingContainer, booster: xgb.Booster, rows: Rows) -> None:
    answer = invoke(container.url, "\n".join(csv_lines(rows[:3])).encode(), "text/csv", "application/json")

    assert answer.content_type == "application/json"
    assert predictions_from(answer) == scores(booster, rows[:3])


def test_score_rows_in_several_requests(container: ServingContainer, booster: xgb.Booster, rows: Rows) -> None:
    assert score_rows(container.url, csv_lines(rows), per_request=7) == scores(booster, rows)


def test_a_request_without_content_type_is_read_as_libsvm(container: ServingContainer) -> None:
    answer = invoke(container.url, b"0.1,0.2,0.3", content_type=None)  # no header at all, not a form type

    assert answer.status == 415
    assert answer.body.startswith("Loading libsvm data failed with Exception")


def test_errors_are_answered_and_the_container_keeps_serving(container: ServingContainer, rows: Rows) -> None:
    refused = invoke(container.url, b"0.5,0.5", "text/csv")

    assert refused.status == 400
    assert "inference data 2" in refused.body and "trained model 3" in refused.body
    assert invoke(container.url, csv_lines(rows[:1])[0].encode(), "text/csv").status == 200


def test_a_stray_file_in_the_model_directory_stops_the_start(
    booster: xgb.Booster, tmp_path: Path, model_dir: Path
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    save_model(booster, model / "xgboost-model")
    (model / "notes.txt").write_text("a file the image would try to load as a model\n")

    with pytest.raises(ContainerError, match="did not start") as refused:
        ServingContainer(IMAGE_URI, model, work_dir=tmp_path / "work").start()

    assert str(refused.value).splitlines()[-1] == (
        f"the server did not start: ModelLoadError: Model {model / 'notes.txt'} cannot be loaded:"
    )
    assert "Pickle load error=" in str(refused.value) and "XGB load model error=" in str(refused.value)


def test_script_mode_serves_the_code_of_the_model_archive(
    booster: xgb.Booster, rows: Rows, tmp_path: Path, model_dir: Path
) -> None:
    model = tmp_path / "model"
    (model / "code").mkdir(parents=True)
    save_model(booster, model / "xgboost-model")
    (model / "code" / "inference.py").write_text(
        textwrap.dedent(
            """
            import os
            import xgboost as xgb

            def model_fn(model_dir):
                booster = xgb.Booster()
                booster.load_model(os.path.join(model_dir, "xgboost-model"))
                return booster
            """
        )
    )
    environment = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": str(model / "code")}

    with ServingContainer(IMAGE_URI, model, environment, work_dir=tmp_path / "work") as running:
        answer = invoke(running.url, csv_lines(rows[:2])[0].encode(), "text/csv")
        ping = get(f"{running.url}/ping")
        parameters = get(f"{running.url}/execution-parameters")

    assert answer.status == 200
    assert answer.content_type == "application/json"
    assert answer.body == f"[{scores(booster, rows[:1])[0]}]"
    assert ping == (200, b"", "application/json")
    assert parameters[0] == 404
    assert (tmp_path / "work" / "code" / "inference.py").is_file()  # copied to the container's /opt/ml/code
