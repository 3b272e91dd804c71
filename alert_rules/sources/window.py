"""A bounded in-memory window of scraped samples, with Prometheus's staleness.

Timestamps are integer milliseconds, as in Prometheus. A series that a target's scrape no
longer returns, or every series of a target whose scrape failed, gets a stale marker: an
instant query then finds no value for it, and range queries skip the marker.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Sequence

from inferwatch.core.regex import anchored

LOOKBACK_MS = 5 * 60 * 1000
LabelKey = tuple[tuple[str, str], ...]


class Series:
    """One series' samples in two contiguous arrays (int64 milliseconds, float64 values, 16
    bytes a sample). A stale marker is stored as a NaN whose time is also in `stale_t`;
    `reset_t`/`reset_prev` hold, for every sample lower than the previous real sample, its
    time and that previous value, so that rate's counter correction over a range is a bisect
    and the same additions in the same order as the per-sample loop."""

    __slots__ = ("labels", "plain", "_t", "_v", "stale_t", "reset_t", "reset_prev", "_last")

    def __init__(self, labels: dict[str, str]):
        self.labels = labels
        self.plain = {k: v for k, v in labels.items() if k != "__name__"}  # shared: read-only
        self._t, self._v = array("q"), array("d")
        self.stale_t: list[int] = []
        self.reset_t, self.reset_prev = array("q"), array("d")  # a gauge has many
        self._last: float | None = None  # the newest real (not stale) value

    @property
    def stale(self) -> int:
        """Stale markers in the window."""
        return len(self.stale_t)

    @property
    def times(self) -> list[int]:
        return self._t.tolist()

    @property
    def values(self) -> list[float | None]:
        """The values, None for a stale marker."""
        out: list[float | None] = self._v.tolist()
        if self.stale_t:
            index = {t: i for i, t in enumerate(self._t)}
            for t in self.stale_t:
                out[index[t]] = None
        return out

    def append(self, t: int, value: float | None) -> None:
        times = self._t
        if times and t <= times[-1]:
            return  # out of order or duplicate: Prometheus rejects it too
        times.append(t)
        if value is None:
            self._v.append(_NAN)
            self.stale_t.append(t)
            return
        self._v.append(value)
        last = self._last
        if last is not None and value < last:
            self.reset_t.append(t)
            self.reset_prev.append(last)
        self._last = value

    def prune(self, before: int) -> None:
        cut = bisect.bisect_left(self._t, before)
        if cut:
            del self._t[:cut]
            del self._v[:cut]
            for times, *others in ((self.stale_t,), (self.reset_t, self.reset_prev)):
                drop = bisect.bisect_left(times, before)
                if drop:
                    del times[:drop]
                    for other in others:
                        del other[:drop]
            if not self._t:
                self._last = None

    def _is_stale(self, i: int) -> bool:
        value = self._v[i]
        if value == value or not self.stale_t:
            return False
        t = self._t[i]
        j = bisect.bisect_left(self.stale_t, t)
        return j < len(self.stale_t) and self.stale_t[j] == t

    def latest(self, t: int, lookback: int = LOOKBACK_MS) -> float | None:
        """The newest value at or before t within the lookback, None when stale or absent.
        A sample exactly `lookback` old still counts (Prometheus 2.x, engine.go
        vectorSelectorSingle: dropped only when `t < refTime - lookback`; Prometheus 3
        drops it)."""
        i = bisect.bisect_right(self._t, t) - 1
        if i < 0 or self._t[i] < t - lookback or self._is_stale(i):
            return None
        return self._v[i]

    def latest_sample(self, t: int, lookback: int = LOOKBACK_MS) -> tuple[int, float] | None:
        """`latest` with the sample's own timestamp (for `timestamp()`)."""
        i = bisect.bisect_right(self._t, t) - 1
        if i < 0 or self._t[i] < t - lookback or self._is_stale(i):
            return None
        return self._t[i], self._v[i]

    def _bounds(self, start: int, end: int) -> tuple[int, int, int, int]:
        """Indexes [lo, hi) of the samples with start <= t <= end, and [s_lo, s_hi) of the
        stale markers among them."""
        times = self._t
        lo = bisect.bisect_left(times, start)
        hi = len(times) if times and times[-1] <= end else bisect.bisect_right(times, end)
        stale, s_lo, s_hi = self.stale_t, 0, 0
        if stale and lo < hi:
            s_lo = bisect.bisect_left(stale, times[lo])
            s_hi = bisect.bisect_right(stale, times[hi - 1], s_lo)
        return lo, hi, s_lo, s_hi

    def range(self, start: int, end: int) -> tuple[list[int], list[float]]:
        """Samples with start <= t <= end, stale markers left out (Prometheus 2.x bounds;
        Prometheus 3 leaves `start` itself out)."""
        lo, hi, s_lo, s_hi = self._bounds(start, end)
        times, values = self._t[lo:hi].tolist(), self._v[lo:hi].tolist()
        if s_lo == s_hi:
            return times, values
        gone = set(self.stale_t[s_lo:s_hi])
        keep = [i for i, t in enumerate(times) if t not in gone]
        return [times[i] for i in keep], [values[i] for i in keep]

    def range_values(self, start: int, end: int) -> list[float]:
        """`range`'s values alone (the *_over_time functions read no times)."""
        lo, hi, s_lo, s_hi = self._bounds(start, end)
        if s_lo == s_hi:
            return self._v[lo:hi].tolist()
        return self.range(start, end)[1]

    def counter_range(self, start: int, end: int) -> CounterRange | None:
        """What extrapolatedRate reads of [start, end], without the samples in between:
        (count, first time, first value, last time, last value, the previous values of
        the resets after the first sample, in order); None without a real sample."""
        lo, hi, s_lo, s_hi = self._bounds(start, end)
        if s_lo != s_hi:
            times, values = self.range(start, end)
            if not times:
                return None
            resets = [a for a, b in zip(values, values[1:], strict=False) if b < a]
            return len(times), times[0], values[0], times[-1], values[-1], resets
        if lo == hi:
            return None
        first_t, last_t, reset_t = self._t[lo], self._t[hi - 1], self.reset_t
        r_lo = bisect.bisect_right(reset_t, first_t) if reset_t else 0
        r_hi = bisect.bisect_right(reset_t, last_t, r_lo) if reset_t else 0
        return (hi - lo, first_t, self._v[lo], last_t, self._v[hi - 1],
                self.reset_prev[r_lo:r_hi].tolist() if r_lo < r_hi else _NO_RESETS)


CounterRange = tuple[int, int, float, int, float, Sequence[float]]
_NAN = math.nan
_NO_RESETS = ()


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
        pool, chosen = self.by_name.get(name, {}), None
        for matcher in matchers:
            label, op, value = matcher
            if op == "=" and value != "":
                posting = self.postings.get((name, label, value), {})
                if len(posting) < len(pool):
                    pool, chosen = posting, matcher
        # what every series of the pool matches already: its name, the chosen posting
        rest = [m for m in matchers if m is not chosen and m != ("__name__", "=", name)]
        if not rest:
            return list(pool.values())
        return [s for s in pool.values() if matches(s.labels, rest)]

    def series_count(self) -> int:
        return len(self.series)


def matches(labels: dict[str, str], matchers: Sequence[tuple[str, str, str]]) -> bool:
    """PromQL matching: a missing label reads as "", regexes are RE2 and anchored, as Go's
    `^(?:…)$` (inferwatch.core.regex; RegexError for a pattern RE2 refuses)."""
    for label, op, value in matchers:
        actual = labels.get(label, "")
        if op == "=" and actual != value or op == "!=" and actual == value:
            return False
        if op in ("=~", "!~") and anchored(value).matches(actual) != (op == "=~"):
            return False
    return True
