"""A small XGBoost model trained in the test session, packed the way a SageMaker training job packs it."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import xgboost as xgb

NUM_FEATURES = 10
Features = npt.NDArray[np.float64]


@pytest.fixture(scope="session")
def feature_rows() -> Features:
    rng = np.random.default_rng(7)
    return rng.uniform(0.0, 1.0, size=(40, NUM_FEATURES))


@pytest.fixture(scope="session")
def booster(feature_rows: Features) -> xgb.Booster:
    labels = feature_rows @ np.arange(1, NUM_FEATURES + 1)
    params = {"objective": "reg:squarederror", "max_depth": 2, "eta": 0.5}
    return xgb.train(params, xgb.DMatrix(feature_rows, label=labels), num_boost_round=5)


@pytest.fixture(scope="session")
def model_archive(booster: xgb.Booster, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """model.tar.gz with ``xgboost-model`` at the tar root, as train.py's SM_MODEL_DIR is packed."""
    model_file = tmp_path_factory.mktemp("trained") / "xgboost-model"
    model_file.write_bytes(bytes(booster.save_raw("ubj")))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(model_file, arcname="xgboost-model")
    return buffer.getvalue()


def csv_lines(rows: Features) -> list[str]:
    return [",".join(repr(float(value)) for value in row) for row in rows]


@pytest.fixture
def model_dir(model_archive: bytes, tmp_path: Path) -> Path:
    from local_twin.endpoint_server import extract_model_archive

    return extract_model_archive(model_archive, tmp_path / "model")
