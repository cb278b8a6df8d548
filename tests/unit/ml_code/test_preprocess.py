"""preprocess.py on small synthetic files: the output layout and every bad-input message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from ml_code import preprocess
from ml_code.preprocess import InputDataError
from tests.unit.ml_code.conftest import SYNTHETIC_ROWS


def read_split(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, header=None)


def test_writes_label_first_headerless_splits_of_the_raw_records(synthetic_csv: Path, tmp_path: Path) -> None:
    result = preprocess.preprocess(synthetic_csv.parent, tmp_path / "out")

    assert result.rows == {"train": 140, "validation": 30, "test": 30, "baseline": 140}
    source = {tuple(line.split(",")) for line in synthetic_csv.read_text().split()}
    for name in preprocess.SPLITS:
        frame = read_split(result.paths[name])
        assert frame.shape == (result.rows[name], len(preprocess.SPLIT_COLUMNS))
        # no header: column 0 holds ring counts (integers >= 1), column 1 the sex as given
        assert (frame[0] >= 1).all() and (frame[0] == frame[0].round()).all()
        assert set(frame[1]) <= {"M", "F", "I"}
        # each record is one of the input's, values as given (the encoding belongs to training and serving)
        for line in result.paths[name].read_text().split():
            rings, *record = line.split(",")
            assert (*record, rings) in source


def test_the_baseline_is_the_train_split_without_its_label(synthetic_csv: Path, tmp_path: Path) -> None:
    """What the endpoint receives (and data capture records): the data-quality baseline is computed on that shape."""
    result = preprocess.preprocess(synthetic_csv.parent, tmp_path / "out")

    train_records = [line.partition(",")[2] for line in result.paths["train"].read_text().splitlines()]
    assert result.paths["baseline"].read_text().splitlines() == train_records


def test_split_is_deterministic_with_the_seed_and_changes_with_another(synthetic_csv: Path, tmp_path: Path) -> None:
    first = preprocess.preprocess(synthetic_csv, tmp_path / "a", seed=7)
    second = preprocess.preprocess(synthetic_csv, tmp_path / "b", seed=7)
    other = preprocess.preprocess(synthetic_csv, tmp_path / "c", seed=8)

    for name in preprocess.SPLITS:
        assert first.paths[name].read_bytes() == second.paths[name].read_bytes()
    assert first.paths["test"].read_bytes() != other.paths["test"].read_bytes()


def test_splits_partition_the_rows(synthetic_csv: Path) -> None:
    frame = preprocess.read_raw_csv(synthetic_csv)
    splits = preprocess.split_frame(frame, seed=42, validation_fraction=0.15, test_fraction=0.15)

    indices = [set(part.index) for part in splits.values()]
    assert sum(len(part) for part in indices) == len(frame)
    assert set().union(*indices) == set(frame.index)
    assert not (indices[0] & indices[1] or indices[0] & indices[2] or indices[1] & indices[2])


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "abalone.csv"
    with pytest.raises(InputDataError, match=f"{missing}: file not found"):
        preprocess.read_raw_csv(missing)


def test_missing_input_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="does not exist"):
        preprocess.preprocess(tmp_path / "no-input", tmp_path / "out")


def test_wrong_column_count_names_file_row_and_count(write_csv: Callable[[list[str]], Path]) -> None:
    path = write_csv([SYNTHETIC_ROWS[0], "M,0.455,0.365,0.095,0.514,0.2245,0.101,15"])
    with pytest.raises(InputDataError) as error:
        preprocess.read_raw_csv(path)
    assert str(error.value).startswith(f"{path}: row 2 has 8 columns, expected 9")


def test_non_numeric_measurement_names_row_column_and_value(write_csv: Callable[[list[str]], Path]) -> None:
    path = write_csv([*SYNTHETIC_ROWS, "F,0.53,abc,0.135,0.677,0.2565,0.1415,0.21,9"])
    with pytest.raises(InputDataError) as error:
        preprocess.read_raw_csv(path)
    assert str(error.value) == f"{path}: row 4, column 3 (diameter): 'abc' is not a finite number"


@pytest.mark.parametrize("value", ["", "nan", "inf"])
def test_empty_or_non_finite_values_are_rejected(write_csv: Callable[[list[str]], Path], value: str) -> None:
    path = write_csv([f"F,0.53,0.42,0.135,0.677,0.2565,0.1415,0.21,{value}"])
    with pytest.raises(InputDataError, match=r"row 1, column 9 \(rings\)"):
        preprocess.read_raw_csv(path)


def test_unknown_sex_is_rejected(write_csv: Callable[[list[str]], Path]) -> None:
    path = write_csv(["X,0.53,0.42,0.135,0.677,0.2565,0.1415,0.21,9"])
    with pytest.raises(InputDataError, match=r"row 1, column 1 \(sex\): 'X' is not one of F, I, M"):
        preprocess.read_raw_csv(path)


def test_a_header_row_is_reported_not_silently_dropped(write_csv: Callable[[list[str]], Path]) -> None:
    path = write_csv(["sex,length,diameter,height,whole,shucked,viscera,shell,rings", SYNTHETIC_ROWS[0]])
    with pytest.raises(InputDataError, match="row 1, column 1"):
        preprocess.read_raw_csv(path)


def test_empty_file_is_rejected(write_csv: Callable[[list[str]], Path]) -> None:
    path = write_csv([""])
    with pytest.raises(InputDataError, match="no data rows"):
        preprocess.read_raw_csv(path)


def test_input_directory_must_hold_one_file(synthetic_csv: Path) -> None:
    (synthetic_csv.parent / "other.csv").write_text(SYNTHETIC_ROWS[0])
    with pytest.raises(InputDataError, match="exactly one CSV file, found: abalone.csv, other.csv"):
        preprocess.find_input_csv(synthetic_csv.parent)


def test_bad_split_fractions_are_rejected(synthetic_csv: Path) -> None:
    frame = preprocess.read_raw_csv(synthetic_csv)
    with pytest.raises(ValueError, match="split fractions"):
        preprocess.split_frame(frame, seed=1, validation_fraction=0.6, test_fraction=0.5)


def test_command_line_uses_the_arguments(synthetic_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    assert preprocess.main(["--input-dir", str(synthetic_csv.parent), "--output-dir", str(out)]) == 0
    assert sorted(path.relative_to(out).as_posix() for path in out.rglob("*.csv")) == [
        "baseline/baseline.csv",
        "test/test.csv",
        "train/train.csv",
        "validation/validation.csv",
    ]
