"""A bounded in-memory window of scraped samples, with Prometheus's staleness.

Timestamps are integer milliseconds, as in Prometheus. A series that a target's scrape no
longer returns, or every series of a target whose scrape failed, gets a stale marker: an
instant query then finds no value for it, and range queries skip the marker.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

LOOKBACK_MS = 5 * 60 * 1000
LabelKey = tuple[tuple[str, str], ...]


@dataclass
class Series:
    labels: dict[str, str]
    times: list[int] = field(default_factory=list)
    values: list[float | None] = field(default_factory=list)  # None: a stale marker

    def append(self, t: int, value: float | None) -> None:
        if self.times and t <= self.times[-1]:
            return  # out of order or duplicate: Prometheus rejects it too
        self.times.append(t)
        self.values.append(value)

    def prune(self, before: int) -> None:
        cut = bisect.bisect_left(self.times, before)
        if cut:
            del self.times[:cut]
            del self.values[:cut]

    def latest(self, t: int, lookback: int = LOOKBACK_MS) -> float | None:
        """The newest value at or before t within the lookback, None when stale or absent."""
        i = bisect.bisect_right(self.times, t) - 1
        if i < 0 or self.times[i] <= t - lookback:
            return None
        return self.values[i]

    def range(self, start: int, end: int) -> tuple[list[int], list[float]]:
        """Samples with start <= t <= end, stale markers left out (Prometheus 2.x bounds;
        Prometheus 3 leaves `start` itself out)."""
        lo = bisect.bisect_left(self.times, start)
        hi = bisect.bisect_right(self.times, end)
        pairs = [(t, v) for t, v in zip(self.times[lo:hi], self.values[lo:hi], strict=True)
                 if v is not None]
        return [t for t, _ in pairs], [v for _, v in pairs]


class Window:
    """Every series of every target, trimmed to `retention` milliseconds."""

    def __init__(self, retention_ms: int):
        self.retention_ms = retention_ms
        self.by_name: dict[str, dict[LabelKey, Series]] = {}
        self._last_seen: dict[str, set[tuple[str, LabelKey]]] = {}  # target → its series

    def ingest(self, target: str, samples: list[tuple[dict[str, str], float]], t: int) -> None:
        """One scrape of one target at time t; series it no longer returns go stale."""
        seen: set[tuple[str, LabelKey]] = set()
        for labels, value in samples:
            name = labels["__name__"]
            key = tuple(sorted(labels.items()))
            series = self.by_name.setdefault(name, {}).get(key)
            if series is None:
                series = self.by_name[name][key] = Series(labels)
            series.append(t, value)
            seen.add((name, key))
        self._mark_stale(self._last_seen.get(target, set()) - seen, t)
        self._last_seen[target] = seen

    def fail(self, target: str, t: int) -> None:
        """A failed scrape: every series of the target goes stale."""
        self._mark_stale(self._last_seen.pop(target, set()), t)

    def _mark_stale(self, gone: set[tuple[str, LabelKey]], t: int) -> None:
        for name, key in gone:
            series = self.by_name.get(name, {}).get(key)
            if series is not None:
                series.append(t, None)

    def prune(self, now: int) -> None:
        """Drop samples older than the retention, and series left with none."""
        for name, table in list(self.by_name.items()):
            for key, series in list(table.items()):
                series.prune(now - self.retention_ms)
                if not series.times:
                    del table[key]
            if not table:
                del self.by_name[name]

    def select(self, name: str, matchers: tuple[tuple[str, str, str], ...]) -> list[Series]:
        return [s for s in self.by_name.get(name, {}).values() if matches(s.labels, matchers)]

    def series_count(self) -> int:
        return sum(len(t) for t in self.by_name.values())


_REGEX: dict[str, re.Pattern[str]] = {}


def matches(labels: dict[str, str], matchers: tuple[tuple[str, str, str], ...]) -> bool:
    """PromQL matching: a missing label reads as "", regexes are anchored."""
    for label, op, value in matchers:
        actual = labels.get(label, "")
        if op == "=" and actual != value or op == "!=" and actual == value:
            return False
        if op in ("=~", "!~"):
            pattern = _REGEX.get(value) or _REGEX.setdefault(value, re.compile(value))
            if (pattern.fullmatch(actual) is None) == (op == "=~"):
                return False
    return True
