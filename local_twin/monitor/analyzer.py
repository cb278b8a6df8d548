"""The local stand-in for SageMaker's ``sagemaker-model-monitor-analyzer`` image (data quality).

The image is a Spark 3.3 / Deequ 2.0.2 application that only SageMaker Processing runs (it needs its container, its
JVM and the service's job contract), so it cannot run here. This module computes what it writes, in its documented
formats, deterministically and with the standard library only:

- a **baseline** (``suggest_baseline``): ``statistics.json`` and ``constraints.json`` of a dataset (SageMaker developer
  guide, "Schema for Statistics (statistics.json file)" and "Schema for Constraints (constraints.json file)");
- a **monitoring analysis** (``analyze``): the current data's ``statistics.json``, ``constraint_violations.json``
  ("Schema for Violations") with the documented check types, each feature's drift distance, and the CloudWatch
  metrics the image publishes ("CloudWatch Metrics").

What follows AWS exactly, per the sources listed in docs/monitoring.md ("Sources"):

- statistics.json: ``version`` 0.0; ``dataset.item_count``; per feature ``name`` (``_c0``, ``_c1``... for a CSV
  without header, as the analyzer names them), ``inferred_type``, ``numerical_statistics`` (``common.num_present`` /
  ``num_missing``, ``mean``, ``sum``, ``std_dev`` -- the population standard deviation, computed incrementally as
  Spark's ``stddev_pop`` does, ``min``, ``max``,
  ``distribution.kll`` with 10 buckets and the sketch with ``parameters`` ``{"c": 0.64, "k": 2048.0}``) or
  ``string_statistics`` (``distinct_count`` as a double, ``distribution.categorical.buckets``). Buckets, sketch and
  distances are Deequ's own algorithms (:mod:`local_twin.monitor.kll`). Counts of buckets are doubles, as the real
  file has them.
- type inference: Deequ 2.0.2's ``StatefulDataType`` patterns (fractional ``^(-|\\+)? ?\\d+((\\.\\d+)|((?:\\.\\d+)?
  [Ee][-+]?\\d+))$``, integral ``^(-|\\+)? ?\\d+$``, boolean ``^(true|false)$``, an empty CSV field is null) and
  ``DataTypeHistogram.determineType`` (any string → String; a fractional → Fractional; else Integral; all null →
  Unknown).
- constraints.json as the real container emits it (the SageMaker SDK's test data): ``completeness`` 1.0 for a column
  without nulls, ``num_constraints.is_non_negative`` for numbers (Deequ's ``NonNegativeNumbersRule``: minimum >= 0),
  and ``monitoring_config`` with ``evaluate_constraints`` / ``emit_metrics`` Enabled, ``datatype_check_threshold``
  and ``domain_content_threshold`` 1.0, ``distribution_constraints`` ``perform_comparison`` Enabled,
  ``comparison_threshold`` 0.1, ``comparison_method`` ``Robust``.
- the drift distance: the L-infinity distance of the two CDFs (numbers: KLL rank maps; strings: category shares),
  ``Robust`` subtracting ``1.8 * sqrt((n + m) / (n * m))`` (Kolmogorov-Smirnov), ``Simple`` not; a
  ``baseline_drift_check`` violation when it is above ``comparison_threshold`` (strings:
  ``categorical_comparison_threshold``, defaulting to ``comparison_threshold``).
- the ``data_type_check`` description, verbatim in the format of a real execution's violations ("Data type match
  requirement is not met. Expected data type: Integral, Expected match: 100.0%. Observed: Only 99.64592817400101% of
  data is Integral."), numbers printed as Java's ``Double.toString`` does.
- metrics: namespace ``aws/sagemaker/Endpoints/data-metrics`` with dimensions ``Endpoint`` and
  ``MonitoringSchedule`` (what AWS's own samples alarm on), ``feature_baseline_drift_<feature>``,
  ``feature_non_null_<feature>`` and, for numbers, ``feature_data_<feature>`` as statistic values.

Inferred [I] or unknown [U], and chosen here:

- [I] completeness below 1.0 is suggested as Deequ's ``RetainCompletenessRule`` bound (``p - 1.96 * sqrt(p(1-p)/n)``
  rounded down to 2 decimals) when above 0.2; the observed value otherwise.
- [I] ``string_constraints.domains``: Deequ's ``CategoricalRangeRule`` (at most 120 distinct values, at most 10 % of
  them seen once), most frequent first; ties by value [U].
- [U] the order of categorical buckets in statistics.json: most frequent first, ties by value.
- [I] a value whose type differs from the baseline's is a type mismatch, except an Integral value of a Fractional
  feature; a ``data_type_check`` violation when the matching share is below ``datatype_check_threshold``.
- [I] ``completeness_check``: observed completeness below the baseline constraint's; ``categorical_values_check``:
  the share of values in the baseline domain below ``domain_content_threshold``. Their descriptions use Deequ's
  message ``Value: <x> does not meet the constraint requirement! `` (the older analyzer's wording in the SageMaker
  SDK's test data; the current wording is not published).
- [V, partial] ``Numerical distance: <d> exceeds numerical threshold: <t>`` (AWS's sample code parses
  ``distance: (.+) exceeds``); [I] ``Categorical distance: <d> exceeds categorical threshold: <t>``.
- [U] ``missing_column_check`` / ``extra_column_check`` wording (one violation per missing or extra column).
- [U] ``monitoringConfigOverrides`` per feature and the ``ChiSquared`` categorical method are not implemented: a
  constraints file asking for ChiSquared is refused (:class:`AnalyzerError`).
- [I] metric values: drift = the distance, non-null = completeness, data = the current values' count, sum, minimum
  and maximum. The docs only name the statistic to query.
- The files are written as compact-indented JSON, not in Jackson's ``"key" : value`` style; the content is the same.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from local_twin.monitor import kll
from local_twin.monitor.capture import csv_rows

NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
BUCKET_COUNT = 10  # "By default, we materialize the distribution in 10 buckets. This is not currently configurable."
CARDINALITY_THRESHOLD = 120  # Deequ ColumnProfiler.DEFAULT_CARDINALITY_THRESHOLD
UNIQUE_VALUE_RATIO = 0.1  # Deequ CategoricalRangeRule.shouldBeApplied
_FRACTIONAL = re.compile(r"^(-|\+)? ?\d+((\.\d+)|((?:\.\d+)?[Ee][-+]?\d+))$")
_INTEGRAL = re.compile(r"^(-|\+)? ?\d+$")
_BOOLEAN = re.compile(r"^(true|false)$")
NUMERIC_TYPES = ("Integral", "Fractional")

DEFAULT_MONITORING_CONFIG: dict[str, Any] = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 1.0,
    "domain_content_threshold": 1.0,
    "distribution_constraints": {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
    },
}


class AnalyzerError(ValueError):
    """The analyzer cannot run on this input (a processing job would fail with this message)."""


# --- datasets --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Dataset:
    """Rows of nullable strings, every row as wide as the widest (a short row is padded with nulls)."""

    names: list[str]
    rows: list[list[str | None]]

    @classmethod
    def of(cls, rows: Sequence[Sequence[str | None]], names: Sequence[str] | None = None) -> Dataset:
        width = max([len(names or [])] + [len(row) for row in rows])
        padded = [[*row, *([None] * (width - len(row)))] for row in rows]
        given = list(names or [])
        return cls([*given, *(f"_c{i}" for i in range(len(given), width))], padded)

    def column(self, index: int) -> list[str | None]:
        return [row[index] for row in self.rows]


def read_csv(text: str, *, header: bool) -> Dataset:
    rows = csv_rows(text)
    if header and rows:
        return Dataset.of(rows[1:], [name or f"_c{i}" for i, name in enumerate(rows[0])])
    return Dataset.of(rows)


def read_dataset(files: Sequence[Path], dataset_format: Mapping[str, Any]) -> Dataset:
    """The job's ``dataset_source`` files in its ``dataset_format`` (only ``csv`` locally)."""
    if "csv" not in dataset_format:
        raise AnalyzerError(f"dataset_format {json.dumps(dataset_format)}: only csv datasets are analyzed locally")
    header = bool((dataset_format.get("csv") or {}).get("header", True))
    if not files:
        raise AnalyzerError("the dataset_source has no files")
    rows: list[list[str | None]] = []
    names: list[str] | None = None
    for path in files:
        part = read_csv(path.read_text(encoding="utf-8"), header=header)
        if header and names is None:
            names = part.names
        rows.extend(part.rows)
    return Dataset.of(rows, names if header else None)


# --- types -----------------------------------------------------------------------------------------------------------
def value_type(value: str | None) -> str:
    """The type of one value as Deequ's StatefulDataType counts it."""
    if value is None:
        return "Unknown"
    if _FRACTIONAL.match(value):
        return "Fractional"
    if _INTEGRAL.match(value):
        return "Integral"
    if _BOOLEAN.match(value):
        return "Boolean"
    return "String"


def infer_type(values: Sequence[str | None]) -> str:
    """``DataTypeHistogram.determineType``; Boolean, which the analyzer's schema does not list, is a String [I]."""
    counts = Counter(value_type(v) for v in values)
    if counts["Unknown"] == len(values):
        return "Unknown"
    if counts["String"] or counts["Boolean"]:  # Deequ: String, or Boolean (alone) / String (mixed with numbers)
        return "String"
    return "Fractional" if counts["Fractional"] else "Integral"


def _number(value: str) -> float:
    return float(value.replace(" ", ""))


def java_double(value: float) -> str:
    """``Double.toString``: decimal between 1e-3 and 1e7, else ``1.0E-4`` style."""
    if value == 0:
        return "0.0"
    if math.isnan(value) or math.isinf(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e7:
        text = repr(float(value))
        return text if ("." in text or "e" in text) else f"{text}.0"
    sign, digits, exponent = Decimal(repr(float(value))).as_tuple()
    assert isinstance(exponent, int)
    mantissa = "".join(str(d) for d in digits).rstrip("0") or "0"
    power = exponent + len(digits) - 1
    return f"{'-' if sign else ''}{mantissa[0]}.{mantissa[1:] or '0'}E{power}"


# --- statistics ------------------------------------------------------------------------------------------------------
def _numerical_statistics(values: list[str | None]) -> dict[str, Any]:
    present = [_number(v) for v in values if v is not None and value_type(v) in NUMERIC_TYPES]
    missing = len(values) - len(present)
    stats: dict[str, Any] = {"common": {"num_present": len(present), "num_missing": missing}}
    if not present:
        return stats
    total = 0.0
    for x in present:
        total += x
    mean = total / len(present)  # Deequ's Mean: sum / count
    count, running_mean, m2 = 0, 0.0, 0.0
    for x in present:  # Spark's stddev_pop (CentralMomentAgg), as Deequ's StandardDeviation computes it
        count += 1
        delta = x - running_mean
        delta_n = delta / count
        running_mean += delta_n
        m2 += delta * (delta - delta_n)
    variance = m2 / count
    low, high = min(present), max(present)
    sketch = kll.KllSketch.of(present)
    stats.update(
        {
            "mean": mean,
            "sum": total,
            "std_dev": math.sqrt(variance),
            "min": low,
            "max": high,
            "distribution": {
                "kll": {
                    "buckets": kll.buckets(sketch, low, high, BUCKET_COUNT),
                    "sketch": {
                        "parameters": {"c": sketch.shrinking_factor, "k": float(sketch.sketch_size)},
                        "data": sketch.items(),
                    },
                }
            },
        }
    )
    return stats


def _string_statistics(values: list[str | None]) -> dict[str, Any]:
    present = [v for v in values if v is not None]
    counts = Counter(present)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return {
        "common": {"num_present": len(present), "num_missing": len(values) - len(present)},
        "distinct_count": float(len(counts)),
        "distribution": {"categorical": {"buckets": [{"value": v, "count": c} for v, c in ordered]}},
    }


def feature_statistics(name: str, values: list[str | None]) -> dict[str, Any]:
    kind = infer_type(values)
    feature: dict[str, Any] = {"name": name, "inferred_type": kind}
    if kind in NUMERIC_TYPES:
        feature["numerical_statistics"] = _numerical_statistics(values)
    elif kind == "String":
        feature["string_statistics"] = _string_statistics(values)
    else:  # Unknown: every value is null
        feature["string_statistics"] = {"common": {"num_present": 0, "num_missing": len(values)}}
    return feature


def statistics(dataset: Dataset) -> dict[str, Any]:
    """statistics.json of a dataset."""
    return {
        "version": 0.0,
        "dataset": {"item_count": len(dataset.rows)},
        "features": [feature_statistics(name, dataset.column(i)) for i, name in enumerate(dataset.names)],
    }


def _common(feature: Mapping[str, Any]) -> Mapping[str, Any]:
    block = feature.get("numerical_statistics") or feature.get("string_statistics") or {}
    common: Mapping[str, Any] = block.get("common", {})
    return common


def _completeness(feature: Mapping[str, Any]) -> float:
    common = _common(feature)
    total = int(common.get("num_present", 0)) + int(common.get("num_missing", 0))
    return float(common.get("num_present", 0)) / total if total else 0.0


# --- constraints -----------------------------------------------------------------------------------------------------
def _suggested_completeness(observed: float, rows: int) -> float:
    if observed >= 1.0:
        return 1.0
    if 0.2 < observed < 1.0 and rows:
        bound = observed - 1.96 * math.sqrt(observed * (1 - observed) / rows)
        return math.floor(bound * 100) / 100  # BigDecimal.setScale(2, RoundingMode.DOWN) for a positive bound
    return observed


def _domains(feature: Mapping[str, Any]) -> list[str] | None:
    buckets = feature.get("string_statistics", {}).get("distribution", {}).get("categorical", {}).get("buckets", [])
    if not buckets or len(buckets) > CARDINALITY_THRESHOLD:
        return None
    once = sum(1 for bucket in buckets if int(bucket["count"]) == 1)
    if once / len(buckets) > UNIQUE_VALUE_RATIO:
        return None
    ordered = sorted(buckets, key=lambda bucket: (-int(bucket["count"]), str(bucket["value"])))
    return [str(bucket["value"]) for bucket in ordered]


def suggest_constraints(stats: Mapping[str, Any]) -> dict[str, Any]:
    """constraints.json suggested from statistics.json, as the baseline job writes it."""
    rows = int(stats.get("dataset", {}).get("item_count", 0))
    features = []
    for feature in stats.get("features", []):
        constraint: dict[str, Any] = {
            "name": feature["name"],
            "inferred_type": feature["inferred_type"],
            "completeness": _suggested_completeness(_completeness(feature), rows),
        }
        numbers = feature.get("numerical_statistics")
        if numbers is not None and "min" in numbers:
            constraint["num_constraints"] = {"is_non_negative": bool(numbers["min"] >= 0.0)}
        if feature["inferred_type"] == "String":
            domains = _domains(feature)
            if domains is not None:
                constraint["string_constraints"] = {"domains": domains}
        features.append(constraint)
    config = json.loads(json.dumps(DEFAULT_MONITORING_CONFIG))
    return {"version": 0.0, "features": features, "monitoring_config": config}


@dataclass(frozen=True)
class Baseline:
    statistics: dict[str, Any]
    constraints: dict[str, Any]


def suggest_baseline(dataset: Dataset) -> Baseline:
    """What a baseline job (``suggest_baseline``) writes: statistics.json and constraints.json."""
    if not dataset.rows:
        raise AnalyzerError("the baseline dataset has no rows")
    stats = statistics(dataset)
    return Baseline(stats, suggest_constraints(stats))


# --- monitoring ------------------------------------------------------------------------------------------------------
@dataclass
class Analysis:
    """What one monitoring execution of the analyzer produces."""

    statistics: dict[str, Any]
    violations: list[dict[str, str]]
    distances: dict[str, float] = field(default_factory=dict)
    emit_metrics: bool = True

    @property
    def constraint_violations(self) -> dict[str, Any]:
        """constraint_violations.json."""
        return {"violations": self.violations}


NOT_MET = "does not meet the constraint requirement! "  # Deequ's constraint message, trailing space included


def _violation(feature: str, check: str, description: str) -> dict[str, str]:
    return {"feature_name": feature, "constraint_check_type": check, "description": description}


def _enabled(value: Any, default: str = "Enabled") -> bool:
    return str(value if value is not None else default) == "Enabled"


def _baseline_sketch(feature: Mapping[str, Any]) -> kll.KllSketch | None:
    sketch = feature.get("numerical_statistics", {}).get("distribution", {}).get("kll", {}).get("sketch")
    if not sketch:
        return None
    parameters = sketch.get("parameters", {})
    return kll.KllSketch.reconstruct(
        int(parameters.get("k", kll.DEFAULT_SKETCH_SIZE)),
        float(parameters.get("c", kll.DEFAULT_SHRINKING_FACTOR)),
        sketch.get("data", []),
    )


def _categories(feature: Mapping[str, Any]) -> dict[str, float]:
    buckets = feature.get("string_statistics", {}).get("distribution", {}).get("categorical", {}).get("buckets", [])
    return {str(bucket["value"]): float(bucket["count"]) for bucket in buckets}


def _type_matches(expected: str, values: list[str | None]) -> float:
    present = [v for v in values if v is not None]
    if not present:
        return 1.0
    allowed = {"Fractional", "Integral"} if expected == "Fractional" else {expected}
    if expected == "String":
        return 1.0  # anything reads as a string
    return sum(1 for v in present if value_type(v) in allowed) / len(present)


@dataclass(frozen=True)
class _Config:
    """A constraints file's ``monitoring_config``, defaults filled in."""

    evaluate: bool
    emit_metrics: bool
    datatype_threshold: float
    domain_threshold: float
    compare: bool
    robust: bool
    threshold: float
    categorical_threshold: float

    @classmethod
    def of(cls, constraints: Mapping[str, Any]) -> _Config:
        config = {**DEFAULT_MONITORING_CONFIG, **(constraints.get("monitoring_config") or {})}
        distribution = {**DEFAULT_MONITORING_CONFIG["distribution_constraints"], **config["distribution_constraints"]}
        method = distribution.get("categorical_drift_method", "LInfinity")
        if method != "LInfinity":
            raise AnalyzerError(f"categorical_drift_method {method!r} is not analyzed locally (only LInfinity)")
        threshold = float(distribution.get("comparison_threshold", 0.1))
        return cls(
            evaluate=_enabled(config.get("evaluate_constraints")),
            emit_metrics=_enabled(config.get("emit_metrics")),
            datatype_threshold=float(config.get("datatype_check_threshold", 1.0)),
            domain_threshold=float(config.get("domain_content_threshold", 1.0)),
            compare=_enabled(distribution.get("perform_comparison")),
            robust=str(distribution.get("comparison_method", "Robust")) == "Robust",
            threshold=threshold,
            categorical_threshold=float(distribution.get("categorical_comparison_threshold", threshold)),
        )


def _column_count_checks(current: int, expected: list[str], names: list[str]) -> list[dict[str, str]]:
    counts = (
        f"Number of columns in current dataset: {current}, Number of columns in baseline constraints: {len(expected)}"
    )
    if current < len(expected):
        return [
            _violation(name, "missing_column_check", f"There are missing columns in current dataset. {counts}")
            for name in expected[current:]
        ]
    if expected and current > len(expected):
        return [
            _violation(name, "extra_column_check", f"There are extra columns in current dataset. {counts}")
            for name in names[len(expected) :]
        ]
    return []


def _constraint_checks(
    name: str,
    values: list[str | None],
    feature: Mapping[str, Any],
    constraint: Mapping[str, Any],
    baseline_type: str,
    config: _Config,
) -> list[dict[str, str]]:
    """data_type_check, completeness_check and categorical_values_check of one feature."""
    found = []
    if baseline_type in ("Integral", "Fractional", "String"):
        matching = _type_matches(baseline_type, values)
        if matching < config.datatype_threshold:
            found.append(
                _violation(
                    name,
                    "data_type_check",
                    f"Data type match requirement is not met. Expected data type: {baseline_type}, Expected match: "
                    f"{java_double(config.datatype_threshold * 100)}%. Observed: Only {java_double(matching * 100)}% "
                    f"of data is {baseline_type}.",
                )
            )
    observed = _completeness(feature)
    if "completeness" in constraint and observed < float(constraint["completeness"]):
        found.append(_violation(name, "completeness_check", f"Value: {java_double(observed)} {NOT_MET}"))
    domains = set((constraint.get("string_constraints") or {}).get("domains") or [])
    present = [v for v in values if v is not None]
    if domains and present:
        inside = sum(1 for v in present if v in domains) / len(present)
        if inside < config.domain_threshold:
            found.append(_violation(name, "categorical_values_check", f"Value: {java_double(inside)} {NOT_MET}"))
    return found


def _drift(
    name: str, present: list[str], base: Mapping[str, Any], config: _Config
) -> tuple[float | None, dict[str, str] | None]:
    """The feature's distance to its baseline distribution, and the baseline_drift_check violation it makes."""
    if base.get("inferred_type") in NUMERIC_TYPES:
        baseline_sketch = _baseline_sketch(base)
        numbers = [_number(v) for v in present if value_type(v) in NUMERIC_TYPES]
        if baseline_sketch is None or not numbers:
            return None, None
        distance = kll.numerical_distance(baseline_sketch, kll.KllSketch.of(numbers), robust=config.robust)
        if distance > config.threshold:
            text = f"Numerical distance: {java_double(distance)} exceeds numerical threshold: "
            return distance, _violation(name, "baseline_drift_check", text + java_double(config.threshold))
        return distance, None
    if base.get("inferred_type") == "String":
        current = {k: float(v) for k, v in Counter(present).items()}
        distance = kll.categorical_distance(_categories(base), current, robust=config.robust)
        if distance > config.categorical_threshold:
            text = f"Categorical distance: {java_double(distance)} exceeds categorical threshold: "
            return distance, _violation(name, "baseline_drift_check", text + java_double(config.categorical_threshold))
        return distance, None
    return None, None


def analyze(
    dataset: Dataset,
    baseline_statistics: Mapping[str, Any] | None,
    baseline_constraints: Mapping[str, Any] | None,
) -> Analysis:
    """A monitoring execution's analysis of ``dataset`` (columns mapped to the baseline's features by position)."""
    constraints = baseline_constraints or {"features": [], "monitoring_config": DEFAULT_MONITORING_CONFIG}
    config = _Config.of(constraints)
    baseline_features = {f["name"]: f for f in (baseline_statistics or {}).get("features", [])}
    expected = [c["name"] for c in constraints.get("features", [])] or list(baseline_features)
    names = [*expected, *(f"_c{i}" for i in range(len(expected), len(dataset.names)))][: len(dataset.names)]
    current = Dataset(names, dataset.rows)
    stats = statistics(current)
    by_name = {f["name"]: f for f in stats["features"]}
    constraint_by_name = {c["name"]: c for c in constraints.get("features", [])}
    violations = _column_count_checks(len(dataset.names), expected, names) if config.evaluate else []
    distances: dict[str, float] = {}
    for index, name in enumerate(names[: len(expected)]):
        values = current.column(index)
        constraint = constraint_by_name.get(name, {})
        baseline_type = str(constraint.get("inferred_type") or baseline_features.get(name, {}).get("inferred_type"))
        if config.evaluate:
            violations.extend(_constraint_checks(name, values, by_name[name], constraint, baseline_type, config))
        present = [v for v in values if v is not None]
        base = baseline_features.get(name)
        if not config.compare or base is None or not present:
            continue
        distance, violation = _drift(name, present, base, config)
        if distance is not None:
            distances[name] = distance
        if violation is not None and config.evaluate:
            violations.append(violation)
    return Analysis(stats, violations, distances, emit_metrics=config.emit_metrics)


def cloudwatch_metrics(
    analysis: Analysis, *, endpoint: str, schedule: str, timestamp: datetime
) -> list[dict[str, Any]]:
    """The PutMetricData data the analyzer publishes for an endpoint's monitoring execution."""
    dimensions = [{"Name": "Endpoint", "Value": endpoint}, {"Name": "MonitoringSchedule", "Value": schedule}]
    data: list[dict[str, Any]] = []
    for feature in analysis.statistics["features"]:
        name = feature["name"]
        if name in analysis.distances:
            data.append(
                {
                    "MetricName": f"feature_baseline_drift_{name}",
                    "Dimensions": dimensions,
                    "Timestamp": timestamp,
                    "Value": analysis.distances[name],
                }
            )
        data.append(
            {
                "MetricName": f"feature_non_null_{name}",
                "Dimensions": dimensions,
                "Timestamp": timestamp,
                "Value": _completeness(feature),
            }
        )
        numbers = feature.get("numerical_statistics", {})
        if "sum" in numbers:
            data.append(
                {
                    "MetricName": f"feature_data_{name}",
                    "Dimensions": dimensions,
                    "Timestamp": timestamp,
                    "StatisticValues": {
                        "SampleCount": float(numbers["common"]["num_present"]),
                        "Sum": float(numbers["sum"]),
                        "Minimum": float(numbers["min"]),
                        "Maximum": float(numbers["max"]),
                    },
                }
            )
    return data


# --- the container contract (processing job environment) ------------------------------------------------------------
def write_json(path: Path, document: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def dataset_format(environment: Mapping[str, str]) -> dict[str, Any]:
    raw = environment.get("dataset_format")
    if not raw:
        raise AnalyzerError("the job environment has no dataset_format")
    try:
        parsed = json.loads(raw)
    except ValueError as error:
        raise AnalyzerError(f"dataset_format is not JSON: {error}") from error
    if not isinstance(parsed, dict):
        raise AnalyzerError("dataset_format is not a JSON object")
    return parsed


def dataset_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
