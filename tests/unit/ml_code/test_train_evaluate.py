"""train.py and evaluate.py on tiny synthetic data: the toolkit contract, the model format, the report format."""

from __future__ import annotations

import io
import json
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from ml_code import evaluate, train


def write_channel(directory: Path, rows: int, seed: int) -> Path:
    """Label-first CSV where the label is a simple function of the features (so a model can learn it)."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, 4))
    labels = 3 * features[:, 0] + features[:, 1] + 10
    directory.mkdir(parents=True)
    np.savetxt(directory / "data.csv", np.column_stack([labels, features]), delimiter=",", fmt="%.6f")
    return directory


@pytest.fixture
def channels(tmp_path: Path) -> dict[str, Path]:
    return {
        "train": write_channel(tmp_path / "train", 300, seed=1),
        "validation": write_channel(tmp_path / "validation", 80, seed=2),
        "test": write_channel(tmp_path / "test", 80, seed=3),
    }


def test_hyperparameters_arrive_as_arguments_and_paths_from_the_toolkit_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SM_MODEL_DIR", str(tmp_path / "model"))
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(tmp_path / "t"))
    monkeypatch.setenv("SM_CHANNEL_VALIDATION", str(tmp_path / "v"))

    args = train.parse_args(["--eta", "0.3", "--max-depth", "3", "--num-round", "20"])

    assert (args.eta, args.max_depth, args.num_round) == (0.3, 3, 20)
    assert (args.model_dir, args.train, args.validation) == (tmp_path / "model", tmp_path / "t", tmp_path / "v")


def test_model_is_saved_as_xgboost_model_loadable_the_way_the_serving_container_loads_it(
    channels: dict[str, Path], tmp_path: Path
) -> None:
    result = train.train(
        channels["train"], channels["validation"], tmp_path / "model", train.Hyperparameters(num_round=200)
    )

    assert result.model_path == tmp_path / "model" / "xgboost-model"
    # Algorithm-mode serving tries pickle first, then Booster.load_model: the file must not be a pickle...
    with pytest.raises(pickle.UnpicklingError), result.model_path.open("rb") as handle:
        pickle.load(handle)  # proves the file is NOT a pickle (never unpickle untrusted data)
    # ...and load_model must read it, keeping only the trees early stopping chose.
    booster = xgb.Booster()
    booster.load_model(str(result.model_path))
    assert booster.num_boosted_rounds() == result.best_iteration + 1


@pytest.mark.parametrize("arcname", ["xgboost-model", "./xgboost-model"])
def test_evaluate_reads_model_tar_gz_and_writes_the_model_quality_report(
    channels: dict[str, Path], tmp_path: Path, arcname: str
) -> None:
    model = train.train(channels["train"], channels["validation"], tmp_path / "trained", train.Hyperparameters())
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    with tarfile.open(model_dir / "model.tar.gz", "w:gz") as archive:  # how SageMaker packs SM_MODEL_DIR
        archive.add(model.model_path, arcname=arcname)

    report = evaluate.evaluate(model_dir, channels["test"], tmp_path / "evaluation")

    written = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    assert written == report
    metrics = written["regression_metrics"]
    assert set(metrics) == {"mse", "rmse", "mae", "r2"}
    assert all(set(metric) == {"value", "standard_deviation"} for metric in metrics.values())
    assert metrics["rmse"]["value"] == pytest.approx(metrics["mse"]["value"] ** 0.5)
    assert metrics["r2"]["value"] > 0.8


def test_regression_report_on_known_values() -> None:
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    report = evaluate.regression_report(truth, truth + np.array([1.0, -1.0, 1.0, -1.0]))["regression_metrics"]

    assert report["mse"]["value"] == 1.0
    assert report["mae"]["value"] == 1.0
    assert report["rmse"]["value"] == 1.0
    assert report["r2"]["value"] == pytest.approx(1 - 4 / 5)
    assert report["mse"]["standard_deviation"] == 0.0  # every squared error is 1: no spread in any resample


def test_evaluate_names_a_model_archive_without_the_model(tmp_path: Path, channels: dict[str, Path]) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    with tarfile.open(model_dir / "model.tar.gz", "w:gz") as archive:
        info = tarfile.TarInfo("other-file")
        archive.addfile(info, io.BytesIO(b""))

    with pytest.raises(FileNotFoundError, match="does not contain xgboost-model"):
        evaluate.evaluate(model_dir, channels["test"], tmp_path / "evaluation")


def test_empty_channel_is_named(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no CSV files in channel directory"):
        train.load_channel(tmp_path / "empty")
