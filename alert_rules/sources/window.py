"""A bounded in-memory window of scraped samples, with Prometheus's staleness.

Timestamps are integer milliseconds, as in Prometheus. A series that a target's scrape no
longer returns, or every series of a target whose scrape failed, gets a stale marker: an
instant query then finds no value for it, and range queries skip the marker.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from inferwatch.core.regex import anchored

LOOKBACK_MS = 5 * 60 * 1000
LabelKey = tuple[tuple[str, str], ...]


@dataclass
class Series:
    labels: dict[str, str]
    times: list[int] = field(default_factory=list)
    values: list[float | None] = field(default_factory=list)  # None: a stale marker
    stale: int = 0  # stale markers among `values`
    plain: dict[str, str] = field(init=False)  # the labels without __name__ (shared: read-only)

    def __post_init__(self) -> None:
        self.plain = {k: v for k, v in self.labels.items() if k != "__name__"}

    def append(self, t: int, value: float | None) -> None:
        if self.times and t <= self.times[-1]:
            return  # out of order or duplicate: Prometheus rejects it too
        self.times.append(t)
        self.values.append(value)
        self.stale += value is None

    def prune(self, before: int) -> None:
        cut = bisect.bisect_left(self.times, before)
        if cut:
            self.stale -= sum(v is None for v in self.values[:cut]) if self.stale else 0
            del self.times[:cut]
            del self.values[:cut]

    def latest(self, t: int, lookback: int = LOOKBACK_MS) -> float | None:
        """The newest value at or before t within the lookback, None when stale or absent.
        A sample exactly `lookback` old still counts (Prometheus 2.x, engine.go
        vectorSelectorSingle: dropped only when `t < refTime - lookback`; Prometheus 3
        drops it)."""
        i = bisect.bisect_right(self.times, t) - 1
        if i < 0 or self.times[i] < t - lookback:
            return None
        return self.values[i]

    def latest_sample(self, t: int, lookback: int = LOOKBACK_MS) -> tuple[int, float] | None:
        """`latest` with the sample's own timestamp (for `timestamp()`)."""
        i = bisect.bisect_right(self.times, t) - 1
        if i < 0 or self.times[i] < t - lookback or self.values[i] is None:
            return None
        return self.times[i], self.values[i]  # type: ignore[return-value]

    def range(self, start: int, end: int) -> tuple[list[int], list[float]]:
        """Samples with start <= t <= end, stale markers left out (Prometheus 2.x bounds;
        Prometheus 3 leaves `start` itself out)."""
        times = self.times
        lo = bisect.bisect_left(times, start)
        hi = len(times) if times and times[-1] <= end else bisect.bisect_right(times, end)
        if not self.stale:
            return times[lo:hi], self.values[lo:hi]  # type: ignore[return-value]
        pairs = [(t, v) for t, v in zip(times[lo:hi], self.values[lo:hi], strict=True)
                 if v is not None]
        return [t for t, _ in pairs], [v for _, v in pairs]


Keyed = tuple[LabelKey, dict[str, str], float]  # (label key, labels, value)


class Window:
    """Every series of every target, trimmed to `retention` milliseconds, indexed by metric
    name and by (metric name, label, value) for equality matchers."""

    def __init__(self, retention_ms: int):
        self.retention_ms = retention_ms
        self.series: dict[LabelKey, Series] = {}
        self.by_name: dict[str, dict[LabelKey, Series]] = {}
        self.postings: dict[tuple[str, str, str], dict[LabelKey, Series]] = {}
        self._last_seen: dict[str, set[LabelKey]] = {}  # target → its series

    def ingest(self, target: str, samples: list[tuple[dict[str, str], float]], t: int) -> None:
        """One scrape of one target at time t; series it no longer returns go stale."""
        self.ingest_keyed(target, [(tuple(sorted(labels.items())), labels, value)
                                   for labels, value in samples], t)

    def ingest_keyed(self, target: str, samples: list[Keyed], t: int) -> None:
        """`ingest` with each sample's label key already made (`tuple(sorted(labels))`)."""
        seen: set[LabelKey] = set()
        for key, labels, value in samples:
            series = self.series.get(key)
            if series is None:
                series = self._add(key, labels)
            series.append(t, value)
            seen.add(key)
        self._mark_stale(self._last_seen.get(target, set()) - seen, t)
        self._last_seen[target] = seen

    def _add(self, key: LabelKey, labels: dict[str, str]) -> Series:
        series = self.series[key] = Series(labels)
        name = labels["__name__"]
        self.by_name.setdefault(name, {})[key] = series
        for label, value in labels.items():
            self.postings.setdefault((name, label, value), {})[key] = series
        return series

    def _remove(self, key: LabelKey) -> None:
        series = self.series.pop(key)
        name = series.labels["__name__"]
        for label, value in series.labels.items():
            table = self.postings[(name, label, value)]
            del table[key]
            if not table:
                del self.postings[(name, label, value)]
        del self.by_name[name][key]
        if not self.by_name[name]:
            del self.by_name[name]

    def _mark_stale(self, gone: set[LabelKey], t: int) -> None:
        for key in gone:
            series = self.series.get(key)
            if series is not None:
                series.append(t, None)

    def prune(self, now: int) -> None:
        """Drop samples older than the retention, and series left with none."""
        before = now - self.retention_ms
        for key, series in list(self.series.items()):
            if series.times and series.times[0] < before:
                series.prune(before)
                if not series.times:
                    self._remove(key)

    def select(self, name: str, matchers: tuple[tuple[str, str, str], ...]) -> list[Series]:
        """The series of `name` that the matchers select; the smallest posting list of the
        equality matchers (to a non-empty value) is the starting set."""
        pool = self.by_name.get(name, {})
        for label, op, value in matchers:
            if op == "=" and value != "":
                posting = self.postings.get((name, label, value), {})
                pool = posting if len(posting) < len(pool) else pool
        return [s for s in pool.values() if matches(s.labels, matchers)]

    def series_count(self) -> int:
        return len(self.series)


def matches(labels: dict[str, str], matchers: tuple[tuple[str, str, str], ...]) -> bool:
    """PromQL matching: a missing label reads as "", regexes are RE2 and anchored, as Go's
    `^(?:…)$` (inferwatch.core.regex; RegexError for a pattern RE2 refuses)."""
    for label, op, value in matchers:
        actual = labels.get(label, "")
        if op == "=" and actual != value or op == "!=" and actual == value:
            return False
        if op in ("=~", "!~") and anchored(value).matches(actual) != (op == "=~"):
            return False
    return True
