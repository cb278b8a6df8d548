"""The training toolkit's contract pieces: hyperparameters, model.tar.gz layout, metric capture."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from local_twin.pipeline_runner.steps import decode_hyperparameters, final_metrics, pack_directory, to_cmd_args


def test_hyperparameters_are_json_decoded_and_passed_as_sorted_arguments() -> None:
    raw = {
        "max_depth": "5",
        "objective": '"reg:squarederror"',
        "eta": "0.2",
        "raw": "not json",
        "d": '{"b": 2, "a": 1}',
    }

    decoded = decode_hyperparameters(raw)

    assert decoded == {
        "max_depth": 5,
        "objective": "reg:squarederror",
        "eta": 0.2,
        "raw": "not json",
        "d": {"b": 2, "a": 1},
    }
    assert to_cmd_args(decoded) == [
        "-d",
        "a=1,b=2",
        "--eta",
        "0.2",
        "--max_depth",
        "5",
        "--objective",
        "reg:squarederror",
        "--raw",
        "not json",
    ]


def test_model_archive_holds_the_model_dir_contents_at_its_root(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "xgboost-model").write_bytes(b"model")
    (tmp_path / "sub" / "extra.txt").write_text("x")

    with tarfile.open(fileobj=io.BytesIO(pack_directory(tmp_path)), mode="r:gz") as archive:
        names = sorted(archive.getnames())
        model = archive.extractfile("xgboost-model")
        assert model is not None and model.read() == b"model"

    assert names == ["sub", "sub/extra.txt", "xgboost-model"]


def test_final_metrics_take_the_last_match_of_each_definition() -> None:
    log = "validation-rmse:3.0\nvalidation-rmse:2.5\nnothing else"
    definitions = [{"Name": "rmse", "Regex": r"validation-rmse:([0-9.]+)"}, {"Name": "auc", "Regex": r"auc:([0-9.]+)"}]

    assert final_metrics(definitions, log) == [{"MetricName": "rmse", "Value": 2.5}]
