"""Evaluate the trained model on the test split and write ``evaluation.json``.

Runs as a SageMaker Processing job on the XGBoost framework image and on a laptop. The report uses the SageMaker
model-quality format (``regression_metrics.<metric>.value`` / ``.standard_deviation``): the pipeline's condition reads
``regression_metrics.mse.value`` through a PropertyFile, and the Model Registry shows the same file as model metrics.
"""

from __future__ import annotations

import argparse
import json
import os
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import xgboost as xgb
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

MODEL_FILE_NAME = "xgboost-model"
MODEL_ARCHIVE_NAME = "model.tar.gz"
REPORT_FILE_NAME = "evaluation.json"
# Standard deviations come from a bootstrap of the test split (fixed seed, so the report is reproducible).
BOOTSTRAP_SAMPLES = 200
BOOTSTRAP_SEED = 42

Vector = npt.NDArray[np.float64]
Metric = Callable[[Vector, Vector], float]


def _rmse(y_true: Vector, y_pred: Vector) -> float:
    return float(np.sqrt(mean_squared_error(y_true, y_pred)))


METRICS: dict[str, Metric] = {
    "mse": lambda y, p: float(mean_squared_error(y, p)),
    "rmse": _rmse,
    "mae": lambda y, p: float(mean_absolute_error(y, p)),
    "r2": lambda y, p: float(r2_score(y, p)),
}


def load_booster(model_dir: Path) -> xgb.Booster:
    """Load ``xgboost-model`` from the training output: a model.tar.gz (as SageMaker delivers it) or a plain file."""
    archive = model_dir / MODEL_ARCHIVE_NAME
    booster = xgb.Booster()
    if archive.is_file():
        with tempfile.TemporaryDirectory() as scratch, tarfile.open(archive) as tar:
            # Archives name the file "xgboost-model" or "./xgboost-model", depending on how they were packed.
            members = [m for m in tar.getmembers() if os.path.normpath(m.name) == MODEL_FILE_NAME and m.isfile()]
            if not members:
                raise FileNotFoundError(f"{archive} does not contain {MODEL_FILE_NAME}")
            # Only this one regular file is read, so no path or link in the archive can write outside scratch.
            source = tar.extractfile(members[0])
            if source is None:  # pragma: no cover - isfile() members always have data
                raise FileNotFoundError(f"{MODEL_FILE_NAME} in {archive} has no data")
            model_path = Path(scratch) / MODEL_FILE_NAME
            model_path.write_bytes(source.read())
            booster.load_model(str(model_path))
        return booster
    model_path = model_dir / MODEL_FILE_NAME
    if not model_path.is_file():
        raise FileNotFoundError(f"neither {archive} nor {model_path} exists")
    booster.load_model(str(model_path))
    return booster


def load_test_split(test_dir: Path) -> tuple[Vector, Vector]:
    """Label-first, header-less CSVs of the test channel: (labels, features)."""
    files = sorted(test_dir.glob("*.csv")) if test_dir.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no CSV files in test directory {test_dir}")
    values = pd.concat([pd.read_csv(path, header=None) for path in files], ignore_index=True).to_numpy(np.float64)
    return values[:, 0], values[:, 1:]


def regression_report(y_true: Vector, y_pred: Vector) -> dict[str, dict[str, dict[str, float]]]:
    """The model-quality report: each metric's value on the whole split and its bootstrap standard deviation."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    indices = rng.integers(0, len(y_true), size=(BOOTSTRAP_SAMPLES, len(y_true)))
    report: dict[str, dict[str, float]] = {}
    for name, metric in METRICS.items():
        samples = [metric(y_true[index], y_pred[index]) for index in indices]
        report[name] = {"value": metric(y_true, y_pred), "standard_deviation": float(np.std(samples))}
    return {"regression_metrics": report}


def evaluate(model_dir: Path, test_dir: Path, output_dir: Path) -> dict[str, dict[str, dict[str, float]]]:
    """Score the test split and write the report; returns what it wrote."""
    booster = load_booster(model_dir)
    labels, features = load_test_split(test_dir)
    predictions = booster.predict(xgb.DMatrix(features))
    report = regression_report(labels, predictions)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / REPORT_FILE_NAME).write_text(json.dumps(report, indent=2) + "\n")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: the defaults are the processing container's paths."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, default=Path("/opt/ml/processing/model"))
    parser.add_argument("--test-dir", type=Path, default=Path("/opt/ml/processing/test"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/evaluation"))
    args = parser.parse_args(argv)
    report = evaluate(args.model_dir, args.test_dir, args.output_dir)
    print(json.dumps({name: metric["value"] for name, metric in report["regression_metrics"].items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
