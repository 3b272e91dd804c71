"""Generated cases against promtool (Prometheus 2.42): random counters (resets, gaps, fractional
steps), gauges (NaN, ±Inf, -0, 1e308, gaps) and cumulative histograms, every expression shape
the compiler builds, at random evaluation times; values must agree bit for bit.

One exception, Prometheus's own: an aggregation over several series takes them in the order
the TSDB head holds them, and promtool's loader creates series in Go map order, so two promtool
runs on one file differ in the last bits of a `sum`/`avg` (and in the sign of a `min`/`max`
of 0 and -0). Those are compared to 1e-12 relative. Fixed seeds
here; `INFERWATCH_PROMQL_SEEDS=1-200` runs more."""

from __future__ import annotations

import math
import os
import random
from pathlib import Path

import pytest

from inferwatch.alert_rules.promql import Agg, Binary, Call, Node, Number, Selector, render
from inferwatch.alert_rules.sources.window import Window
from tests.alert_rules.promtool_cases import bits_equal, expr_answers, fill, ours, run_promtool

N = 40  # samples per series
BOUNDS = ("0.1", "0.5", "1", "2.5", "+Inf")


def seeds() -> list[int]:
    text = os.environ.get("INFERWATCH_PROMQL_SEEDS", "1-3")
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def counter(rng: random.Random) -> str:
    out, v = [], rng.choice([0.0, 0.0, 5.0, 1e3])
    for _ in range(N):
        r = rng.random()
        if r < 0.08:
            out.append("_")
            continue
        v = rng.choice([0.0, 1.0, 3.0]) if r < 0.12 else v + rng.choice(
            [0, 1, 2, 3, 9, 0.5, 7.25])
        out.append(repr(v))
    return " ".join(out)


def gauge(rng: random.Random) -> str:
    odd = ["_", "NaN", "+Inf", "-Inf", "1e308", "-0"]
    return " ".join(rng.choice(odd) if rng.random() < 0.2 else
                    repr(round(rng.uniform(-10, 10), rng.randint(0, 4))) for _ in range(N))


def histogram(rng: random.Random, job: str) -> list[dict]:
    totals, rows = [0.0] * len(BOUNDS), [[] for _ in BOUNDS]
    for _ in range(N):
        running = 0.0
        for j in range(len(BOUNDS)):
            running += rng.choice([0, 0, 1, 2, 5])
            totals[j] += running
            rows[j].append(repr(totals[j]))
    return [{"series": f'h_bucket{{job="{job}",le="{le}"}}', "values": " ".join(row)}
            for le, row in zip(BOUNDS, rows, strict=True)]


def case(rng: random.Random) -> tuple[list[dict], list[Node], list[float], int]:
    series = [*({"series": f'c{{job="{j}",instance="{i}"}}', "values": counter(rng)}
                for j in "ab" for i in "123"),
              *({"series": f'g{{job="{j}",instance="{i}"}}', "values": gauge(rng)}
                for j in "ab" for i in "123"),
              *histogram(rng, "a"), *histogram(rng, "b")]
    windows = [30, 45, 60, 90, 120, 300]
    exprs: list[Node] = [Call(f, (Selector("c", (), w),)) for f in ("rate", "increase")
                         for w in windows]
    exprs += [Call(f, (Selector("g", (), w),)) for w in (30, 60, 120)
              for f in ("avg_over_time", "min_over_time", "max_over_time")]
    for op in ("sum", "avg", "min", "max", "count"):
        exprs += [Agg(op, ("job",), Call("rate", (Selector("c", (), rng.choice(windows)),))),
                  Agg(op, ("instance",), Selector("g"))]
    exprs += [Call("histogram_quantile", (Number(q), Agg("sum", ("job", "le"), Call(
        "rate", (Selector("h_bucket", (), rng.choice([60, 120, 300])),)))))
        for q in (0.0, 0.25, 0.5, 0.9, 0.99, 1.0)]
    exprs += [Binary(">", Call("rate", (Selector("c", (), 60),)), Number(0.1)),
              Binary("/", Call("increase", (Selector("c", (), 120),)), Number(0))]
    interval = rng.choice([10, 15, 30])
    times = sorted({rng.randint(0, N * interval + 400) for _ in range(10)} | {300, 301})
    return series, exprs, [float(t) for t in times], interval


def order_dependent(expr: Node) -> bool:
    return isinstance(expr, Agg) and expr.op in ("sum", "avg", "min", "max") or (
        isinstance(expr, Call) and expr.func == "histogram_quantile")


@pytest.mark.ecosystem
@pytest.mark.parametrize("seed", seeds())
def test_generated_cases_agree_with_promtool_bit_for_bit(tmp_path: Path, seed: int) -> None:
    series, exprs, times, interval = case(random.Random(seed))
    theirs = expr_answers(run_promtool(tmp_path, {
        "interval": f"{interval}s", "input_series": series, "promql_expr_test": [
            {"expr": render(e), "eval_time": f"{round(t * 1000)}ms", "exp_samples": []}
            for e in exprs for t in times]}))
    window = Window(86400_000)
    fill(window, series, interval)
    compared = 0
    for expr in exprs:
        for t in times:
            mine, other = ours(window, expr, t), theirs.get((render(expr), t), {})
            assert mine.keys() == other.keys(), (seed, render(expr), t, mine, other)
            for labels, value in mine.items():
                same = bits_equal(value, other[labels]) or order_dependent(expr) and \
                    math.isclose(value, other[labels], rel_tol=1e-12)
                assert same, (seed, render(expr), t, labels, value, other[labels])
                compared += 1
    assert compared > 500
