"""Accumulators the load model feeds: native-bucket histograms and counters."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

INF = float("inf")


@dataclass(frozen=True)
class Layout:
    """One native histogram: the load-model concept it observes, its bounds, a unit scale."""

    concept: str
    bounds: tuple[float, ...]
    scale: float = 1.0


class Histogram:
    """Counts per native bucket (non-cumulative), a sum and a count, in the layout's unit."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float, n: int = 1) -> None:
        """Add `n` observations of `value` (a bucket's bound is inclusive, as `le` says)."""
        self.counts[bisect.bisect_left(self.bounds, value)] += n
        self.sum += value * n
        self.count += n

    def cumulative(self) -> list[int]:
        """Cumulative counts, one per bound and a last one for +Inf."""
        out, acc = [], 0
        for c in self.counts:
            acc += c
            out.append(acc)
        return out


@dataclass
class Stats:
    """Everything one engine rank has accumulated since start."""

    layouts: Mapping[str, Layout]
    hists: dict[str, Histogram] = field(init=False)
    counters: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.hists = {name: Histogram(lay.bounds) for name, lay in self.layouts.items()}
        self._by_concept: dict[str, list[tuple[Histogram, float]]] = {}
        for name, lay in self.layouts.items():
            self._by_concept.setdefault(lay.concept, []).append((self.hists[name], lay.scale))

    def observe(self, concept: str, value: float, n: int = 1) -> None:
        """Feed every native histogram that observes `concept`, and its running sum."""
        self.add("sum_" + concept, value * n)
        for hist, scale in self._by_concept.get(concept, ()):
            hist.observe(value * scale, n)

    def add(self, counter: str, amount: float = 1.0) -> None:
        self.counters[counter] = self.counters.get(counter, 0.0) + amount

    def maximum(self, key: str, value: float) -> None:
        self.counters[key] = max(self.counters.get(key, 0.0), value)

    def get(self, counter: str) -> float:
        return self.counters.get(counter, 0.0)


def quantile(bounds: Iterable[float], cumulative: list[float], q: float) -> float:
    """histogram_quantile as Prometheus computes it (linear within a bucket)."""
    bounds = list(bounds)
    total = cumulative[-1]
    if total <= 0:
        return float("nan")
    rank = q * total
    i = next(i for i, c in enumerate(cumulative) if c >= rank)
    if i == len(bounds):
        return bounds[-1]
    lower = bounds[i - 1] if i > 0 else 0.0
    below = cumulative[i - 1] if i > 0 else 0.0
    in_bucket = cumulative[i] - below
    return lower + (bounds[i] - lower) * ((rank - below) / in_bucket if in_bucket else 1.0)
