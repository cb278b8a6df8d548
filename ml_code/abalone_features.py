"""Raw abalone records and their feature encoding, shared by training and serving.

Training fits a :class:`FeatureEncoder` on the train split and saves it beside the booster (``features.json``); the
endpoint and batch transform load it from the model and encode the raw records callers send. One implementation on
both sides means the served model sees exactly the features it was trained on.

This file runs in the processing, training and serving containers (Python 3.10, the image's numpy) as a top-level
module, and in the repository as ``ml_code.abalone_features``: standard library and numpy only, no package imports.

Parsing rules (the same for the training channels, which call :func:`record_from_fields`, and for requests):

* a record is the 8 raw fields of :data:`RAW_COLUMNS` (no label); sex is case-insensitive (``m`` is ``M``), numbers
  may have surrounding spaces, and must be finite (``nan``, ``inf`` and overflowing values are refused);
* CSV: one record per line, blank lines skipped, CRLF accepted, an optional header line (the 8 column names,
  case-insensitive, surrounding spaces ignored) only as the first line;
* JSON: ``{"instances": [{"sex": "M", "length": 0.455, ...}, ...]}``; JSON lines: one such object per line. Each
  object has exactly the 8 named fields; sex is a string and every measurement a JSON number -- a numeric string
  such as ``"0.4"`` or a boolean is refused, so a caller's type mistake is reported rather than guessed around.

Every refusal is a :class:`RecordError` whose message names the row (1-based among data rows: a CSV header is not
counted; for JSON the instance's index + 1) and the field, e.g. ``row 2: length 'abc' is not a number``. A value
that is not a number at all "is not a number"; one that parses but is nan or infinite "is not a finite number".
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

MEASUREMENT_COLUMNS = (
    "length",
    "diameter",
    "height",
    "whole_weight",
    "shucked_weight",
    "viscera_weight",
    "shell_weight",
)
RAW_COLUMNS = ("sex", *MEASUREMENT_COLUMNS)  # a record as callers send it (the data set's columns without rings)
SEX_CATEGORIES = ("F", "I", "M")  # fixed order of the one-hot columns, whatever sexes a data set happens to hold
FEATURE_COLUMNS = (*MEASUREMENT_COLUMNS, *(f"sex_{category}" for category in SEX_CATEGORIES))  # what the booster sees
ENCODER_FILE = "features.json"  # saved beside the booster in the model directory
FORMAT_VERSION = 1  # of features.json

_SEX_CHOICES = "M, F, I"  # the order the dataset's documentation lists them in, for messages
_JSON_BODY = '{"instances": [{"sex": "M", "length": 0.455, ...}, ...]}'


class RecordError(ValueError):
    """A record that cannot be scored; the message names the row and the field."""


@dataclass(frozen=True)
class Record:
    """One parsed raw record: build it with :func:`record_from_fields` or :func:`record_from_mapping`."""

    sex: str  # upper-cased, one of SEX_CATEGORIES
    measurements: tuple[float, ...]  # 7 finite floats, in MEASUREMENT_COLUMNS order

    def __post_init__(self) -> None:
        # A hand-built record with another sex would encode as all-zero one-hot columns without a word.
        if self.sex not in SEX_CATEGORIES or len(self.measurements) != len(MEASUREMENT_COLUMNS):
            raise ValueError(f"{self!r} is not a parsed record: build it with record_from_fields/record_from_mapping")


# --- one record -------------------------------------------------------------------------------------------------------
def record_from_fields(fields: Sequence[str], row: int) -> Record:
    """A record from its 8 CSV fields, in :data:`RAW_COLUMNS` order."""
    if len(fields) != len(RAW_COLUMNS):
        values = "1 value" if len(fields) == 1 else f"{len(fields)} values"
        raise RecordError(f"row {row}: {values}, expected {len(RAW_COLUMNS)} ({', '.join(RAW_COLUMNS)})")
    sex = _sex(fields[0], row)  # the fields are checked in column order: the first bad one is reported
    measurements = zip(MEASUREMENT_COLUMNS, fields[1:], strict=True)
    return Record(sex, tuple(_csv_number(name, text, row) for name, text in measurements))


def record_from_mapping(values: Mapping[str, Any], row: int) -> Record:
    """A record from a JSON object with exactly the 8 named fields (sex a string, measurements JSON numbers)."""
    if not isinstance(values, Mapping):
        raise RecordError(
            f"row {row}: expected an object with the fields {', '.join(RAW_COLUMNS)}, got {_json_type(values)}"
        )
    unknown = [key for key in values if key not in RAW_COLUMNS]
    if unknown:
        fields = "field" if len(unknown) == 1 else "fields"
        raise RecordError(f"row {row}: unknown {fields} {', '.join(repr(key) for key in unknown)}")
    missing = [name for name in RAW_COLUMNS if name not in values]
    if missing:
        raise RecordError(f"row {row}: missing {', '.join(missing)}")
    sex = _sex(values["sex"], row)
    return Record(sex, tuple(_json_number(name, values[name], row) for name in MEASUREMENT_COLUMNS))


def _sex(value: object, row: int) -> str:
    sex = value.strip().upper() if isinstance(value, str) else ""
    if sex not in SEX_CATEGORIES:
        raise RecordError(f"row {row}: sex {_show(value)} is not one of {_SEX_CHOICES}")
    return sex


def _csv_number(name: str, text: str, row: int) -> float:
    # float() is what the preprocess step validates the raw data with: whatever it passed, training reads.
    try:
        value = float(text)
    except ValueError:
        raise RecordError(f"row {row}: {name} {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise RecordError(f"row {row}: {name} {text.strip()!r} is not a finite number")
    return value


def _json_number(name: str, value: object, row: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError(f"row {row}: {name} {_show(value)} is not a number")
    try:
        number = float(value)
    except OverflowError:  # a JSON integer beyond float's range
        number = math.inf
    if not math.isfinite(number):  # json.loads reads NaN and Infinity
        raise RecordError(f"row {row}: {name} {_show(value)} is not a finite number")
    return number


def _show(value: object) -> str:
    """A value as a message quotes it: a string in Python quotes (``'X'``), anything else as JSON writes it."""
    if isinstance(value, str):
        return repr(value.strip())
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _json_type(value: object) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else type(value).__name__


# --- request bodies ---------------------------------------------------------------------------------------------------
def parse_csv(text: str) -> list[Record]:
    """CSV records, one per line (an optional header line first; blank lines skipped)."""
    records: list[Record] = []
    header = False
    first = True
    try:
        for fields in csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")):
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # a blank line; a line of commas is a record, and refused as one
            if first and [field.strip().lower() for field in fields] == list(RAW_COLUMNS):
                header = True
            else:
                records.append(record_from_fields(fields, len(records) + 1))
            first = False
    except csv.Error as error:  # e.g. a field beyond csv's size limit
        raise RecordError(f"row {len(records) + 1}: not valid CSV: {error}") from None
    if not records:
        raise RecordError("no records: the CSV has only a header line" if header else "no records: the body is empty")
    return records


def parse_json(text: str) -> list[Record]:
    """``{"instances": [{"sex": "M", "length": 0.455, ...}, ...]}``."""
    if not text.strip():
        raise RecordError("no records: the body is empty")
    try:
        body = json.loads(text.removeprefix("\ufeff"))
    except (ValueError, RecursionError) as error:  # JSONDecodeError, an integer of 4300+ digits, deep nesting
        raise RecordError(f"the body is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        problem = f"got {_json_type(body)}"
    elif "instances" not in body:
        problem = f'got an object without "instances" (keys: {", ".join(repr(key) for key in body) or "none"})'
    elif len(body) > 1:
        problem = f"unknown key {next(repr(key) for key in body if key != 'instances')}"
    elif not isinstance(body["instances"], list):
        problem = f'"instances" is {_json_type(body["instances"])}'
    else:
        if not body["instances"]:
            raise RecordError('no records: "instances" is empty')
        return [record_from_mapping(value, row) for row, value in enumerate(body["instances"], start=1)]
    raise RecordError(f"expected a JSON body {_JSON_BODY}: {problem}")


def parse_jsonlines(text: str) -> list[Record]:
    """One JSON object per line (blank lines skipped; rows are the non-blank lines)."""
    records: list[Record] = []
    # split("\n"), not splitlines(): JSON strings may hold U+2028 and other characters splitlines breaks at.
    for line in text.removeprefix("\ufeff").split("\n"):
        if not line.strip():
            continue
        row = len(records) + 1
        try:
            value = json.loads(line)
        except (ValueError, RecursionError) as error:  # as in parse_json
            raise RecordError(f"row {row}: not valid JSON: {error}") from None
        records.append(record_from_mapping(value, row))
    if not records:
        raise RecordError("no records: the body is empty")
    return records


# --- the encoding -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeatureEncoder:
    """Standardised measurements, then the one-hot sex: :data:`FEATURE_COLUMNS`, as the booster is trained on.

    The statistics are those of sklearn's ``StandardScaler``: the mean and the population standard deviation
    (ddof=0) of each measurement; a constant measurement (every value equal) is scaled by 1, as sklearn does.
    """

    means: tuple[float, ...]
    scales: tuple[float, ...]

    def __post_init__(self) -> None:
        count = len(MEASUREMENT_COLUMNS)
        if len(self.means) != count or len(self.scales) != count:
            raise ValueError(f"an encoder needs {count} means and scales ({', '.join(MEASUREMENT_COLUMNS)})")
        if not all(math.isfinite(value) for value in (*self.means, *self.scales)) or min(self.scales) <= 0:
            raise ValueError(f"means must be finite and scales finite and positive: {self.means}, {self.scales}")

    @classmethod
    def fit(cls, records: Sequence[Record]) -> FeatureEncoder:
        if not records:
            raise ValueError("cannot fit the feature encoding on no records")
        values = np.array([record.measurements for record in records], dtype=np.float64)
        stds = values.std(axis=0)
        # Equal values can still give a std of 1e-17 from rounding: scaling by it would blow noise up to features.
        constant = (values.max(axis=0) == values.min(axis=0)) | (stds == 0)
        scales = np.where(constant, 1.0, stds)
        return cls(tuple(float(m) for m in values.mean(axis=0)), tuple(float(s) for s in scales))

    def encode(self, records: Sequence[Record]) -> npt.NDArray[np.float32]:
        """float32, shape ``(len(records), 10)``, in :data:`FEATURE_COLUMNS` order."""
        count = len(records)
        measurements = np.array([record.measurements for record in records], dtype=np.float64)
        scaled = (measurements.reshape(count, len(MEASUREMENT_COLUMNS)) - np.array(self.means)) / np.array(self.scales)
        one_hot = np.array(
            [[record.sex == category for category in SEX_CATEGORIES] for record in records], dtype=np.float64
        ).reshape(count, len(SEX_CATEGORIES))
        return np.hstack([scaled, one_hot]).astype(np.float32)

    def to_json(self) -> str:
        """The statistics by column name, with the feature columns and a format version to check on loading."""
        document = {
            "format_version": FORMAT_VERSION,
            "feature_columns": list(FEATURE_COLUMNS),
            "scaling": {
                name: {"mean": mean, "scale": scale}
                for name, mean, scale in zip(MEASUREMENT_COLUMNS, self.means, self.scales, strict=True)
            },
        }
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> FeatureEncoder:
        """Refuses another format version, or columns that differ from this code's (the booster would be fed other
        features than it was trained on)."""
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"the feature encoding is not valid JSON: {error}") from None
        if not isinstance(document, dict):
            raise ValueError(f"the feature encoding must be a JSON object, got {_json_type(document)}")
        version = document.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(
                f"feature encoding format_version {version!r} is not supported (this code reads {FORMAT_VERSION})"
            )
        columns = document.get("feature_columns")
        if columns != list(FEATURE_COLUMNS):
            raise ValueError(f"the feature encoding's columns differ from this code's: {_differences(columns)}")
        scaling = document.get("scaling")
        if not isinstance(scaling, dict) or set(scaling) != set(MEASUREMENT_COLUMNS):
            raise ValueError(
                "the feature encoding's scaling must have a mean and a scale for each of "
                + ", ".join(MEASUREMENT_COLUMNS)
            )
        try:
            return cls(
                tuple(_stat(scaling[name], "mean") for name in MEASUREMENT_COLUMNS),
                tuple(_stat(scaling[name], "scale") for name in MEASUREMENT_COLUMNS),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"the feature encoding's scaling is malformed: {type(error).__name__}: {error}") from None

    def save(self, model_dir: Path) -> Path:
        path = Path(model_dir) / ENCODER_FILE
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def load(cls, model_dir: Path) -> FeatureEncoder:
        path = Path(model_dir) / ENCODER_FILE
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None


def _stat(entry: Any, key: str) -> float:
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{key} {_show(value)} is not a number")
    return float(value)


def _differences(columns: object) -> str:
    """Which columns a features.json has that this code does not expect, and the other way round."""
    if not isinstance(columns, list):
        return f"feature_columns is {_json_type(columns)}, expected {list(FEATURE_COLUMNS)}"
    unexpected = [column for column in columns if column not in FEATURE_COLUMNS]
    missing = [column for column in FEATURE_COLUMNS if column not in columns]
    parts = [f"unexpected {', '.join(map(str, unexpected))}"] if unexpected else []
    parts += [f"missing {', '.join(missing)}"] if missing else []
    if not parts:  # the same names, repeated or in another order
        parts = [f"{', '.join(map(str, columns))} instead of {', '.join(FEATURE_COLUMNS)}"]
    return "; ".join(parts)
