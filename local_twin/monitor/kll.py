"""The KLL quantile sketch of the Model Monitor analyzer, ported from Deequ 2.0.2 (the analyzer "is built with Deequ
version 2.0.2", SageMaker developer guide, "Built-in analyzer").

Sources, verbatim in behaviour (awslabs/deequ at tag 2.0.2):

- ``analyzers/QuantileNonSample.scala``: compactor levels, their capacity
  ``2 * (ceil(sketchSize * shrinkingFactor^height / 2) + 1)``, ``update`` / ``condense`` / ``merge``, ranks
  (``getRank`` inclusive, ``getRankExclusive``, ``getRankMap``), an item of level ``i`` weighing ``1 << i``;
- ``analyzers/NonSampleCompactor.scala``: a compaction sorts the buffer's even-length prefix and keeps every second
  item, starting at ``offset``, which flips on every second compaction (the random offset is commented out there: the
  sketch is deterministic), the odd last item staying behind;
- ``analyzers/KLLSketch.scala``: sketch size 2048, shrinking factor 0.64, and the buckets between the global minimum
  and maximum (``start + (end - start) * i / n``; each bucket ``[lo, hi)`` counted with exclusive ranks, the last one
  ``[lo, hi]``);
- ``analyzers/Distance.scala``: ``numericalDistance`` (L-infinity distance of the two rank maps) and
  ``categoricalDistance``, with ``selectMetrics``' robust correction ``max(0, d - 1.8 * sqrt((n + m) / (n * m)))``.

One thing is not knowable from the source: Spark aggregates a column per partition and merges the partial sketches.
Here every column is one partition, merged once into an empty sketch as Spark's final aggregation does [I]; with at
most 2048 values nothing is compacted and the sketch holds the raw values in input order, as the real
``statistics.json`` of the SageMaker SDK's test data shows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

DEFAULT_SKETCH_SIZE = 2048
DEFAULT_SHRINKING_FACTOR = 0.64
ROBUST_FACTOR = 1.8  # Distance.selectMetrics: "based on 'Two-sample Kolmogorov-Smirnov test'"


class _Compactor:
    """NonSampleCompactor: a buffer and the offset that alternates between compactions."""

    def __init__(self) -> None:
        self.buffer: list[float] = []
        self.offset = 0
        self.compressions = 0

    def compact(self) -> list[float]:
        items = len(self.buffer)
        length = items - items % 2
        if self.compressions % 2 == 1:
            self.offset = 1 - self.offset
        ordered = sorted(self.buffer[:length])
        output = ordered[self.offset : length : 2]
        tail = [self.buffer[items - 1]] if items % 2 == 1 else []
        self.buffer = tail
        self.compressions += 1
        return output


class KllSketch:
    """Deequ's ``QuantileNonSample[Double]``."""

    def __init__(self, sketch_size: int = DEFAULT_SKETCH_SIZE, shrinking_factor: float = DEFAULT_SHRINKING_FACTOR):
        self.sketch_size = sketch_size
        self.shrinking_factor = shrinking_factor
        self.compactors: list[_Compactor] = []
        self.actual_size = 0
        self.total_size = 0
        self._expand()

    # --- building ------------------------------------------------------------------------------------------------
    @classmethod
    def of(cls, values: Iterable[float]) -> KllSketch:
        """The sketch Spark's aggregation leaves for one partition of ``values``: updated item by item, then merged
        into an empty sketch (the final aggregation)."""
        partial = cls()
        for value in values:
            partial.update(value)
        return cls().merge(partial)

    @classmethod
    def reconstruct(cls, sketch_size: int, shrinking_factor: float, data: Sequence[Sequence[float]]) -> KllSketch:
        """``QuantileNonSample.reconstruct``: a sketch from the ``sketch.data`` a statistics.json holds."""
        sketch = cls(sketch_size, shrinking_factor)
        sketch.compactors = []
        for level in data:
            compactor = _Compactor()
            compactor.buffer = [float(v) for v in level]
            sketch.compactors.append(compactor)
        if not sketch.compactors:
            sketch.compactors.append(_Compactor())
        sketch.actual_size = sketch._items_count()
        sketch.total_size = sketch._capacity_count()
        return sketch

    def _capacity(self, height: int) -> int:
        return 2 * (math.ceil(self.sketch_size * math.pow(self.shrinking_factor, height) / 2) + 1)

    def _expand(self) -> None:
        self.compactors.append(_Compactor())
        self.total_size = self._capacity_count()

    def _items_count(self) -> int:
        return sum(len(c.buffer) for c in self.compactors)

    def _capacity_count(self) -> int:
        return sum(self._capacity(height) for height in range(len(self.compactors)))

    def update(self, item: float) -> None:
        self.compactors[0].buffer.append(float(item))
        self.actual_size += 1
        if self.actual_size > self.total_size:
            self._condense()

    def _condense(self) -> None:
        for height in range(len(self.compactors)):
            if len(self.compactors[height].buffer) >= self._capacity(height):
                if height + 1 >= len(self.compactors):
                    self._expand()
                self.compactors[height + 1].buffer.extend(self.compactors[height].compact())
                self.actual_size = self._items_count()
                return

    def merge(self, other: KllSketch) -> KllSketch:
        while len(self.compactors) < len(other.compactors):
            self._expand()
        for level, compactor in enumerate(other.compactors):
            self.compactors[level].buffer = self.compactors[level].buffer + compactor.buffer
        self.actual_size = self._items_count()
        while self.actual_size >= self.total_size:
            self._condense()
        return self

    # --- reading -------------------------------------------------------------------------------------------------
    def items(self) -> list[list[float]]:
        """``getCompactorItems``: each level's buffer (statistics.json's ``sketch.data``)."""
        return [list(c.buffer) for c in self.compactors]

    def _output(self) -> list[tuple[float, int]]:
        return [(item, 1 << level) for level, compactor in enumerate(self.compactors) for item in compactor.buffer]

    def rank(self, item: float) -> int:
        """``getRank(item)``: the weight of the items <= ``item``."""
        return sum(weight for value, weight in self._output() if not value > item)

    def rank_exclusive(self, item: float) -> int:
        """``getRankExclusive``: the weight of the items < ``item``."""
        return sum(weight for value, weight in self._output() if value < item)

    def rank_map(self) -> list[tuple[float, int]]:
        """``getRankMap``: every distinct item with the running weight up to and including it, ascending."""
        running = 0
        ranks: dict[float, int] = {}
        for value, weight in sorted(self._output(), key=lambda pair: pair[0]):
            running += weight
            ranks[value] = running
        return sorted(ranks.items())


def buckets(sketch: KllSketch, start: float, end: float, count: int = 10) -> list[dict[str, float]]:
    """``KLLSketch.computeMetricFrom``: ``count`` buckets between the global minimum and maximum."""
    result = []
    for i in range(count):
        low = start + (end - start) * i / float(count)
        high = start + (end - start) * (i + 1) / float(count)
        if i == count - 1:
            weight = sketch.rank(high) - sketch.rank_exclusive(low)
        else:
            weight = sketch.rank_exclusive(high) - sketch.rank_exclusive(low)
        result.append({"lower_bound": low, "upper_bound": high, "count": float(weight)})
    return result


def select_metric(simple: float, n: float, m: float, robust: bool) -> float:
    """``Distance.selectMetrics``: the simple L-infinity distance, or its robust (Kolmogorov-Smirnov) correction."""
    if not robust:
        return simple
    return max(0.0, simple - ROBUST_FACTOR * math.sqrt((n + m) / (n * m)))


def numerical_distance(baseline: KllSketch, current: KllSketch, *, robust: bool) -> float:
    """``Distance.numericalDistance``: the largest difference of the two empirical CDFs over every item of both."""
    first, second = baseline.rank_map(), current.rank_map()
    if not first or not second:
        return 0.0
    n, m = float(first[-1][1]), float(second[-1][1])
    keys = sorted({value for value, _ in first} | {value for value, _ in second})
    simple = 0.0
    i = j = 0
    rank_first = rank_second = 0  # getRank(key, rankMap): the running weight of the largest item <= key
    for key in keys:
        while i < len(first) and first[i][0] <= key:
            rank_first = first[i][1]
            i += 1
        while j < len(second) and second[j][0] <= key:
            rank_second = second[j][1]
            j += 1
        simple = max(simple, abs(rank_first / n - rank_second / m))
    return select_metric(simple, n, m, robust)


def categorical_distance(baseline: dict[str, float], current: dict[str, float], *, robust: bool) -> float:
    """``Distance.categoricalDistance``: the largest difference of the category shares (L-infinity)."""
    n, m = float(sum(baseline.values())), float(sum(current.values()))
    if n == 0 or m == 0:
        return 0.0
    simple = 0.0
    for key in set(baseline) | set(current):
        simple = max(simple, abs(baseline.get(key, 0.0) / n - current.get(key, 0.0) / m))
    return select_metric(simple, n, m, robust)
