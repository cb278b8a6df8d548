"""Train the abalone XGBoost regressor (script mode on the SageMaker XGBoost 3.0-5 framework image).

Follows the SageMaker training toolkit contract: data channels in SM_CHANNEL_TRAIN / SM_CHANNEL_VALIDATION, the model
goes to SM_MODEL_DIR, hyperparameters arrive as ``--name value`` arguments. The booster is saved as ``xgboost-model``
(UBJSON), which the same image's algorithm-mode server loads with ``Booster.load_model`` -- so registration, endpoints
and batch transform use the training output as is, with no repack step.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

MODEL_FILE_NAME = "xgboost-model"


@dataclass(frozen=True)
class Hyperparameters:
    """Tuned on the validation split (README, "The abalone ML pipeline"); early stopping picks the tree count."""

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


def load_channel(channel_dir: Path) -> xgb.DMatrix:
    """All CSV files of a channel (label first, no header) as one DMatrix."""
    files = sorted(channel_dir.glob("*.csv")) if channel_dir.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no CSV files in channel directory {channel_dir}")
    frame = pd.concat([pd.read_csv(path, header=None) for path in files], ignore_index=True)
    values = frame.to_numpy(dtype=np.float64)
    return xgb.DMatrix(values[:, 1:], label=values[:, 0])


def train(train_dir: Path, validation_dir: Path, model_dir: Path, hyperparameters: Hyperparameters) -> TrainResult:
    """Train with early stopping on validation and save only the trees up to the best iteration."""
    dtrain = load_channel(train_dir)
    dvalidation = load_channel(validation_dir)
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
