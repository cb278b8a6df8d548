"""The analyzer's stand-in against the real container's files and the documented formats and checks."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from local_twin.monitor import analyzer
from local_twin.monitor.analyzer import Dataset

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEXES = ("M", "F", "I")


def _sdk_rows() -> tuple[dict[str, Any], list[list[str | None]]]:
    """The real statistics.json and its 100 rows, rebuilt from the sketch (n < 2048: the raw values, input order)."""
    real: dict[str, Any] = json.loads((FIXTURES / "sdk_statistics.json").read_text())
    columns = [f["numerical_statistics"]["distribution"]["kll"]["sketch"]["data"][0] for f in real["features"]]
    return real, [[repr(column[i]) for column in columns] for i in range(len(columns[0]))]


def _abalone(rows: int, seed: int, scale: float = 1.0, sexes: tuple[str, ...] = SEXES) -> list[list[str | None]]:
    generator = random.Random(seed)
    return [
        [generator.choice(sexes), *(f"{generator.uniform(0.1, 0.8) * scale:.4f}" for _ in range(7))]
        for _ in range(rows)
    ]


@pytest.fixture(scope="module")
def baseline() -> analyzer.Baseline:
    return analyzer.suggest_baseline(Dataset.of(_abalone(600, seed=1)))


def test_the_baseline_of_the_sdk_test_data_is_the_real_container_output_exactly() -> None:
    real, rows = _sdk_rows()

    computed = analyzer.suggest_baseline(Dataset.of(rows))

    assert computed.statistics == real
    assert computed.constraints == json.loads((FIXTURES / "sdk_constraints.json").read_text())


def test_a_string_feature_has_counts_distinct_values_and_a_domain(baseline: analyzer.Baseline) -> None:
    sex = baseline.statistics["features"][0]
    constraint = baseline.constraints["features"][0]

    assert sex["name"] == "_c0" and sex["inferred_type"] == "String"
    strings = sex["string_statistics"]
    assert strings["common"] == {"num_present": 600, "num_missing": 0}
    assert strings["distinct_count"] == 3.0
    assert sum(b["count"] for b in strings["distribution"]["categorical"]["buckets"]) == 600
    assert constraint == {
        "name": "_c0",
        "inferred_type": "String",
        "completeness": 1.0,
        "string_constraints": {"domains": [b["value"] for b in strings["distribution"]["categorical"]["buckets"]]},
    }
    assert set(constraint["string_constraints"]["domains"]) == set(SEXES)
    assert baseline.constraints["features"][1]["num_constraints"] == {"is_non_negative": True}
    assert baseline.constraints["monitoring_config"]["distribution_constraints"] == {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
    }


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "2", None], "Integral"),
        (["1", "2.5"], "Fractional"),
        (["1e5", "2"], "Fractional"),
        (["1", "x"], "String"),
        (["true", "1"], "String"),
        ([None, None], "Unknown"),
        (["- 3", "+4"], "Integral"),
    ],
)
def test_types_are_inferred_with_deequs_patterns(values: list[str | None], expected: str) -> None:
    assert analyzer.infer_type(values) == expected


def test_a_column_with_nulls_gets_a_lower_completeness_bound() -> None:
    rows: list[list[str | None]] = [["1.5"] for _ in range(90)]
    rows += [[None] for _ in range(10)]

    built = analyzer.suggest_baseline(Dataset.of(rows))

    assert built.statistics["features"][0]["numerical_statistics"]["common"] == {"num_present": 90, "num_missing": 10}
    assert built.constraints["features"][0]["completeness"] == 0.84  # 0.9 - 1.96 * sqrt(0.09 / 100), rounded down


def test_data_like_the_baseline_has_no_violations(baseline: analyzer.Baseline) -> None:
    analysis = analyzer.analyze(Dataset.of(_abalone(300, seed=2)), baseline.statistics, baseline.constraints)

    assert analysis.violations == []
    assert set(analysis.distances) == {f"_c{i}" for i in range(8)}
    assert all(d == 0.0 for d in analysis.distances.values())  # robust: the KS noise term swallows sampling noise
    assert analysis.constraint_violations == {"violations": []}


def test_drifted_measurements_violate_the_baseline_drift_check(baseline: analyzer.Baseline) -> None:
    analysis = analyzer.analyze(Dataset.of(_abalone(300, seed=2, scale=1.6)), baseline.statistics, baseline.constraints)

    drifted = [v for v in analysis.violations if v["constraint_check_type"] == "baseline_drift_check"]
    assert {v["feature_name"] for v in drifted} == {f"_c{i}" for i in range(1, 8)}
    first = drifted[0]
    distance = analysis.distances[first["feature_name"]]
    assert distance > 0.1
    assert first["description"] == f"Numerical distance: {distance!r} exceeds numerical threshold: 0.1"


def test_the_simple_method_reports_the_ks_distance_itself(baseline: analyzer.Baseline) -> None:
    constraints = json.loads(json.dumps(baseline.constraints))
    constraints["monitoring_config"]["distribution_constraints"]["comparison_method"] = "Simple"

    robust = analyzer.analyze(Dataset.of(_abalone(300, seed=2)), baseline.statistics, baseline.constraints)
    simple = analyzer.analyze(Dataset.of(_abalone(300, seed=2)), baseline.statistics, constraints)

    assert all(simple.distances[name] > robust.distances[name] for name in simple.distances)
    assert all(0 < d < 0.1 for d in simple.distances.values())


def test_a_new_category_is_a_categorical_values_and_a_drift_violation(baseline: analyzer.Baseline) -> None:
    rows = _abalone(300, seed=2, sexes=("M", "X"))

    analysis = analyzer.analyze(Dataset.of(rows), baseline.statistics, baseline.constraints)

    by_check = {v["constraint_check_type"]: v for v in analysis.violations if v["feature_name"] == "_c0"}
    share = sum(1 for row in rows if row[0] == "M") / len(rows)
    assert by_check["categorical_values_check"]["description"] == (
        f"Value: {share!r} does not meet the constraint requirement! "
    )
    assert by_check["baseline_drift_check"]["description"].startswith("Categorical distance: ")


def test_text_in_a_number_column_is_a_data_type_violation_in_the_analyzers_words(baseline: analyzer.Baseline) -> None:
    rows = _abalone(200, seed=3)
    rows[0][3] = "abc"

    analysis = analyzer.analyze(Dataset.of(rows), baseline.statistics, baseline.constraints)

    assert {
        "feature_name": "_c3",
        "constraint_check_type": "data_type_check",
        "description": (
            "Data type match requirement is not met. Expected data type: Fractional, Expected match: 100.0%. "
            "Observed: Only 99.5% of data is Fractional."
        ),
    } in analysis.violations


def test_missing_values_are_a_completeness_violation(baseline: analyzer.Baseline) -> None:
    rows = _abalone(200, seed=3)
    for row in rows[:20]:
        row[4] = None

    analysis = analyzer.analyze(Dataset.of(rows), baseline.statistics, baseline.constraints)

    assert {
        "feature_name": "_c4",
        "constraint_check_type": "completeness_check",
        "description": "Value: 0.9 does not meet the constraint requirement! ",
    } in analysis.violations


def test_fewer_or_more_columns_than_the_baseline_are_column_violations(baseline: analyzer.Baseline) -> None:
    short = [row[:6] for row in _abalone(50, seed=4)]
    long = [[*row, "1.0"] for row in _abalone(50, seed=4)]

    missing = analyzer.analyze(Dataset.of(short), baseline.statistics, baseline.constraints).violations
    extra = analyzer.analyze(Dataset.of(long), baseline.statistics, baseline.constraints).violations

    assert [(v["feature_name"], v["constraint_check_type"]) for v in missing] == [
        ("_c6", "missing_column_check"),
        ("_c7", "missing_column_check"),
    ]
    assert [(v["feature_name"], v["constraint_check_type"]) for v in extra] == [("_c8", "extra_column_check")]


def test_disabled_evaluation_reports_no_violations_but_still_measures(baseline: analyzer.Baseline) -> None:
    constraints = json.loads(json.dumps(baseline.constraints))
    constraints["monitoring_config"]["evaluate_constraints"] = "Disabled"
    constraints["monitoring_config"]["emit_metrics"] = "Disabled"

    analysis = analyzer.analyze(Dataset.of(_abalone(300, seed=2, scale=1.6)), baseline.statistics, constraints)

    assert analysis.violations == [] and analysis.distances and not analysis.emit_metrics


def test_chi_squared_is_refused_rather_than_computed_differently(baseline: analyzer.Baseline) -> None:
    constraints = json.loads(json.dumps(baseline.constraints))
    constraints["monitoring_config"]["distribution_constraints"]["categorical_drift_method"] = "ChiSquared"

    with pytest.raises(analyzer.AnalyzerError, match="ChiSquared"):
        analyzer.analyze(Dataset.of(_abalone(10, seed=2)), baseline.statistics, constraints)


def test_metrics_are_the_documented_names_in_the_endpoint_namespace(baseline: analyzer.Baseline) -> None:
    analysis = analyzer.analyze(Dataset.of(_abalone(100, seed=5, scale=1.6)), baseline.statistics, baseline.constraints)
    moment = datetime(2026, 12, 1, 8, tzinfo=UTC)

    metrics = analyzer.cloudwatch_metrics(analysis, endpoint="ep", schedule="sched", timestamp=moment)

    by_name = {m["MetricName"]: m for m in metrics}
    assert analyzer.NAMESPACE == "aws/sagemaker/Endpoints/data-metrics"
    assert by_name["feature_baseline_drift__c1"]["Value"] == analysis.distances["_c1"]
    assert by_name["feature_non_null__c0"]["Value"] == 1.0
    assert set(by_name["feature_data__c1"]["StatisticValues"]) == {"SampleCount", "Sum", "Minimum", "Maximum"}
    assert "feature_data__c0" not in by_name  # a String feature has no data statistics
    assert all(
        m["Dimensions"] == [{"Name": "Endpoint", "Value": "ep"}, {"Name": "MonitoringSchedule", "Value": "sched"}]
        and m["Timestamp"] == moment
        for m in metrics
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (100.0, "100.0"),
        (99.64592817400101, "99.64592817400101"),
        (0.0001, "1.0E-4"),
        (12345678.0, "1.2345678E7"),
        (0.0, "0.0"),
        (0.5, "0.5"),
    ],
)
def test_numbers_in_descriptions_print_as_javas_double_to_string(value: float, text: str) -> None:
    assert analyzer.java_double(value) == text


def test_a_job_reads_its_csv_dataset_with_or_without_header(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("sex,length\nM,0.5\nF,\n")

    with_header = analyzer.read_dataset([tmp_path / "a.csv"], {"csv": {"header": True}})
    without = analyzer.read_dataset([tmp_path / "a.csv"], {"csv": {"header": False}})

    assert with_header.names == ["sex", "length"] and with_header.rows == [["M", "0.5"], ["F", None]]
    assert without.names == ["_c0", "_c1"] and len(without.rows) == 3
    with pytest.raises(analyzer.AnalyzerError, match="only csv"):
        analyzer.read_dataset([tmp_path / "a.csv"], {"json": {"lines": True}})
