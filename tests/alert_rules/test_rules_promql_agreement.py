"""The embedded evaluator against Prometheus's own PromQL engine (promtool): our values for a
table of expressions over awkward series (counter resets, gaps, non-zero starts, scrape jitter,
histograms) are written as expected samples, and promtool must agree."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from inferwatch.alert_rules.promql import Agg, Binary, Call, Node, Number, Selector, render
from inferwatch.alert_rules.sources.window import Window
from tests.alert_rules.promtool_cases import expr_answers, fill, ours, run_promtool

SERIES = [
    {"series": 'c{job="a",instance="1"}', "values": "0+6x10 3+6x10"},          # reset
    {"series": 'c{job="a",instance="2"}', "values": "100+1x5 _ _ _ _ 110+2x10"},  # gaps
    {"series": 'c{job="b",instance="3"}', "values": "_ _ _ _ 50+7x15"},          # late start
    {"series": 'g{job="a",instance="1"}', "values": "1 5 2 8 3 9 4 NaN 6 1x10"},
    *({"series": f'h_bucket{{job="a",le="{le}"}}', "values": f"0+{step}x20"}
      for le, step in (("0.1", 1), ("0.5", 4), ("1.0", 9), ("2.5", 9), ("+Inf", 10))),
    *({"series": f'h_bucket{{job="b",le="{le}"}}', "values": f"0+{step}x20"}
      for le, step in (("0.1", 0), ("0.5", 0), ("1.0", 0), ("2.5", 0), ("+Inf", 0))),
]
C = Selector("c")
NOT3 = (("instance", "!=", "3"),)
EXPRS: list[Node] = [
    *(Call(f, (Selector("c", (), w),)) for f in ("rate", "increase") for w in (60, 120, 300)),
    *(Call(f, (Selector("g", (), 120),)) for f in ("avg_over_time", "min_over_time",
                                                    "max_over_time")),
    Agg("sum", ("job",), Call("rate", (Selector("c", (), 300),))),
    Agg("max", (), Selector("g")),
    Binary(">", Call("rate", (Selector("c", (), 300),)), Number(0.15)),
    Binary("/", Agg("sum", ("job",), Call("rate", (Selector("c", NOT3, 300),))),
           Agg("sum", ("job",), Call("rate", (Selector("c", (), 300),)))),
    Binary("or", Agg("sum", ("job",), Call("rate", (Selector("c", (("job", "=", "b"),), 120),))),
           Binary("*", Number(0), Agg("sum", ("job",), C))),
    Binary("and", Agg("sum", ("job",), C), Agg("sum", ("job",), Selector("g"))),
    *(Call("histogram_quantile", (Number(q), Agg("sum", ("job", "le"), Call(
        "rate", (Selector("h_bucket", (), 300),))))) for q in (0.05, 0.5, 0.95, 0.99)),
]
TIMES = [45, 150, 300, 480, 600]


def promtools(tmp_path: Path) -> dict[tuple[str, float], dict[str, float]]:
    """Prometheus's answer to every (expr, time): each case expects nothing, so promtool
    prints every sample it got."""
    cases = [{"expr": render(e), "eval_time": f"{t}s", "exp_samples": []}
             for e in EXPRS for t in TIMES]
    answers = expr_answers(run_promtool(tmp_path, {
        "interval": "30s", "input_series": SERIES, "promql_expr_test": cases}))
    assert answers
    return answers


def same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))


@pytest.mark.ecosystem
def test_promtool_agrees_with_the_embedded_evaluator(tmp_path: Path) -> None:
    window = Window(86400_000)
    fill(window, SERIES, 30)
    theirs = promtools(tmp_path)
    compared = 0
    for expr in EXPRS:
        for t in TIMES:
            mine = ours(window, expr, t)
            other = theirs.get((render(expr), float(t)), {})
            assert mine.keys() == other.keys(), (render(expr), t, mine, other)
            for labels, value in mine.items():
                assert same(value, other[labels]), (render(expr), t, labels, value, other)
                compared += 1
    assert compared > 100
