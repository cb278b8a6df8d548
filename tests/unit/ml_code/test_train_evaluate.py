"""train.py and evaluate.py on small synthetic data: the toolkit contract, what the model directory holds for
serving, and the report computed from a transform's output."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from ml_code import abalone_features, evaluate, train

SEXES = ("M", "F", "I")


def write_channel(directory: Path, rows: int, seed: int) -> Path:
    """Label-first raw records (as the preprocess step writes them) whose rings follow the measurements."""
    rng = np.random.default_rng(seed)
    measurements = rng.uniform(0.05, 0.8, size=(rows, 7))
    sexes = [SEXES[i] for i in rng.integers(0, 3, size=rows)]
    rings = 20 * measurements[:, 0] + 5 * measurements[:, 6] + np.array([{"M": 2, "F": 1, "I": 0}[s] for s in sexes])
    directory.mkdir(parents=True)
    lines = [
        ",".join([f"{label:.1f}", sex, *(f"{value:.4f}" for value in row)])
        for label, sex, row in zip(rings, sexes, measurements, strict=True)
    ]
    (directory / "data.csv").write_text("\n".join(lines) + "\n")
    return directory


@pytest.fixture
def channels(tmp_path: Path) -> dict[str, Path]:
    return {
        "train": write_channel(tmp_path / "train", 300, seed=1),
        "validation": write_channel(tmp_path / "validation", 80, seed=2),
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


def test_the_model_directory_holds_the_booster_the_encoding_and_the_serving_code(
    channels: dict[str, Path], tmp_path: Path
) -> None:
    model_dir = tmp_path / "model"
    result = train.train(channels["train"], channels["validation"], model_dir, train.Hyperparameters(num_round=200))

    assert result.model_path == model_dir / "xgboost-model"
    assert sorted(p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*") if p.is_file()) == [
        "code/abalone_features.py",
        "code/inference.py",
        "features.json",
        "xgboost-model",
    ]
    for name in train.SERVING_FILES:  # the very files of this repository: training and serving share them
        assert (model_dir / "code" / name).read_bytes() == (Path(train.__file__).parent / name).read_bytes()
    # The booster is UBJSON, not a pickle (never unpickle untrusted data), with the trees early stopping chose.
    with pytest.raises(pickle.UnpicklingError), result.model_path.open("rb") as handle:
        pickle.load(handle)
    booster = xgb.Booster()
    booster.load_model(str(result.model_path))
    assert booster.num_boosted_rounds() == result.best_iteration + 1
    assert booster.num_features() == len(abalone_features.FEATURE_COLUMNS)


def test_the_encoding_is_fitted_on_the_train_split_only(channels: dict[str, Path], tmp_path: Path) -> None:
    train.train(channels["train"], channels["validation"], tmp_path / "model", train.Hyperparameters(num_round=5))

    encoder = abalone_features.FeatureEncoder.load(tmp_path / "model")
    records = train.load_channel(channels["train"]).records
    assert encoder == abalone_features.FeatureEncoder.fit(records)


def test_a_bad_record_in_a_channel_names_the_file_and_row(tmp_path: Path) -> None:
    channel = tmp_path / "train"
    channel.mkdir()
    (channel / "data.csv").write_text("9,M,0.4,0.3,0.1,0.5,0.2,0.1,0.15\n10,X,0.4,0.3,0.1,0.5,0.2,0.1,0.15\n")

    with pytest.raises(ValueError, match=r"data\.csv: row 2: sex 'X'"):
        train.load_channel(channel)


def test_empty_channel_is_named(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no CSV files in channel directory"):
        train.load_channel(tmp_path / "empty")


def write_transform_output(directory: Path, pairs: list[tuple[float, float]]) -> Path:
    """What the Transform step writes: ``<input file>.out`` with ``rings,prediction`` lines."""
    directory.mkdir(parents=True)
    (directory / "test.csv.out").write_text("".join(f"{label},{prediction}\n" for label, prediction in pairs))
    return directory


def write_test_split(directory: Path, rows: int) -> Path:
    directory.mkdir(parents=True)
    (directory / "test.csv").write_text("10,M,0.4,0.3,0.1,0.5,0.2,0.1,0.15\n" * rows)
    return directory


def test_evaluate_reports_the_metrics_of_the_transform_output(tmp_path: Path) -> None:
    pairs = [(10.0, 11.0), (8.0, 7.0), (12.0, 13.0), (9.0, 8.0)]
    predictions = write_transform_output(tmp_path / "predictions", pairs)

    report = evaluate.evaluate(predictions, write_test_split(tmp_path / "test", 4), tmp_path / "evaluation")

    written = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    assert written == report
    metrics = written["regression_metrics"]
    assert set(metrics) == {"mse", "rmse", "mae", "r2"}
    assert all(set(metric) == {"value", "standard_deviation"} for metric in metrics.values())
    assert (metrics["mse"]["value"], metrics["mae"]["value"], metrics["rmse"]["value"]) == (1.0, 1.0, 1.0)


def test_regression_report_on_known_values() -> None:
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    report = evaluate.regression_report(truth, truth + np.array([1.0, -1.0, 1.0, -1.0]))["regression_metrics"]

    assert report["mse"]["value"] == 1.0
    assert report["mae"]["value"] == 1.0
    assert report["rmse"]["value"] == 1.0
    assert report["r2"]["value"] == pytest.approx(1 - 4 / 5)
    assert report["mse"]["standard_deviation"] == 0.0  # every squared error is 1: no spread in any resample


def test_a_transform_that_lost_records_fails_the_evaluation(tmp_path: Path) -> None:
    predictions = write_transform_output(tmp_path / "predictions", [(10.0, 11.0)])

    with pytest.raises(evaluate.EvaluationError, match="holds 1 scored records; the test split has 3"):
        evaluate.evaluate(predictions, write_test_split(tmp_path / "test", 3), tmp_path / "evaluation")


@pytest.mark.parametrize(
    ("line", "problem"),
    [("10.0", "1 values, expected rings,prediction"), ("10.0,abc", "is not rings,prediction"), ("10,nan", "finite")],
)
def test_a_malformed_output_line_is_named(tmp_path: Path, line: str, problem: str) -> None:
    directory = tmp_path / "predictions"
    directory.mkdir()
    (directory / "test.csv.out").write_text(f"9,9.5\n{line}\n")

    with pytest.raises(evaluate.EvaluationError, match=rf"test\.csv\.out, line 2: .*{problem}"):
        evaluate.load_scored(directory)


def test_no_transform_output_is_named(tmp_path: Path) -> None:
    (tmp_path / "predictions").mkdir()
    with pytest.raises(evaluate.EvaluationError, match=r"no \*\.out files"):
        evaluate.load_scored(tmp_path / "predictions")
