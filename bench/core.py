"""The harness logic: figure specifications, repeated samples → median / min / max, goals, results.json, the table.

Everything here is pure (no processes, no clocks), so it is unit-tested; the measurement modules produce samples.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Direction = Literal["max", "min"]  # "max": the value must be at most the goal; "min": at least the goal


@dataclass(frozen=True)
class FigureSpec:
    """What a figure is: its name, unit and (optional) goal, and which side of the goal is good."""

    name: str
    unit: str
    goal: float | None = None
    direction: Direction = "max"
    description: str = ""

    def meets(self, value: float | None) -> bool | None:
        """``None`` when there is no goal; ``False`` when there is a goal but no value (the measurement failed)."""
        if self.goal is None:
            return None
        if value is None or math.isnan(value):
            return False
        return value <= self.goal if self.direction == "max" else value >= self.goal

    def goal_text(self) -> str:
        if self.goal is None:
            return "-"
        return f"{'≤' if self.direction == 'max' else '≥'} {format_number(self.goal)} {self.unit}"


@dataclass(frozen=True)
class Figure:
    """One row of results.json: the median of the runs, with their spread, beside the goal."""

    name: str
    value: float | None
    unit: str
    goal: float | None
    meets_goal: bool | None
    runs: int
    min: float | None
    max: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "goal": self.goal,
            "meets_goal": self.meets_goal,
            "runs": self.runs,
            "min": self.min,
            "max": self.max,
        }


def summarize(spec: FigureSpec, samples: Sequence[float]) -> Figure:
    """The median of the samples (the middle run resists one disturbed run better than a mean) and their range."""
    clean = [float(sample) for sample in samples if not math.isnan(float(sample))]
    if not clean:
        return Figure(spec.name, None, spec.unit, spec.goal, spec.meets(None), 0, None, None)
    value = round(statistics.median(clean), 6)
    return Figure(
        name=spec.name,
        value=value,
        unit=spec.unit,
        goal=spec.goal,
        meets_goal=spec.meets(value),
        runs=len(clean),
        min=round(min(clean), 6),
        max=round(max(clean), 6),
    )


@dataclass(frozen=True)
class Measurement:
    """One value of one run, with the spec it belongs to."""

    spec: FigureSpec
    value: float


@dataclass
class Samples:
    """Samples collected per figure, in the order the figures were first measured."""

    specs: dict[str, FigureSpec] = field(default_factory=dict)
    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, measurements: Iterable[Measurement]) -> None:
        for measurement in measurements:
            name = measurement.spec.name
            known = self.specs.setdefault(name, measurement.spec)
            if known != measurement.spec:
                raise ValueError(f"figure {name} was measured with two different specs: {known} and {measurement.spec}")
            self.values.setdefault(name, []).append(float(measurement.value))

    def add_failed(self, spec: FigureSpec) -> None:
        """A figure whose measurement failed: it stays in the table (as FAILED) instead of silently vanishing."""
        self.specs.setdefault(spec.name, spec)
        self.values.setdefault(spec.name, [])

    def figures(self) -> list[Figure]:
        return [summarize(self.specs[name], values) for name, values in self.values.items()]


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (p99 of 1,000 values is the 990th smallest): no interpolation between requests."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    ordered = sorted(values)
    rank = math.ceil(fraction * len(ordered))
    return ordered[rank - 1]


def results_document(machine: Mapping[str, Any], figures: Iterable[Figure]) -> dict[str, Any]:
    """The shape of build/bench/results.json."""
    return {"machine": dict(machine), "figures": [figure.to_json() for figure in figures]}


def figure_from_json(data: Mapping[str, Any]) -> Figure:
    return Figure(
        name=str(data["name"]),
        value=data["value"],
        unit=str(data["unit"]),
        goal=data["goal"],
        meets_goal=data["meets_goal"],
        runs=int(data["runs"]),
        min=data["min"],
        max=data["max"],
    )


def merge_figures(previous: Sequence[Figure], new: Sequence[Figure]) -> list[Figure]:
    """The previous figures with those measured again replaced in place; new names are appended."""
    fresh = {figure.name: figure for figure in new}
    merged = [fresh.pop(figure.name, figure) for figure in previous]
    return merged + [figure for figure in new if figure.name in fresh]


def write_results(path: Path, machine: Mapping[str, Any], figures: Iterable[Figure]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results_document(machine, figures), indent=2) + "\n")
    return path


def format_number(value: float | None) -> str:
    """Three significant figures, no exponent for the ranges these figures take."""
    if value is None:
        return "n/a"
    if float(value).is_integer() and abs(value) < 1e6:
        return str(int(value))  # counts (transitions, connection attempts) and round goals
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def verdict(figure: Figure) -> str:
    if figure.meets_goal is None:
        return ""
    return "ok" if figure.meets_goal else "MISSES"


def table_rows(figures: Sequence[Figure], specs: Mapping[str, FigureSpec]) -> list[tuple[str, str, str, str, str]]:
    """(figure, median, spread, goal, verdict) as text, for the table on stdout."""
    rows = []
    for figure in figures:
        spec = specs[figure.name]
        value = f"{format_number(figure.value)} {figure.unit}" if figure.value is not None else "FAILED"
        spread = (
            f"{format_number(figure.min)}–{format_number(figure.max)} (n={figure.runs})"
            if figure.runs > 1
            else f"(n={figure.runs})"
        )
        rows.append((figure.name, value, spread, spec.goal_text(), verdict(figure)))
    return rows


def render_table(figures: Sequence[Figure], specs: Mapping[str, FigureSpec]) -> str:
    """A plain-text table (readable in a CI log and pasteable into Markdown as a code block)."""
    header = ("figure", "median", "min–max (runs)", "goal", "")
    rows = [header, *table_rows(figures, specs)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths).rstrip())
    return "\n".join(lines)


def markdown_table(figures: Sequence[Figure], specs: Mapping[str, FigureSpec]) -> str:
    """The same rows as a Markdown table (for docs/performance.md)."""
    lines = ["| Figure | Median | Min–max (runs) | Goal | |", "| --- | ---: | ---: | --- | --- |"]
    for name, value, spread, goal, mark in table_rows(figures, specs):
        lines.append(f"| `{name}` | {value} | {spread} | {goal} | {mark} |")
    return "\n".join(lines)


TABLE_START = "<!-- bench:table -->"
TABLE_END = "<!-- /bench:table -->"


def replace_table(document: str, table: str) -> str:
    """``document`` with the text between the bench table markers replaced by ``table`` (markers kept)."""
    start, end = document.find(TABLE_START), document.find(TABLE_END)
    if start < 0 or end < start:
        raise ValueError(f"the document has no {TABLE_START} ... {TABLE_END} block to replace")
    return document[: start + len(TABLE_START)] + "\n" + table.strip("\n") + "\n" + document[end:]
