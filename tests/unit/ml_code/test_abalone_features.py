"""Raw abalone records (CSV, JSON, JSON lines), the messages a bad one gets, and the fitted feature encoding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from ml_code.abalone_features import (
    ENCODER_FILE,
    FEATURE_COLUMNS,
    MEASUREMENT_COLUMNS,
    RAW_COLUMNS,
    SEX_CATEGORIES,
    FeatureEncoder,
    Record,
    RecordError,
    parse_csv,
    parse_json,
    parse_jsonlines,
    record_from_fields,
    record_from_mapping,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
HEADER = ",".join(RAW_COLUMNS)
ROW = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15"
RECORD = Record("M", (0.455, 0.365, 0.095, 0.514, 0.2245, 0.101, 0.15))
INSTANCE: dict[str, Any] = dict(zip(RAW_COLUMNS, ["M", 0.455, 0.365, 0.095, 0.514, 0.2245, 0.101, 0.15], strict=True))
EXPECTED_8 = "expected 8 (sex, length, diameter, height, whole_weight, shucked_weight, viscera_weight, shell_weight)"


def abalone_records(count: int) -> list[Record]:
    """The first rows of the real data set, without their rings."""
    lines = (REPO_ROOT / "data" / "abalone.csv").read_text().splitlines()[:count]
    return parse_csv("\n".join(line.rsplit(",", 1)[0] for line in lines))


def instance(**changes: Any) -> dict[str, Any]:
    return {**INSTANCE, **changes}


def json_body(*instances: Any) -> str:
    return json.dumps({"instances": list(instances)})


# --- the column contract ---------------------------------------------------------------------------------------------
def test_the_columns_the_booster_sees() -> None:
    assert (RAW_COLUMNS[0], RAW_COLUMNS[1:]) == ("sex", MEASUREMENT_COLUMNS)
    assert FEATURE_COLUMNS == (
        "length",
        "diameter",
        "height",
        "whole_weight",
        "shucked_weight",
        "viscera_weight",
        "shell_weight",
        "sex_F",
        "sex_I",
        "sex_M",
    )
    assert (SEX_CATEGORIES, ENCODER_FILE) == (("F", "I", "M"), "features.json")


# --- CSV -------------------------------------------------------------------------------------------------------------
def test_csv_one_record_per_line() -> None:
    records = parse_csv(f"{ROW}\nF,0.53,0.42,0.135,0.677,0.2565,0.1415,0.21\n")

    assert records == [RECORD, Record("F", (0.53, 0.42, 0.135, 0.677, 0.2565, 0.1415, 0.21))]


def test_csv_crlf_blank_lines_spaces_and_lower_case_sex() -> None:
    text = f"\r\n{ROW}\r\n\r\n   \r\n m , 0.455 ,0.365,0.095,0.514,0.2245,0.101, 0.15\r\n"

    assert parse_csv(text) == [RECORD, RECORD]


@pytest.mark.parametrize(
    "header",
    [HEADER, HEADER.upper(), " Sex , Length,DIAMETER,height ,whole_weight,shucked_weight,viscera_weight,shell_weight"],
)
def test_a_header_line_is_recognised_by_its_column_names(header: str) -> None:
    assert parse_csv(f"{header}\n{ROW}\n") == [RECORD]


def test_rows_are_counted_among_data_rows_after_a_header() -> None:
    with pytest.raises(RecordError, match=r"^row 2: sex 'X' is not one of M, F, I$"):
        parse_csv(f"\n{HEADER}\n{ROW}\nX,1,2,3,4,5,6,7\n")


def test_a_first_row_of_data_is_not_taken_for_a_header() -> None:
    assert parse_csv(f"{ROW}\n{ROW}") == [RECORD, RECORD]


def test_a_header_after_the_first_line_is_a_bad_record() -> None:
    with pytest.raises(RecordError, match=r"^row 2: sex 'sex' is not one of M, F, I$"):
        parse_csv(f"{ROW}\n{HEADER}\n")


def test_a_header_with_other_names_is_a_bad_record() -> None:
    with pytest.raises(RecordError, match=r"^row 1: sex 'Gender' is not one of M, F, I$"):
        parse_csv(HEADER.replace("sex", "Gender") + f"\n{ROW}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("X,1,2,3,4,5,6,7", "row 1: sex 'X' is not one of M, F, I"),
        (f"{ROW}\n{ROW}\nMale,1,2,3,4,5,6,7", "row 3: sex 'Male' is not one of M, F, I"),
        ("M,1,2,3,4,5,6", f"row 1: 7 values, {EXPECTED_8}"),
        (f"{ROW}\nM,1,2,3,4,5,6,7,9", f"row 2: 9 values, {EXPECTED_8}"),
        ("M", f"row 1: 1 value, {EXPECTED_8}"),
        (f"{ROW}\nM,abc,2,3,4,5,6,7", "row 2: length 'abc' is not a number"),
        ("M,1,2,3,4,5,6, ", "row 1: shell_weight '' is not a number"),
        ("M,1,2,nan,4,5,6,7", "row 1: height 'nan' is not a finite number"),
        ("M,1,2,3,-inf,5,6,7", "row 1: whole_weight '-inf' is not a finite number"),
        ("M,1,2,3,4,1e999,6,7", "row 1: shucked_weight '1e999' is not a finite number"),
        (",,,,,,,", "row 1: sex '' is not one of M, F, I"),
        ("X,abc", f"row 1: 2 values, {EXPECTED_8}"),  # the count first, then the fields in column order
        ("X,abc,2,3,4,5,6,7", "row 1: sex 'X' is not one of M, F, I"),
    ],
)
def test_a_bad_csv_row_is_named_with_its_field(text: str, message: str) -> None:
    with pytest.raises(RecordError) as refused:
        parse_csv(text)

    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no records: the body is empty"),
        ("\n\r\n  \n", "no records: the body is empty"),
        (f"{HEADER}\n", "no records: the CSV has only a header line"),
    ],
)
def test_no_csv_records(text: str, message: str) -> None:
    with pytest.raises(RecordError) as refused:
        parse_csv(text)

    assert str(refused.value) == message


def test_record_from_fields_is_what_training_reads() -> None:
    assert record_from_fields(ROW.split(","), 5) == RECORD
    with pytest.raises(RecordError, match="^row 5: sex 'X'"):
        record_from_fields(["X", *ROW.split(",")[1:]], 5)


# --- JSON and JSON lines ---------------------------------------------------------------------------------------------
def test_json_instances() -> None:
    body = json_body(INSTANCE, instance(sex="i", length=1))

    assert parse_json(body) == [RECORD, Record("I", (1.0, *RECORD.measurements[1:]))]


def test_jsonlines_one_object_per_line() -> None:
    text = "\n".join([json.dumps(INSTANCE), "", json.dumps(instance(sex=" f ")), ""])

    assert parse_jsonlines(text) == [RECORD, Record("F", RECORD.measurements)]


@pytest.mark.parametrize(
    ("instances", "message"),
    [
        (
            [INSTANCE, INSTANCE, INSTANCE, {k: v for k, v in INSTANCE.items() if k != "shell_weight"}],
            "row 4: missing shell_weight",
        ),
        (
            [{"sex": "M"}],
            "row 1: missing length, diameter, height, whole_weight, shucked_weight, viscera_weight, shell_weight",
        ),
        ([INSTANCE, INSTANCE, INSTANCE, instance(colour="red")], "row 4: unknown field 'colour'"),
        ([instance(colour="red", age=3)], "row 1: unknown fields 'colour', 'age'"),
        ([INSTANCE, instance(sex="X")], "row 2: sex 'X' is not one of M, F, I"),
        ([instance(sex=1)], "row 1: sex 1 is not one of M, F, I"),
        ([instance(sex=None)], "row 1: sex null is not one of M, F, I"),
        ([instance(length="0.4")], "row 1: length '0.4' is not a number"),
        ([instance(height=True)], "row 1: height true is not a number"),
        ([instance(diameter=None)], "row 1: diameter null is not a number"),
        ([instance(diameter=[1])], "row 1: diameter [1] is not a number"),
        ([instance(shell_weight=float("nan"))], "row 1: shell_weight NaN is not a finite number"),
        ([instance(shell_weight=10**400)], f"row 1: shell_weight {10**400} is not a finite number"),
        ([INSTANCE, [1, 2]], f"row 2: expected an object with the fields {', '.join(RAW_COLUMNS)}, got an array"),
        (["M,1,2,3,4,5,6,7"], f"row 1: expected an object with the fields {', '.join(RAW_COLUMNS)}, got a string"),
    ],
)
def test_a_bad_json_instance_is_named_with_its_field(instances: list[Any], message: str) -> None:
    for parse, text in ((parse_json, json_body(*instances)), (parse_jsonlines, "\n".join(map(json.dumps, instances)))):
        with pytest.raises(RecordError) as refused:
            parse(text)

        assert str(refused.value) == message


EXPECTED_BODY = 'expected a JSON body {"instances": [{"sex": "M", "length": 0.455, ...}, ...]}'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (json.dumps([INSTANCE]), f"{EXPECTED_BODY}: got an array"),
        (
            json.dumps(INSTANCE),
            f'{EXPECTED_BODY}: got an object without "instances" (keys: {", ".join(map(repr, INSTANCE))})',
        ),
        (json.dumps({"instances": [INSTANCE], "model": "x"}), f"{EXPECTED_BODY}: unknown key 'model'"),
        (json.dumps({"instances": INSTANCE}), f'{EXPECTED_BODY}: "instances" is an object'),
        ('{"instances": [', "the body is not valid JSON: Expecting value: line 1 column 16 (char 15)"),
        (ROW, "the body is not valid JSON: Expecting value: line 1 column 1 (char 0)"),
        ("", "no records: the body is empty"),
        (" \n", "no records: the body is empty"),
        ('{"instances": []}', 'no records: "instances" is empty'),
    ],
)
def test_a_bad_json_body_says_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(RecordError) as refused:
        parse_json(text)

    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f'{json.dumps(INSTANCE)}\n{{"sex": ', "row 2: not valid JSON: Expecting value: line 1 column 9 (char 8)"),
        ("", "no records: the body is empty"),
        ("\n\n", "no records: the body is empty"),
    ],
)
def test_bad_json_lines(text: str, message: str) -> None:
    with pytest.raises(RecordError) as refused:
        parse_jsonlines(text)

    assert str(refused.value) == message


def test_record_from_mapping_takes_any_mapping() -> None:
    assert record_from_mapping(INSTANCE, 1) == RECORD


def test_a_record_is_built_by_the_parsers_only() -> None:
    with pytest.raises(ValueError, match="not a parsed record"):
        Record("m", RECORD.measurements)
    with pytest.raises(ValueError, match="not a parsed record"):
        Record("M", RECORD.measurements[:6])


# --- the encoding ----------------------------------------------------------------------------------------------------
def test_fit_and_encode_match_standard_scaler_and_one_hot() -> None:
    records = abalone_records(500)
    measurements = np.array([record.measurements for record in records])
    scaler = StandardScaler().fit(measurements)
    sexes = np.array([record.sex for record in records])
    one_hot = np.stack([sexes == category for category in SEX_CATEGORIES], axis=1).astype(np.float64)
    expected = np.hstack([scaler.transform(measurements), one_hot]).astype(np.float32)

    encoder = FeatureEncoder.fit(records)
    encoded = encoder.encode(records)

    np.testing.assert_allclose(encoder.means, scaler.mean_, rtol=1e-12)
    np.testing.assert_allclose(encoder.scales, scaler.scale_, rtol=1e-12)
    assert encoded.dtype == np.float32
    assert encoded.shape == (500, len(FEATURE_COLUMNS))
    np.testing.assert_allclose(encoded, expected, rtol=1e-6, atol=1e-6)
    assert set(encoded[:, 7:].sum(axis=1)) == {1.0}


def test_a_constant_measurement_is_scaled_by_one_as_sklearn_does() -> None:
    records = [Record(sex, (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, float(i))) for i, sex in enumerate("MFIMF")]

    encoder = FeatureEncoder.fit(records)
    scaler = StandardScaler().fit(np.array([record.measurements for record in records]))

    assert encoder.scales[:6] == (1.0,) * 6 == tuple(scaler.scale_[:6])
    np.testing.assert_allclose(encoder.encode(records)[:, :6], np.zeros((5, 6)), atol=1e-6)


def test_encoding_uses_the_fitted_statistics_only() -> None:
    encoder = FeatureEncoder(means=(1.0,) * 7, scales=(2.0,) * 7)

    encoded = encoder.encode([Record("I", (3.0, 1.0, 0.0, 5.0, 1.0, 1.0, 1.0))])

    assert encoded.tolist() == [[1.0, 0.0, -0.5, 2.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]]


def test_fit_needs_records() -> None:
    with pytest.raises(ValueError, match="no records"):
        FeatureEncoder.fit([])


@pytest.mark.parametrize(("means", "scales"), [((0.0,) * 6, (1.0,) * 7), ((0.0,) * 7, (1.0,) * 6 + (0.0,))])
def test_an_encoder_needs_seven_finite_statistics(means: tuple[float, ...], scales: tuple[float, ...]) -> None:
    with pytest.raises(ValueError):
        FeatureEncoder(means, scales)


def test_json_round_trip_is_exact(tmp_path: Path) -> None:
    encoder = FeatureEncoder.fit(abalone_records(300))

    assert FeatureEncoder.from_json(encoder.to_json()) == encoder
    assert encoder.save(tmp_path) == tmp_path / ENCODER_FILE
    assert FeatureEncoder.load(tmp_path) == encoder
    document = json.loads((tmp_path / ENCODER_FILE).read_text())
    assert document["format_version"] == 1
    assert document["feature_columns"] == list(FEATURE_COLUMNS)
    assert document["scaling"]["length"] == {"mean": encoder.means[0], "scale": encoder.scales[0]}


def encoder_document(**changes: Any) -> str:
    document = json.loads(FeatureEncoder(means=(0.5,) * 7, scales=(0.25,) * 7).to_json())
    return json.dumps({**document, **changes})


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (
            [*FEATURE_COLUMNS[:7], "sex_F", "sex_M"],
            "the feature encoding's columns differ from this code's: missing sex_I",
        ),
        (
            [*FEATURE_COLUMNS, "rings"],
            "the feature encoding's columns differ from this code's: unexpected rings",
        ),
        (
            ["length_cm", *FEATURE_COLUMNS[1:]],
            "the feature encoding's columns differ from this code's: unexpected length_cm; missing length",
        ),
        (
            [*FEATURE_COLUMNS[7:], *FEATURE_COLUMNS[:7]],
            "the feature encoding's columns differ from this code's: "
            f"{', '.join([*FEATURE_COLUMNS[7:], *FEATURE_COLUMNS[:7]])} instead of {', '.join(FEATURE_COLUMNS)}",
        ),
    ],
)
def test_an_encoding_with_other_columns_is_refused_naming_them(columns: list[str], message: str) -> None:
    with pytest.raises(ValueError) as refused:
        FeatureEncoder.from_json(encoder_document(feature_columns=columns))

    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (encoder_document(format_version=2), "format_version 2 is not supported"),
        (encoder_document(scaling={"length": {"mean": 0, "scale": 1}}), "a mean and a scale for each of length, "),
        (
            encoder_document(scaling={name: {"mean": "0", "scale": 1} for name in MEASUREMENT_COLUMNS}),
            "scaling is malformed: TypeError: mean '0' is not a number",
        ),
        (encoder_document(scaling={name: {"scale": 1} for name in MEASUREMENT_COLUMNS}), "scaling is malformed"),
        ("[]", "must be a JSON object, got an array"),
        ("{", "not valid JSON"),
    ],
)
def test_a_malformed_encoding_is_refused(text: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FeatureEncoder.from_json(text)


def test_loading_names_the_file(tmp_path: Path) -> None:
    (tmp_path / ENCODER_FILE).write_text(encoder_document(format_version=0))

    with pytest.raises(ValueError, match=rf"^{tmp_path / ENCODER_FILE}: feature encoding format_version 0"):
        FeatureEncoder.load(tmp_path)


@pytest.mark.parametrize("text", ["[" * 100_000, '{"instances": [1' + "0" * 5000 + "]}"])
def test_json_that_python_cannot_read_is_a_bad_body_too(text: str) -> None:
    """Deep nesting and integers beyond Python's digit limit fail json.loads without a JSONDecodeError."""
    with pytest.raises(RecordError, match="^the body is not valid JSON: "):
        parse_json(text)
    with pytest.raises(RecordError, match="^row 1: not valid JSON: "):
        parse_jsonlines(text)


def test_a_csv_field_beyond_the_csv_size_limit_is_a_bad_record() -> None:
    with pytest.raises(RecordError, match=r"^row 2: not valid CSV: field larger than field limit"):
        parse_csv(f'{ROW}\nM,"{"1" * 200_000}",1,1,1,1,1,1')
