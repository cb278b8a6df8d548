"""A small XGBoost model trained once per module, saved as a training job saves ``xgboost-model``."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import xgboost as xgb

NUM_FEATURES = 3
Rows = npt.NDArray[np.float64]


@pytest.fixture(scope="module")
def rows() -> Rows:
    return np.random.default_rng(3).uniform(0.0, 1.0, size=(20, NUM_FEATURES)).round(3)


@pytest.fixture(scope="module")
def booster(rows: Rows) -> xgb.Booster:
    labels = rows @ np.arange(1.0, NUM_FEATURES + 1)
    params = {"objective": "reg:squarederror", "max_depth": 2, "eta": 0.5, "nthread": 1}
    return xgb.train(params, xgb.DMatrix(rows, label=labels), num_boost_round=5)


@pytest.fixture(scope="module")
def model_dir(booster: xgb.Booster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("model")
    save_model(booster, directory / "xgboost-model")
    return directory


def save_model(booster: xgb.Booster, path: Path) -> None:
    """``booster.save_model`` as the training script does, to a name without extension (UBJSON, XGBoost warns)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        booster.save_model(str(path))


def csv_body(rows: Rows) -> bytes:
    return "\n".join(",".join(repr(float(value)) for value in row) for row in rows).encode()


def scores(booster: xgb.Booster, rows: Rows) -> list[float]:
    """The booster's own float32 predictions as Python floats, as ``preds.tolist()`` gives them to the encoders."""
    return [float(value) for value in booster.predict(xgb.DMatrix(rows))]
