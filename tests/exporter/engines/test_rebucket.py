"""Re-bucketing onto canonical bounds: exact at native bounds, linear between them, `+Inf`
only above the highest native bound, `_sum`/`_count` untouched."""

from __future__ import annotations

import math

import pytest

from inferwatch.exporter.collectors.engines.rebucket import Histogram, rebucket

INF = math.inf


@pytest.mark.parametrize(("native", "count", "canonical", "expected"), [
    # exact where a canonical bound is a native one
    ([(1, 2), (2, 5), (INF, 9)], 9, [1, 2], [2, 5]),
    # linear interpolation between native bounds
    ([(1, 2), (3, 6), (INF, 6)], 6, [2], [4]),
    # the first bucket starts at 0
    ([(4, 8), (INF, 8)], 8, [1, 2], [2, 4]),
    # above the highest finite bound: nothing known, the rest stays in +Inf only
    ([(1, 3), (INF, 10)], 10, [0.5, 5, 100], [1.5, 3, 3]),
    # unsorted input and a bucket falling behind (a scrape race) stay cumulative
    ([(2, 4), (1, 5), (INF, 6)], 6, [1, 2], [5, 5]),
    # a first bound of 0 (SGLang's queue time) is exact
    ([(0, 3), (1, 7), (INF, 7)], 7, [0, 0.5], [3, 5]),
    # only +Inf known: no finite buckets
    ([(INF, 4)], 4, [1, 2], []),
])
def test_rebucket(native, count, canonical, expected) -> None:
    assert rebucket(native, count, canonical) == pytest.approx(expected)


def test_unit_converted_bounds_keep_their_counts() -> None:
    """Triton's ms histogram: bounds ÷1000 before re-bucketing; counts unchanged."""
    native_ms = [(100, 3), (500, 7), (2000, 9), (INF, 10)]
    native_s = [(le / 1000, c) for le, c in native_ms]
    assert rebucket(native_s, 10, [0.1, 0.5, 2]) == pytest.approx([3, 7, 9])


def test_add_histograms_of_two_ranks() -> None:
    a, b = Histogram([1, 2], 3.0, 4), Histogram([2, 3], 1.5, 5)
    a.add(b)
    assert (a.buckets, a.sum, a.count) == ([3, 5], 4.5, 9)
    a.add(Histogram([], 1.0, 1))
    assert (a.buckets, a.sum, a.count) == ([], 5.5, 10)
