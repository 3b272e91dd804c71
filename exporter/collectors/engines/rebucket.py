"""Re-bucket a cumulative histogram onto the catalogue's canonical upper bounds.

The cumulative count at a canonical bound that is not a native one is interpolated linearly
between the native bounds around it (the assumption Prometheus' `histogram_quantile` makes; the
first native bucket starts at 0). Above the highest finite native bound nothing is known, so
those observations stay in `+Inf` only (quantiles there read high, never low). `_sum` and
`_count` are carried over exactly; `+Inf` always equals `_count`.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Histogram:
    """Canonical cumulative bucket counts (finite bounds only), sum and count."""

    buckets: list[float]
    sum: float
    count: float

    def add(self, other: Histogram) -> None:
        """Add another on the same bounds (a second rank or worker); one with only `+Inf`
        known makes the total only `+Inf` too."""
        if self.buckets and other.buckets:
            self.buckets = [a + b for a, b in zip(self.buckets, other.buckets, strict=True)]
        else:
            self.buckets = []
        self.sum += other.sum
        self.count += other.count


def rebucket(native: Sequence[tuple[float, float]], count: float,
             canonical: Sequence[float]) -> list[float]:
    """Cumulative counts at each canonical bound, from native (upper bound, cumulative count).

    `native` may include `+Inf` and need not be sorted. An empty or all-`+Inf` native layout
    gives `[]`: only `+Inf` (= count) is known.
    """
    points = sorted([p for p in native if not math.isinf(p[0])])
    if not points:
        return []
    bounds, counts = ([0.0], [0.0]) if points[0][0] > 0 else ([], [])
    running = 0.0
    for le, c in points:  # cumulative: never falls, never above count
        if c > running:
            running = c
        if count < running:
            running = count
        bounds.append(le)
        counts.append(running)
    out, last = [], len(bounds)
    for b in canonical:  # the cumulative count at b, interpolated between native bounds
        i = bisect_left(bounds, b)
        if i >= last:
            out.append(counts[-1])
        elif bounds[i] == b:
            out.append(counts[i])
        elif i == 0:
            out.append(0.0)
        else:
            lo, hi = bounds[i - 1], bounds[i]
            out.append(counts[i - 1] + (counts[i] - counts[i - 1]) * (b - lo) / (hi - lo))
    return out
