"""Deequ 2.0.2's KLL sketch and distances, as ported: hand-derived compactions, exact ranks, the KS distance."""

from __future__ import annotations

import math
import random

import pytest

from local_twin.monitor import kll


def _empirical_ks(first: list[float], second: list[float]) -> float:
    """The two-sample Kolmogorov-Smirnov statistic, brute force: max |F1(x) - F2(x)| over every observed x."""
    points = sorted(set(first) | set(second))
    return max(abs(sum(v <= x for v in first) / len(first) - sum(v <= x for v in second) / len(second)) for x in points)


def test_up_to_the_sketch_size_the_sketch_holds_the_values_in_input_order() -> None:
    values = [3.0, 1.0, 2.0, 3.0, 0.5]

    sketch = kll.KllSketch.of(values)

    assert sketch.items() == [values]
    assert sketch.rank_map() == [(0.5, 1), (1.0, 2), (2.0, 3), (3.0, 5)]


def test_a_full_compactor_sorts_its_even_prefix_and_promotes_every_second_item_keeping_the_odd_one() -> None:
    # sketch size 4: level 0 holds 2 * (ceil(4 / 2) + 1) = 6 items; the 7th update condenses it (QuantileNonSample):
    # the 6 first items sorted [1, 2, 3, 4, 5, 6], offset 0 -> [1, 3, 5] to level 1, the 7th (9) stays behind.
    sketch = kll.KllSketch(sketch_size=4)
    for value in (5.0, 3.0, 1.0, 6.0, 4.0, 2.0, 9.0):
        sketch.update(value)

    assert sketch.items() == [[9.0], [1.0, 3.0, 5.0]]
    assert sketch.rank_map()[-1] == (9.0, 7)  # level 1 items weigh 2: 1 + 3 * 2
    assert sketch.rank(3.0) == 4 and sketch.rank_exclusive(3.0) == 2


def test_the_second_compaction_of_a_level_starts_at_the_other_offset() -> None:
    compactor = kll._Compactor()
    compactor.buffer = [4.0, 3.0, 2.0, 1.0]
    first = compactor.compact()
    compactor.buffer = [4.0, 3.0, 2.0, 1.0]

    second = compactor.compact()

    assert (first, second) == ([1.0, 3.0], [2.0, 4.0])  # NonSampleCompactor: offset flips every second compaction


def test_a_large_column_keeps_its_total_weight_and_is_deterministic() -> None:
    values = [random.Random(i).random() for i in range(5000)]

    sketch, again = kll.KllSketch.of(values), kll.KllSketch.of(values)

    assert len(sketch.items()) > 1
    assert sketch.rank_map()[-1][1] == len(values)
    assert sketch.items() == again.items()


def test_a_sketch_reconstructed_from_its_items_has_the_same_ranks() -> None:
    sketch = kll.KllSketch.of([random.Random(i).gauss(0, 1) for i in range(3000)])

    rebuilt = kll.KllSketch.reconstruct(2048, 0.64, sketch.items())

    assert rebuilt.rank_map() == sketch.rank_map()


def test_buckets_are_ten_between_min_and_max_computed_multiply_first_the_last_one_closed() -> None:
    values = [1.0, 1.0, 2.0, 3.0]

    buckets = kll.buckets(kll.KllSketch.of(values), 1.0, 3.0, 10)

    assert len(buckets) == 10
    assert buckets[2]["lower_bound"] == 1.0 + (3.0 - 1.0) * 2 / 10.0
    assert [b["count"] for b in buckets] == [2.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]


def test_the_simple_distance_is_the_two_sample_ks_statistic() -> None:
    first = [random.Random(i).uniform(0, 1) for i in range(300)]
    second = [random.Random(1000 + i).uniform(0.2, 1.2) for i in range(200)]

    simple = kll.numerical_distance(kll.KllSketch.of(first), kll.KllSketch.of(second), robust=False)

    assert simple == pytest.approx(_empirical_ks(first, second), abs=1e-12)
    assert simple > 0.15


def test_the_robust_distance_subtracts_the_ks_critical_term_and_is_never_negative() -> None:
    first = [random.Random(i).uniform(0, 1) for i in range(300)]
    second = [random.Random(1000 + i).uniform(0.2, 1.2) for i in range(200)]
    simple = _empirical_ks(first, second)

    robust = kll.numerical_distance(kll.KllSketch.of(first), kll.KllSketch.of(second), robust=True)
    same = kll.numerical_distance(kll.KllSketch.of(first), kll.KllSketch.of(first[:50]), robust=True)

    assert robust == pytest.approx(simple - 1.8 * math.sqrt((300 + 200) / (300 * 200)), abs=1e-12)
    assert same == 0.0


def test_the_categorical_distance_compares_category_shares() -> None:
    baseline = {"M": 50.0, "F": 30.0, "I": 20.0}
    current = {"M": 10.0, "F": 10.0, "X": 20.0}

    simple = kll.categorical_distance(baseline, current, robust=False)
    robust = kll.categorical_distance(baseline, current, robust=True)

    assert simple == pytest.approx(0.5)  # X: 0 vs 0.5
    assert robust == pytest.approx(0.5 - 1.8 * math.sqrt((100 + 40) / (100 * 40)))
