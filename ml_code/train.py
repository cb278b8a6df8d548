"""Train the abalone XGBoost regressor (script mode on the SageMaker XGBoost 3.0-5 framework image).

Follows the SageMaker training toolkit contract: data channels in SM_CHANNEL_TRAIN / SM_CHANNEL_VALIDATION (raw,
label-first records from the preprocess step), the model goes to SM_MODEL_DIR, hyperparameters arrive as
``--name value`` arguments.

The model directory -- model.tar.gz once SageMaker packs it -- is everything serving needs, with network isolation:

- ``xgboost-model``: the booster (UBJSON);
- ``features.json``: the feature encoding fitted on the train split (abalone_features.FeatureEncoder);
- ``code/inference.py`` and ``code/abalone_features.py``: the image's script-mode entry point, selected by the model's
  environment (SAGEMAKER_PROGRAM=inference.py, SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code), so the endpoint takes
  raw records and encodes them with the very code and statistics training used.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import xgboost as xgb

if TYPE_CHECKING:
    from ml_code import abalone_features
else:
    try:  # the repository: tests and tools import this module as part of the ml_code package
        from ml_code import abalone_features
    except ImportError:  # the training container: the source directory's files are top-level modules
        import abalone_features

MODEL_FILE_NAME = "xgboost-model"
CODE_DIR = "code"  # inside the model directory; the model's SAGEMAKER_SUBMIT_DIRECTORY is /opt/ml/model/code
INFERENCE_PROGRAM = "inference.py"
SERVING_FILES = (INFERENCE_PROGRAM, "abalone_features.py")  # copied from beside this script into model_dir/code
SOURCE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Hyperparameters:
    """Tuned on the validation split (docs/pipeline.md); early stopping picks the tree count."""

    eta: float = 0.05
    max_depth: int = 4
    min_child_weight: float = 6.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    reg_lambda: float = 1.0
    num_round: int = 1000
    early_stopping_rounds: int = 50
    seed: int = 42

    def booster_params(self) -> dict[str, Any]:
        return {
            "objective": "reg:squarederror",
            "eval_metric": "rmse",
            "eta": self.eta,
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "lambda": self.reg_lambda,
            "seed": self.seed,
            "nthread": os.cpu_count() or 1,
        }


@dataclass(frozen=True)
class TrainResult:
    model_path: Path
    best_iteration: int
    best_validation_rmse: float


@dataclass(frozen=True)
class Channel:
    """A data channel's raw records and their labels."""

    records: list[abalone_features.Record]
    labels: npt.NDArray[np.float64]


def load_channel(channel_dir: Path) -> Channel:
    """All CSV files of a channel: label first, then the eight raw fields, no header."""
    files = sorted(channel_dir.glob("*.csv")) if channel_dir.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no CSV files in channel directory {channel_dir}")
    records: list[abalone_features.Record] = []
    labels: list[float] = []
    for path in files:
        with path.open(newline="", encoding="utf-8") as handle:
            for row, fields in enumerate(csv.reader(handle), start=1):
                if not fields:
                    continue
                try:
                    labels.append(float(fields[0]))
                    records.append(abalone_features.record_from_fields(fields[1:], row))
                except ValueError as error:  # RecordError is a ValueError
                    raise ValueError(f"{path}: {error}") from None
    return Channel(records, np.asarray(labels, dtype=np.float64))


def copy_serving_code(model_dir: Path) -> Path:
    """The inference entry point and its encoding module -- beside this script in the source directory -- into
    ``model_dir/code`` (see the module docstring)."""
    code_dir = model_dir / CODE_DIR
    code_dir.mkdir(parents=True, exist_ok=True)
    for name in SERVING_FILES:
        shutil.copyfile(SOURCE_DIR / name, code_dir / name)
    return code_dir


def train(train_dir: Path, validation_dir: Path, model_dir: Path, hyperparameters: Hyperparameters) -> TrainResult:
    """Fit the encoding on train, train with early stopping on validation, and save what serving needs."""
    train_channel, validation_channel = load_channel(train_dir), load_channel(validation_dir)
    encoder = abalone_features.FeatureEncoder.fit(train_channel.records)
    # No feature names in the booster: the served model is fed the encoder's columns in FEATURE_COLUMNS order.
    dtrain = xgb.DMatrix(encoder.encode(train_channel.records), label=train_channel.labels)
    dvalidation = xgb.DMatrix(encoder.encode(validation_channel.records), label=validation_channel.labels)
    booster = xgb.train(
        hyperparameters.booster_params(),
        dtrain,
        num_boost_round=hyperparameters.num_round,
        evals=[(dtrain, "train"), (dvalidation, "validation")],
        early_stopping_rounds=hyperparameters.early_stopping_rounds,
        verbose_eval=False,
    )
    best_iteration = int(booster.best_iteration)
    # Slicing keeps trees [0, best]; the server then predicts with exactly the model early stopping chose.
    best = booster[: best_iteration + 1]
    model_dir.mkdir(parents=True, exist_ok=True)
    model_path = model_dir / MODEL_FILE_NAME
    model_path.write_bytes(bytes(best.save_raw(raw_format="ubj")))
    encoder.save(model_dir)
    copy_serving_code(model_dir)
    return TrainResult(
        model_path=model_path, best_iteration=best_iteration, best_validation_rmse=float(booster.best_score)
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Hyperparameters as ``--name value`` (how the toolkit passes them); paths from the toolkit's environment."""
    defaults = Hyperparameters()
    parser = argparse.ArgumentParser(description=__doc__)
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=type(value), default=value)
    parser.add_argument("--model-dir", type=Path, default=Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model")))
    parser.add_argument(
        "--train", type=Path, default=Path(os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    )
    parser.add_argument(
        "--validation",
        type=Path,
        default=Path(os.environ.get("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation")),
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    hyperparameters = Hyperparameters(**{name: getattr(args, name) for name in asdict(Hyperparameters())})
    result = train(args.train, args.validation, args.model_dir, hyperparameters)
    print(
        json.dumps(
            {
                "model": str(result.model_path),
                "best_iteration": result.best_iteration,
                "validation_rmse": result.best_validation_rmse,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
