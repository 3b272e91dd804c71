"""Prometheus 2.42's PromQL to the last bit: each class of difference that the comparison with
`promtool test rules` found (issue 12), from its minimal case, plus the boundaries next to them
(the extrapolation threshold, a quantile rank exactly on a cumulative count). promtool is the
oracle; the values Prometheus prints are also pinned here, so a case that promtool stops
computing (or a missing binary) cannot turn a test vacuous."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferwatch.alert_rules.promql import Agg, Binary, Call, Node, Number, Selector, render
from inferwatch.alert_rules.sources.promql_eval import bucket_quantile
from inferwatch.alert_rules.sources.window import Window
from tests.alert_rules.promtool_cases import (
    bits_equal,
    expr_answers,
    fill,
    firing_times,
    ours,
    ours_firing,
    run_promtool,
)

pytestmark = pytest.mark.ecosystem


def window_of(series: list[dict], interval: float) -> Window:
    window = Window(86400_000)
    fill(window, series, interval)
    return window


def agree(tmp_path: Path, series: list[dict], interval: float, exprs: list[Node],
          times: list[float]) -> dict[tuple[str, float], dict[str, float]]:
    """Our value for every (expr, time) is promtool's, bit for bit; promtool's answers."""
    cases = [{"expr": render(e), "eval_time": f"{round(t * 1000)}ms", "exp_samples": []}
             for e in exprs for t in times]
    theirs = expr_answers(run_promtool(tmp_path, {
        "interval": f"{interval}s", "input_series": series, "promql_expr_test": cases}))
    assert theirs, "promtool printed no answers"
    window = window_of(series, interval)
    for expr in exprs:
        for t in times:
            mine, other = ours(window, expr, t), theirs.get((render(expr), t), {})
            assert mine.keys() == other.keys(), (render(expr), t, mine, other)
            for labels, value in mine.items():
                assert bits_equal(value, other[labels]), (render(expr), t, labels, value,
                                                          other[labels])
    return theirs


def fires(tmp_path: Path, series: list[dict], interval: float, expr: Node, until: float,
          every: float) -> set[float]:
    """The times at which the alert `A: expr` fires, the same for promtool and for us."""
    tests = [{"eval_time": f"{round(t * 1000)}ms", "alertname": "A", "exp_alerts": []}
             for t in frange(0, until, every)]
    rules = [{"name": "g", "rules": [{"alert": "A", "expr": render(expr)}]}]
    output = run_promtool(tmp_path, {"interval": f"{interval}s", "input_series": series,
                                     "alert_rule_test": tests,
                                     "evaluation_interval": f"{every}s"}, rules)
    theirs = firing_times(output).get("A", set())
    assert ours_firing(window_of(series, interval), expr, until, every) == theirs, output
    return theirs


def frange(start: float, stop: float, step: float) -> list[float]:
    return [start + i * step for i in range(int((stop - start) / step) + 1)]


# 1. the lookback: a sample exactly 5 minutes old is still returned (2.x; 3.x drops it)
LOOKBACK = [{"series": 'g{job="a"}', "values": "1 2"}]  # 1 at 0 s, 2 at 60 s


def test_a_sample_exactly_five_minutes_old_is_still_selected(tmp_path: Path) -> None:
    theirs = agree(tmp_path, LOOKBACK, 60, [Selector("g")], [300, 359.999, 360, 360.001])
    assert theirs[("g", 360)] == {'{__name__="g", job="a"}': 2.0}
    assert ("g", 360.001) not in theirs


def test_alerts_resolve_on_the_evaluation_prometheus_resolves_them(tmp_path: Path) -> None:
    up_to = fires(tmp_path, LOOKBACK, 60, Binary(">", Selector("g"), Number(0)), 420, 30)
    assert max(up_to) == 360


# 2. histogram_quantile with a NaN bucket count is NaN, not an interpolation around it
def buckets(case: str, counts: dict[str, str]) -> list[dict]:
    return [{"series": f'h_bucket{{case="{case}",le="{le}"}}', "values": v}
            for le, v in counts.items()]


HISTOGRAMS = [
    *buckets("nan_inner", {"0.1": "8", "1.0": "NaN", "10.0": "24", "+Inf": "32"}),
    *buckets("nan_first", {"0.1": "NaN", "1.0": "16", "10.0": "24", "+Inf": "32"}),
    *buckets("nan_inf", {"0.1": "8", "1.0": "16", "+Inf": "NaN"}),
    # a rank exactly on a cumulative count, the next bucket empty
    *buckets("on_count", {"0.1": "5", "0.5": "10", "1.0": "10", "2.5": "20", "+Inf": "20"}),
    *buckets("on_last", {"0.1": "5", "0.5": "10", "1.0": "10", "+Inf": "10"}),
    *buckets("not_monotonic", {"0.1": "5", "0.5": "3", "1.0": "10", "+Inf": "10"}),
]
QUANTILES = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)


def test_histogram_quantile_with_nan_buckets_and_ranks_on_counts(tmp_path: Path) -> None:
    exprs: list[Node] = [Call("histogram_quantile", (Number(q), Selector("h_bucket")))
                         for q in QUANTILES]
    theirs = agree(tmp_path, HISTOGRAMS, 60, exprs, [0])
    at = {q: theirs[(render(e), 0)] for q, e in zip(QUANTILES, exprs, strict=True)}
    assert str(at[0.1]['{case="nan_inner"}']) == "nan"  # the issue's case: was 0.04
    assert at[0.5]['{case="on_count"}'] == 0.5  # rank 10 = count at 0.5, then an empty bucket
    assert at[1.0]['{case="on_last"}'] == 0.5
    assert at[0.5]['{case="on_last"}'] == 0.1


def test_bucket_quantile_follows_go_binary_search_over_nan() -> None:
    # sort.Search over [8, NaN, 24]: probes index 1 (NaN >= 3.2 is false), then 2
    got = bucket_quantile(0.1, [(0.1, 8.0), (1.0, float("nan")), (10.0, 24.0),
                                (float("inf"), 32.0)])
    assert got != got


# 3. avg and avg_over_time near the float64 maximum: a running mean, not sum / count
BIG = [
    *({"series": f'big{{set="equal",i="{i}"}}', "values": "1e308"} for i in range(3)),
    *({"series": f'big{{set="inf",i="{i}"}}', "values": v} for i, v in enumerate(
        ("+Inf", "1", "1"))),
    *({"series": f'big{{set="both_inf",i="{i}"}}', "values": v} for i, v in enumerate(
        ("+Inf", "-Inf", "1"))),
    {"series": 'over{case="equal"}', "values": "1e308 1e308 1e308"},
    {"series": 'over{case="mixed"}', "values": "1e308 1.7e308 1e308"},
    {"series": 'over{case="tiny"}', "values": "0.1 0.2 0.3"},
    {"series": 'over{case="inf"}', "values": "1 +Inf 1"},
]


def test_avg_and_avg_over_time_do_not_overflow(tmp_path: Path) -> None:
    exprs: list[Node] = [Agg("avg", ("set",), Selector("big")),
                         Call("avg_over_time", (Selector("over", (), 120),))]
    theirs = agree(tmp_path, BIG, 60, exprs, [120])
    assert theirs[(render(exprs[0]), 120)]['{set="equal"}'] == 1e308
    assert theirs[(render(exprs[1]), 120)]['{case="equal"}'] == 1e308


# 4. rate/increase: Go's order of operations, factor first
COUNTER = [{"series": 'c{job="a"}', "values": "0+9x40"}]  # +9 every 15 s


def test_rate_extrapolation_rounds_as_go_does(tmp_path: Path) -> None:
    rate = Call("rate", (Selector("c", (), 300),))
    theirs = agree(tmp_path, COUNTER, 15, [rate, Call("increase", (Selector("c", (), 300),))],
                   [285, 300, 315, 450])
    assert theirs[("rate(c[5m])", 300)] == {'{job="a"}': 0.6000000000000001}


def test_rate_above_its_exact_value_fires_from_300s(tmp_path: Path) -> None:
    firing = fires(tmp_path, COUNTER, 15, Binary(">", Call("rate", (Selector("c", (), 300),)),
                                                 Number(0.6)), 600, 15)
    assert min(firing) == 300


# the extrapolation threshold: a gap to the window's edge of 1.1 sample intervals
GAPS = [{"series": 'c2{start="zero"}', "values": "0+10x40"},
        {"series": 'c2{start="high"}', "values": "100+10x40"}]
# samples every 10 s up to 400 s: at t the gap to the end is t - 400 (past the last sample)
# and the gap to the start of a 1m window is the distance to the next sample after t - 60
GAP_TIMES = [400, 405, 410.5, 411, 411.001, 412, 413, 415, 420, 395.5, 403.5]


def test_rate_at_gaps_between_1_1_and_1_5_intervals(tmp_path: Path) -> None:
    exprs: list[Node] = [Call(f, (Selector("c2", (), 60),)) for f in ("rate", "increase")]
    theirs = agree(tmp_path, GAPS, 10, exprs, GAP_TIMES)
    # 10.5 s is under 1.1 x 10 s: extrapolated to the window's end (and 9.5 s to its start)
    assert theirs[("increase(c2[1m])", 410.5)]['{start="zero"}'] == 60
    # 11 s is not (10 * 1.1 rounds to 11.0, and the test is strict): half an average
    # interval (5 s) is added instead of the gap
    assert theirs[("increase(c2[1m])", 411)]['{start="zero"}'] == 40 + 9 + 5
    assert theirs[("increase(c2[1m])", 412)]['{start="zero"}'] == 40 + 8 + 5


# selector regexes are RE2, anchored, as Prometheus's (Python's `re` differs on each of these)
REGEX_SERIES = [{"series": f'r{{v="{v}"}}', "values": "1"}
                for v in ("abc", "aB", "ab", "a b", "Ab", "é")]


def test_regex_matchers_are_re2(tmp_path: Path) -> None:
    patterns = ["[[:alpha:]]+", "a(?i)b", "\\pL", "a.b", "(?i)ab", "a|ab"]
    exprs: list[Node] = [Selector("r", (("v", op, p),)) for p in patterns for op in ("=~", "!~")]
    theirs = agree(tmp_path, REGEX_SERIES, 60, exprs, [0])
    assert set(theirs[(render(exprs[0]), 0)]) == {
        f'{{__name__="r", v="{v}"}}' for v in ("abc", "aB", "ab", "Ab")}  # ASCII only
