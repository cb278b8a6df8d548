"""The harness's arithmetic and output shape: medians, spreads, goals in both directions, results.json, the table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench.core import (
    FigureSpec,
    Measurement,
    Samples,
    figure_from_json,
    format_number,
    markdown_table,
    merge_figures,
    percentile,
    render_table,
    replace_table,
    summarize,
    write_results,
)

AT_MOST_20 = FigureSpec("local_twin.endpoint.end_to_end", "s", 20.0)
AT_LEAST_300 = FigureSpec("endpoint.throughput", "req/s", 300.0, direction="min")
NO_GOAL = FigureSpec("local_twin.endpoint.stage.train", "s")


def test_summary_is_the_median_with_min_and_max() -> None:
    figure = summarize(AT_MOST_20, [30.0, 10.0, 12.0])
    assert (figure.value, figure.min, figure.max, figure.runs) == (12.0, 10.0, 30.0, 3)
    assert figure.meets_goal is True


def test_median_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    assert summarize(NO_GOAL, [1.0, 2.0, 3.0, 10.0]).value == 2.5


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        (AT_MOST_20, 20.0, True),
        (AT_MOST_20, 20.001, False),
        (AT_LEAST_300, 300.0, True),
        (AT_LEAST_300, 299.9, False),
        (NO_GOAL, 1e9, None),
    ],
)
def test_goal_direction(spec: FigureSpec, value: float, expected: bool | None) -> None:
    assert spec.meets(value) is expected


def test_a_goal_with_no_value_is_missed_not_met() -> None:
    figure = summarize(AT_MOST_20, [])
    assert figure.value is None and figure.meets_goal is False and figure.runs == 0


def test_nan_samples_are_dropped() -> None:
    figure = summarize(NO_GOAL, [math.nan, 4.0])
    assert (figure.value, figure.runs) == (4.0, 1)


def test_samples_keep_first_seen_order_and_refuse_two_specs_for_one_name() -> None:
    samples = Samples()
    samples.add([Measurement(NO_GOAL, 2.0), Measurement(AT_MOST_20, 30.0)])
    samples.add([Measurement(AT_MOST_20, 10.0), Measurement(NO_GOAL, 4.0)])
    figures = samples.figures()
    assert [figure.name for figure in figures] == [NO_GOAL.name, AT_MOST_20.name]
    assert figures[1].value == 20.0 and figures[1].runs == 2
    with pytest.raises(ValueError, match="two different specs"):
        samples.add([Measurement(FigureSpec(NO_GOAL.name, "ms"), 1.0)])


def test_a_failed_figure_stays_in_the_results() -> None:
    samples = Samples()
    samples.add_failed(AT_MOST_20)
    (figure,) = samples.figures()
    assert figure.value is None and figure.meets_goal is False


@pytest.mark.parametrize(("fraction", "expected"), [(0.5, 50.0), (0.99, 99.0), (1.0, 100.0), (0.001, 1.0)])
def test_nearest_rank_percentile(fraction: float, expected: float) -> None:
    values = [float(value) for value in range(100, 0, -1)]
    assert percentile(values, fraction) == expected


def test_percentile_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)
    with pytest.raises(ValueError, match="fraction"):
        percentile([1.0], 0)


def test_results_json_has_exactly_the_issue_shape(tmp_path: Path) -> None:
    figures = [summarize(AT_MOST_20, [18.0, 25.0, 19.0]), summarize(NO_GOAL, [3.0])]
    path = write_results(tmp_path / "bench" / "results.json", {"cpu_count": 2}, figures)
    document = json.loads(path.read_text())
    assert set(document) == {"machine", "figures"}
    assert document["machine"] == {"cpu_count": 2}
    keys = {"name", "value", "unit", "goal", "meets_goal", "runs", "min", "max"}
    assert all(set(figure) == keys for figure in document["figures"])
    assert document["figures"][0] == {
        "name": AT_MOST_20.name,
        "value": 19.0,
        "unit": "s",
        "goal": 20.0,
        "meets_goal": True,
        "runs": 3,
        "min": 18.0,
        "max": 25.0,
    }
    assert document["figures"][1]["goal"] is None and document["figures"][1]["meets_goal"] is None


def test_the_table_puts_each_figure_beside_its_goal() -> None:
    samples = Samples()
    samples.add([Measurement(AT_MOST_20, 25.0), Measurement(AT_LEAST_300, 450.0), Measurement(NO_GOAL, 3.0)])
    samples.add_failed(FigureSpec("render.wall", "s", 3.0))
    lines = render_table(samples.figures(), samples.specs).splitlines()
    row = {line.split()[0]: line for line in lines[2:]}
    assert "25 s" in row[AT_MOST_20.name] and "≤ 20 s" in row[AT_MOST_20.name]
    assert row[AT_MOST_20.name].endswith("MISSES")
    assert "≥ 300 req/s" in row[AT_LEAST_300.name] and row[AT_LEAST_300.name].endswith("ok")
    assert row["render.wall"].split()[1] == "FAILED"
    markdown = markdown_table(samples.figures(), samples.specs)
    assert f"| `{AT_MOST_20.name}` | 25 s |" in markdown


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "n/a"), (0, "0"), (16.0, "16"), (0.00123, "0.00123"), (4.5698, "4.57"), (48.17, "48.2"), (491.6, "492")],
)
def test_format_number(value: float | None, text: str) -> None:
    assert format_number(value) == text


def test_the_docs_table_is_replaced_between_its_markers_only() -> None:
    document = "intro\n<!-- bench:table -->\n| old |\n<!-- /bench:table -->\nafter\n"
    assert (
        replace_table(document, "| new |\n") == "intro\n<!-- bench:table -->\n| new |\n<!-- /bench:table -->\nafter\n"
    )
    with pytest.raises(ValueError, match="no <!-- bench:table -->"):
        replace_table("no markers", "| new |")


def test_merging_keeps_unmeasured_figures_and_replaces_remeasured_ones_in_place() -> None:
    old = [summarize(AT_MOST_20, [30.0]), summarize(NO_GOAL, [1.0])]
    new = [summarize(NO_GOAL, [2.0]), summarize(FigureSpec("make_test.wall", "s"), [600.0])]
    merged = merge_figures(old, new)
    assert [(figure.name, figure.value) for figure in merged] == [
        (AT_MOST_20.name, 30.0),
        (NO_GOAL.name, 2.0),
        ("make_test.wall", 600.0),
    ]
    assert figure_from_json(merged[0].to_json()) == merged[0]
