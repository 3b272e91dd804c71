"""The window's counter-reset index and the PromQL memo's invalidation, each on its own:
`Series.counter_range` (count, first and last sample, the previous value of each reset
after the first sample) equals what a scan of `Series.range` gives, for every window over
counters with resets, stale markers and pruning, and rate/increase from it equal the
per-sample extrapolatedRate to the bit; a rule's ALERTS or recorded write drops exactly the
memoised results that read the written names (or a selector without a name), the rest stay
memoised, and a later rule at the same time sees the write."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import yaml

from inferwatch.alert_rules.compile import RecordingRule
from inferwatch.alert_rules.manager import RuleManager
from inferwatch.alert_rules.runconfig import load_rules
from inferwatch.alert_rules.sources.embedded import EmbeddedSource
from inferwatch.alert_rules.sources.promql_eval import extrapolate, extrapolated_rate
from inferwatch.alert_rules.sources.window import Series


def scanned(series: Series, start: int, end: int) -> tuple | None:
    """counter_range's answer from the plain samples: every drop between neighbours."""
    times, values = series.range(start, end)
    if not times:
        return None
    resets = [a for a, b in zip(values, values[1:], strict=False) if b < a]
    return len(times), times[0], values[0], times[-1], values[-1], resets


def test_counter_range_of_a_small_counter_with_two_resets() -> None:
    series = Series({"__name__": "c"})
    for t, value in ((0, 1.0), (10, 5.0), (20, 2.0), (30, 7.0), (40, 3.0)):
        series.append(t, value)
    assert [list(x) for x in (series.reset_t, series.reset_prev)] == [[20, 40], [5.0, 7.0]]
    count, first_t, first, last_t, last, resets = series.counter_range(0, 40)
    assert (count, first_t, first, last_t, last, list(resets)) == (5, 0, 1.0, 40, 3.0,
                                                                    [5.0, 7.0])
    # a window whose first sample is itself a reset: its previous value is outside
    assert list(series.counter_range(20, 40)[5]) == [7.0]
    assert list(series.counter_range(0, 39)[5]) == [5.0]
    assert list(series.counter_range(21, 40)[5]) == [7.0]
    assert series.counter_range(31, 40) == (1, 40, 3.0, 40, 3.0, ())
    assert series.counter_range(41, 50) is None
    series.prune(15)  # the reset at 20 stays (its previous value was pruned: never read)
    assert list(series.reset_t) == [20, 40]
    assert list(series.counter_range(0, 40)[5]) == [7.0]
    series.prune(25)
    assert (list(series.reset_t), list(series.reset_prev)) == ([40], [7.0])


def test_counter_range_equals_a_scan_for_every_window() -> None:
    rng = random.Random(12)
    for case in range(40):
        series, value, t = Series({"__name__": "c"}), 0.0, 0
        for _ in range(rng.randint(1, 40)):
            t += rng.choice((1000, 1000, 1500, 15000))
            kind = rng.random()
            if kind < 0.08:
                series.append(t, None)  # stale marker
            else:
                value = rng.uniform(0, 5) if kind < 0.3 else value + rng.uniform(0, 30)
                series.append(t, value)
        if case % 3 == 0:
            series.prune(series.times[len(series.times) // 3])
        times = series.times
        edges = sorted({*times, *(x + 1 for x in times), *(x - 1 for x in times)})
        for start in edges[::2]:
            for end in (e for e in edges if e >= start):
                got, want = series.counter_range(start, end), scanned(series, start, end)
                assert (got is None) == (want is None), (case, start, end)
                if got is None:
                    continue
                assert (*got[:5], list(got[5])) == want, (case, start, end)
                if got[0] < 2:
                    continue
                ts, vs = series.range(start, end)
                for is_rate in (True, False):
                    fast = extrapolate(*got, start, end, is_rate, True)
                    slow = extrapolated_rate(ts, vs, start, end, is_rate)
                    assert fast.hex() == slow.hex(), (case, start, end, is_rate)


def test_a_write_drops_only_the_results_that_read_its_names() -> None:
    source = EmbeddedSource([], retention=600)
    source.window.ingest("t", [({"__name__": "m", "job": "a"}, 1.0)], 100_000)
    ts = 100.0
    plain = source.evaluate_text("m > 0", ts)
    nameless = source.evaluate_text('count({job="a"})', ts)
    absent = source.evaluate_text('absent(rec{job="a"})', ts)
    assert absent == [({"job": "a"}, 1.0)] and nameless == [({}, 1.0)]
    assert source.evaluate_text("m > 0", ts) is plain  # memoised
    rule = RecordingRule(name="rec", expr="m * 2")
    asyncio.run(source.record(rule, "g/rec", ts))
    assert source.evaluate_text("m > 0", ts) is plain  # reads no written name: kept
    assert source.evaluate_text('absent(rec{job="a"})', ts) == []  # recomputed
    assert source.evaluate_text("rec", ts) == [({"__name__": "rec", "job": "a"}, 2.0)]
    assert source.evaluate_text('count({job="a"})', ts) == [({}, 2.0)]  # no name: dropped
    source.promql.clear()  # what a scrape does: nothing memoised stays
    again = source.evaluate_text("m > 0", ts)
    assert again == plain and again is not plain


def test_a_later_rule_at_the_same_time_sees_an_earlier_rules_alerts(tmp_path: Path) -> None:
    expr = 'absent(ALERTS{alertname="Hot"})'
    rules = [{"alert": "NoneBefore", "expr": expr}, {"alert": "Hot", "expr": "m > 0"},
             {"alert": "NoneAfter", "expr": expr},
             {"alert": "Firing", "expr": 'count(ALERTS{alertstate="firing"})'}]
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "interval": "10s",
                                                "rules": rules}]}))
    source = EmbeddedSource([], retention=600)
    source.window.ingest("t", [({"__name__": "m", "job": "a"}, 1.0)], 100_000)
    engine = RuleManager(load_rules([str(path)], embedded=True), source, [])  # type: ignore[arg-type]
    asyncio.run(engine.tick(100.0))
    active = {rule_id: [(a.labels["alertname"], a.value) for a in st.active.values()]
              for rule_id, st in engine.states.items()}
    assert active == {"g/NoneBefore": [("NoneBefore", 1.0)], "g/Hot": [("Hot", 1.0)],
                      "g/NoneAfter": [], "g/Firing": [("Firing", 2.0)]}, active
