"""Validate the raw abalone CSV and split it into train / validation / test.

Runs unchanged as a SageMaker Processing job (on the XGBoost framework image) and on a laptop. It reads the raw CSV
from its mounted processing input -- never from S3 itself -- so the job can run with network isolation.

The splits keep the raw records (``rings,sex,length,...``: label first, no header, values as given): the feature
encoding is fitted by the training job and saved inside the model (abalone_features), so the endpoint takes the same
raw records a user has, and training and serving share one implementation of it.
"""

from __future__ import annotations

import argparse
import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

SEX_COLUMN = "sex"
MEASUREMENT_COLUMNS = (
    "length",
    "diameter",
    "height",
    "whole_weight",
    "shucked_weight",
    "viscera_weight",
    "shell_weight",
)
LABEL_COLUMN = "rings"
RAW_COLUMNS = (SEX_COLUMN, *MEASUREMENT_COLUMNS, LABEL_COLUMN)
SPLIT_COLUMNS = (LABEL_COLUMN, SEX_COLUMN, *MEASUREMENT_COLUMNS)  # label first, as the XGBoost CSV convention has it
SEX_CATEGORIES = ("F", "I", "M")

SPLITS = ("train", "validation", "test")
# The train split's records without their label: what the endpoint receives, so the data-quality baseline that
# monitoring compares captured requests with (the pipeline's quality check step) is computed on exactly that shape.
BASELINE = "baseline"
DEFAULT_SEED = 42
DEFAULT_VALIDATION_FRACTION = 0.15
DEFAULT_TEST_FRACTION = 0.15

CONTAINER_INPUT_DIR = "/opt/ml/processing/input"
CONTAINER_OUTPUT_DIR = "/opt/ml/processing"


class InputDataError(ValueError):
    """The raw CSV is missing or malformed; the message names the file, the row and the column."""


@dataclass(frozen=True)
class SplitResult:
    """Where each split was written and how many rows it has."""

    paths: dict[str, Path]
    rows: dict[str, int]


def find_input_csv(input_dir: Path) -> Path:
    """The one CSV file in the processing input directory (the job downloads InputDataUrl there)."""
    if input_dir.is_file():
        return input_dir
    if not input_dir.is_dir():
        raise InputDataError(f"input {input_dir} does not exist: expected the raw abalone CSV there")
    candidates = sorted(path for path in input_dir.iterdir() if path.is_file() and not path.name.startswith("."))
    if len(candidates) != 1:
        names = ", ".join(path.name for path in candidates) or "nothing"
        raise InputDataError(f"input directory {input_dir} must hold exactly one CSV file, found: {names}")
    return candidates[0]


def read_raw_csv(path: Path) -> pd.DataFrame:
    """Read and validate the raw abalone CSV (no header, 9 columns); the values are kept as the text given.

    Validation is hand-written rather than left to pandas because pandas reports a short row as NaN and a bad number
    as a dtype error without the row; the pipeline's users need "file, row, column, value".
    """
    if not path.is_file():
        raise InputDataError(f"{path}: file not found")
    rows: list[list[str]] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for line_number, fields in enumerate(csv.reader(handle), start=1):
            if not fields or all(not field.strip() for field in fields):
                continue
            rows.append(_parse_row(path, line_number, fields))
    if not rows:
        raise InputDataError(f"{path}: the file has no data rows")
    return pd.DataFrame(rows, columns=list(RAW_COLUMNS), dtype=str)


def _parse_row(path: Path, line_number: int, fields: Sequence[str]) -> list[str]:
    if len(fields) != len(RAW_COLUMNS):
        raise InputDataError(
            f"{path}: row {line_number} has {len(fields)} columns, expected {len(RAW_COLUMNS)} "
            f"({', '.join(RAW_COLUMNS)})"
        )
    sex = fields[0].strip()
    if sex not in SEX_CATEGORIES:
        raise InputDataError(
            f"{path}: row {line_number}, column 1 ({SEX_COLUMN}): {sex!r} is not one of {', '.join(SEX_CATEGORIES)}"
        )
    parsed = [sex]
    for column_number, (name, text) in enumerate(zip(RAW_COLUMNS[1:], fields[1:], strict=True), start=2):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise InputDataError(
                f"{path}: row {line_number}, column {column_number} ({name}): {text.strip()!r} is not a finite number"
            )
        parsed.append(text.strip())
    return parsed


def split_frame(
    frame: pd.DataFrame, seed: int, validation_fraction: float, test_fraction: float
) -> dict[str, pd.DataFrame]:
    """Shuffle and split with a fixed seed, so every run of the same data gives the same splits."""
    if not 0 < validation_fraction < 1 or not 0 < test_fraction < 1 or validation_fraction + test_fraction >= 1:
        raise ValueError(
            f"split fractions must be in (0, 1) and sum below 1: validation={validation_fraction}, test={test_fraction}"
        )
    train_part, rest = train_test_split(frame, test_size=validation_fraction + test_fraction, random_state=seed)
    validation, test = train_test_split(
        rest, test_size=test_fraction / (validation_fraction + test_fraction), random_state=seed
    )
    return {"train": train_part, "validation": validation, "test": test}


def preprocess(
    input_path: Path,
    output_dir: Path,
    seed: int = DEFAULT_SEED,
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION,
    test_fraction: float = DEFAULT_TEST_FRACTION,
) -> SplitResult:
    """Read, validate, split and write the three label-first raw CSVs (the encoding is fitted by training, on train
    only, so no validation or test statistics leak in)."""
    raw = read_raw_csv(find_input_csv(input_path))
    splits = split_frame(raw, seed, validation_fraction, test_fraction)
    paths: dict[str, Path] = {}
    rows: dict[str, int] = {}
    for name in SPLITS:
        target = output_dir / name / f"{name}.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        splits[name][list(SPLIT_COLUMNS)].to_csv(target, header=False, index=False)
        paths[name] = target
        rows[name] = len(splits[name])
    baseline = output_dir / BASELINE / f"{BASELINE}.csv"
    baseline.parent.mkdir(parents=True, exist_ok=True)
    splits["train"][list(SPLIT_COLUMNS[1:])].to_csv(baseline, header=False, index=False)
    paths[BASELINE] = baseline
    rows[BASELINE] = len(splits["train"])
    return SplitResult(paths=paths, rows=rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: the defaults are the processing container's paths."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input-dir", type=Path, default=Path(CONTAINER_INPUT_DIR))
    parser.add_argument("--output-dir", type=Path, default=Path(CONTAINER_OUTPUT_DIR))
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--validation-fraction", type=float, default=DEFAULT_VALIDATION_FRACTION)
    parser.add_argument("--test-fraction", type=float, default=DEFAULT_TEST_FRACTION)
    args = parser.parse_args(argv)
    result = preprocess(args.input_dir, args.output_dir, args.seed, args.validation_fraction, args.test_fraction)
    print(f"wrote {', '.join(f'{name}={result.rows[name]} rows' for name in SPLITS)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
