"""Evaluate the served model: metrics from the pipeline's batch transform of the test split, written as
``evaluation.json``.

The Transform step scored the raw test records through the model as the serving container loads it (the registered
image, environment and artifact), joining each input line with its prediction and keeping ``rings,prediction``. So
the quality gate judges what would serve, not a re-load of the booster inside this job: a train/serve mismatch fails
the gate instead of being registered.

Runs as a SageMaker Processing job on the XGBoost framework image and on a laptop. The report uses the SageMaker
model-quality format (``regression_metrics.<metric>.value`` / ``.standard_deviation``): the pipeline's condition reads
``regression_metrics.mse.value`` through a PropertyFile, and the Model Registry shows the same file as model metrics.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

REPORT_FILE_NAME = "evaluation.json"
# Standard deviations come from a bootstrap of the test split (fixed seed, so the report is reproducible).
BOOTSTRAP_SAMPLES = 200
BOOTSTRAP_SEED = 42

Vector = npt.NDArray[np.float64]
Metric = Callable[[Vector, Vector], float]


class EvaluationError(ValueError):
    """The transform output cannot be evaluated; the message names the file and line."""


def _rmse(y_true: Vector, y_pred: Vector) -> float:
    return float(np.sqrt(mean_squared_error(y_true, y_pred)))


METRICS: dict[str, Metric] = {
    "mse": lambda y, p: float(mean_squared_error(y, p)),
    "rmse": _rmse,
    "mae": lambda y, p: float(mean_absolute_error(y, p)),
    "r2": lambda y, p: float(r2_score(y, p)),
}


def _csv_rows(directory: Path, pattern: str) -> list[tuple[Path, int, list[str]]]:
    """Every non-empty CSV line of the matching files anywhere below ``directory`` (a transform keeps the input's
    folders below its output path: predictions/test/test.csv.out)."""
    files = sorted(directory.rglob(pattern)) if directory.is_dir() else []
    if not files:
        raise EvaluationError(f"no {pattern} files in {directory}")
    rows: list[tuple[Path, int, list[str]]] = []
    for path in files:
        with path.open(newline="", encoding="utf-8") as handle:
            rows.extend((path, line, fields) for line, fields in enumerate(csv.reader(handle), start=1) if fields)
    return rows


def load_scored(predictions_dir: Path) -> tuple[Vector, Vector]:
    """``rings,prediction`` lines of the transform output (``*.out``): (labels, predictions)."""
    labels: list[float] = []
    predictions: list[float] = []
    for path, line, fields in _csv_rows(predictions_dir, "*.out"):
        if len(fields) != 2:
            raise EvaluationError(f"{path}, line {line}: {len(fields)} values, expected rings,prediction")
        try:
            label, prediction = float(fields[0]), float(fields[1])
        except ValueError:
            raise EvaluationError(f"{path}, line {line}: {','.join(fields)!r} is not rings,prediction") from None
        if not (math.isfinite(label) and math.isfinite(prediction)):
            raise EvaluationError(f"{path}, line {line}: {','.join(fields)!r} is not finite")
        labels.append(label)
        predictions.append(prediction)
    return np.asarray(labels), np.asarray(predictions)


def regression_report(y_true: Vector, y_pred: Vector) -> dict[str, dict[str, dict[str, float]]]:
    """The model-quality report: each metric's value on the whole split and its bootstrap standard deviation."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    indices = rng.integers(0, len(y_true), size=(BOOTSTRAP_SAMPLES, len(y_true)))
    report: dict[str, dict[str, float]] = {}
    for name, metric in METRICS.items():
        samples = [metric(y_true[index], y_pred[index]) for index in indices]
        report[name] = {"value": metric(y_true, y_pred), "standard_deviation": float(np.std(samples))}
    return {"regression_metrics": report}


def evaluate(predictions_dir: Path, test_dir: Path, output_dir: Path) -> dict[str, dict[str, dict[str, float]]]:
    """Check that every test record was scored, then write the report; returns what it wrote."""
    labels, predictions = load_scored(predictions_dir)
    expected = len(_csv_rows(test_dir, "*.csv"))
    if len(labels) != expected:
        raise EvaluationError(f"the transform output holds {len(labels)} scored records; the test split has {expected}")
    report = regression_report(labels, predictions)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / REPORT_FILE_NAME).write_text(json.dumps(report, indent=2) + "\n")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: the defaults are the processing container's paths."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--predictions-dir", type=Path, default=Path("/opt/ml/processing/predictions"))
    parser.add_argument("--test-dir", type=Path, default=Path("/opt/ml/processing/test"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/evaluation"))
    args = parser.parse_args(argv)
    report = evaluate(args.predictions_dir, args.test_dir, args.output_dir)
    print(json.dumps({name: metric["value"] for name, metric in report["regression_metrics"].items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
