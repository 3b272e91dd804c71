"""Random unit-test cases for the PromQL differential tests: input series (counters with
resets, gauges with NaN, ±Inf, -0 and gaps, stale markers, cumulative histograms), random
expressions from a grammar of the language the embedded evaluator supports, and recording
and alerting rules over them. Each expression says how it may be compared with promtool:
bit for bit, or to 1e-12 when Prometheus itself is order-dependent (an aggregation takes its
series in the TSDB's order, which promtool's loader makes random), or to a few ulp where
Go's math library and C's differ (transcendental functions)."""

from __future__ import annotations

import random
from dataclasses import dataclass

N = 40  # samples per series
BOUNDS = ("0.1", "0.5", "1", "2.5", "+Inf")
ORDERED = ("sum", "avg", "stddev", "stdvar", "min", "max", "topk", "bottomk", "group")
INEXACT = ("exp", "ln", "log2", "log10", "sin", "cos", "tan", "asin", "acos", "atan", "sinh",
           "cosh", "tanh", "asinh", "acosh", "atanh", "atan2", "^")

CHAOTIC = ("sin", "cos", "tan", "ceil", "floor", "round", "label_replace", "label_join")


@dataclass
class Expr:
    text: str
    ordered: bool = False  # an aggregation over several series inside
    inexact: bool = False  # a transcendental function inside
    ranked: bool = False  # topk/bottomk inside: which series tie-break picks is random
    chaotic: bool = False  # an inexact value through %, a periodic function or a label: a
    # last-bit difference can change the result entirely (compare NaN, ±Inf and labels only)


def counter(rng: random.Random) -> str:
    out, v = [], rng.choice([0.0, 0.0, 5.0, 1e3])
    for _ in range(N):
        r = rng.random()
        if r < 0.06:
            out.append("_")
        elif r < 0.08:
            out.append("stale")
        else:
            v = rng.choice([0.0, 1.0, 3.0]) if r < 0.12 else v + rng.choice(
                [0, 1, 2, 3, 9, 0.5, 7.25])
            out.append(repr(v))
    return " ".join(out)


def gauge(rng: random.Random) -> str:
    odd = ["_", "NaN", "+Inf", "-Inf", "1e308", "-0", "stale"]
    return " ".join(rng.choice(odd) if rng.random() < 0.15 else
                    repr(round(rng.uniform(-10, 10), rng.randint(0, 4))) for _ in range(N))


def histogram(rng: random.Random, job: str) -> list[dict]:
    totals, rows = [0.0] * len(BOUNDS), [[] for _ in BOUNDS]
    for _ in range(N):
        if rng.random() < 0.05:
            totals = [0.0] * len(BOUNDS)  # a restart: every bucket resets
        running = 0.0
        for j in range(len(BOUNDS)):
            running += rng.choice([0, 0, 1, 2, 5])
            totals[j] += running
            rows[j].append(repr(totals[j]))
    return [{"series": f'h_bucket{{job="{job}",le="{le}"}}', "values": " ".join(row)}
            for le, row in zip(BOUNDS, rows, strict=True)]


def input_series(rng: random.Random) -> list[dict]:
    return [*({"series": f'c{{job="{j}",instance="{i}"}}', "values": counter(rng)}
              for j in "ab" for i in "12"),
            *({"series": f'g{{job="{j}",instance="{i}"}}', "values": gauge(rng)}
              for j in "ab" for i in "12"),
            {"series": 'g{job="c"}', "values": "1+0.5x39"},
            *histogram(rng, "a"), *histogram(rng, "b")]


class Grammar:
    def __init__(self, rng: random.Random, depth: int = 3):
        self.rng, self.depth = rng, depth
        self.in_subquery = 0

    def pick(self, *options: str) -> str:
        return self.rng.choice(options)

    def matchers(self) -> str:
        return self.pick("", "", '{job="a"}', '{job=~"a|b"}', '{instance!="1"}',
                         '{job!~"b"}', '{job=~".+",instance=~"1|2"}', '{job=""}')

    def selector(self, metric: str | None = None) -> str:
        if metric is None and self.rng.random() < 0.06:
            return self.pick('{__name__=~"c|g"}', '{__name__="g",job=~"(?i)A"}',
                             '{__name__=~"h_.*",le=~"0\\.5|\\+Inf"}')
        return (metric or self.pick("c", "g", "g", "c")) + self.matchers()

    def offset(self) -> str:
        if self.in_subquery:  # an @ inside a subquery is refused (see promql_ast)
            return self.pick("", "", "", " offset 1m", " offset -1m")
        return self.pick("", "", "", "", " offset 1m", " offset 45s", " offset -1m", " @ 100",
                         " @ end()", " offset 30s @ start()", " @ 250.5")

    def range_(self) -> str:
        return self.pick("30s", "1m", "90s", "2m", "5m")

    def matrix(self, d: int, metric: str | None = None) -> Expr:
        if d > 1 and self.rng.random() < 0.15:
            self.in_subquery += 1
            inner = self.vector(1)
            self.in_subquery -= 1
            step = self.pick("", "15s", "30s", "1m")
            return Expr(f"({inner.text})[{self.pick('2m', '3m', '5m')}:{step}]{self.offset()}",
                        inner.ordered, inner.inexact, inner.ranked, inner.chaotic)
        return Expr(f"{self.selector(metric)}[{self.range_()}]{self.offset()}")

    def scalar(self, d: int) -> Expr:
        r = self.rng.random()
        if d <= 0 or r < 0.6:
            return Expr(self.pick("0", "1", "2", "0.5", "-1", "3", "1e-3", "100"))
        if r < 0.7:
            return Expr(self.pick("time()", "pi()"))
        if r < 0.85:
            inner = self.vector(d - 1)
            return Expr(f"scalar({inner.text})", inner.ordered, inner.inexact, inner.ranked,
                        inner.chaotic)
        a, b = self.scalar(d - 1), self.scalar(d - 1)
        op = self.pick("+", "-", "*", "/", "%", "^")
        return Expr(f"({a.text} {op} {b.text})", a.ordered or b.ordered,
                    a.inexact or b.inexact or op == "^", a.ranked or b.ranked,
                    a.chaotic or b.chaotic or (a.inexact or b.inexact) and op in ("%", "^"))

    def vector(self, d: int | None = None) -> Expr:
        d = self.depth if d is None else d
        if d <= 0:
            return Expr(self.selector() + self.offset())
        return self.rng.choice([self.range_fn, self.range_fn, self.aggregation, self.binary,
                                self.binary, self.function, self.setop])(d)

    def range_fn(self, d: int) -> Expr:
        name = self.pick("rate", "increase", "delta", "irate", "idelta", "deriv", "resets",
                         "changes", "avg_over_time", "min_over_time", "max_over_time",
                         "sum_over_time", "count_over_time", "last_over_time",
                         "stddev_over_time", "stdvar_over_time", "present_over_time",
                         "absent_over_time", "quantile_over_time", "predict_linear")
        m = self.matrix(d)
        if name == "quantile_over_time":
            return Expr(f"{name}({self.pick('0', '0.25', '0.5', '0.9', '1', '-1')}, {m.text})",
                        m.ordered, m.inexact, m.ranked, m.chaotic)
        if name == "predict_linear":
            return Expr(f"{name}({m.text}, {self.pick('60', '300', '-30')})", m.ordered,
                        m.inexact, m.ranked, m.chaotic)
        return Expr(f"{name}({m.text})", m.ordered, m.inexact, m.ranked, m.chaotic)

    def grouping(self) -> str:
        return self.pick("", " by (job)", " without (instance)", " by (instance, job)",
                         " by ()", " without ()")

    def aggregation(self, d: int) -> Expr:
        op = self.pick("sum", "avg", "min", "max", "count", "group", "stddev", "stdvar",
                       "topk", "bottomk", "quantile", "count_values")
        inner = self.vector(d - 1)
        param = {"topk": self.pick("1", "2", "3"), "bottomk": self.pick("1", "2"),
                 "quantile": self.pick("0", "0.5", "0.9", "1"),
                 "count_values": '"v"'}.get(op)
        args = f"{param}, {inner.text}" if param else inner.text
        chaos = inner.chaotic or (inner.inexact or inner.ordered) and op == "count_values"
        return Expr(f"{op}{self.grouping()} ({args})", inner.ordered or op in ORDERED,
                    inner.inexact, inner.ranked or op in ("topk", "bottomk") or chaos, chaos)

    def modifier(self, op: str) -> str:
        match = self.pick("", "", " on (job, instance)", " ignoring (instance)", " on (job)",
                          " on ()")
        if op not in ("and", "or", "unless") and match and self.rng.random() < 0.3:
            return match + self.pick(" group_left ()", " group_right ()", " group_left (instance)")
        return match

    def binary(self, d: int) -> Expr:
        op = self.pick("+", "-", "*", "/", "%", "^", "atan2", "==", "!=", ">", "<", ">=", "<=")
        bool_ = " bool" if op in ("==", "!=", ">", "<", ">=", "<=") and \
            self.rng.random() < 0.4 else ""
        a = self.vector(d - 1)
        b = self.scalar(1) if self.rng.random() < 0.5 else self.vector(d - 1)
        if self.rng.random() < 0.3:
            a, b = b, a
        mod = self.modifier(op) if not b.text[:1].isdigit() and not a.text[:1].isdigit() else ""
        inexact, ordered = a.inexact or b.inexact, a.ordered or b.ordered
        return Expr(f"({a.text}) {op}{bool_}{mod} ({b.text})", ordered,
                    inexact or op in INEXACT, a.ranked or b.ranked,
                    a.chaotic or b.chaotic or (inexact or ordered) and op in ("%", "^", "atan2"))

    def setop(self, d: int) -> Expr:
        op = self.pick("and", "or", "unless")
        a, b = self.vector(d - 1), self.vector(d - 1)
        return Expr(f"({a.text}) {op}{self.modifier(op)} ({b.text})", a.ordered or b.ordered,
                    a.inexact or b.inexact, a.ranked or b.ranked, a.chaotic or b.chaotic)

    def function(self, d: int) -> Expr:
        name = self.pick("abs", "ceil", "floor", "sqrt", "sgn", "exp", "ln", "clamp",
                         "clamp_min", "clamp_max", "round", "label_replace", "label_join",
                         "histogram_quantile", "absent", "timestamp", "vector", "sort",
                         "deg", "rad", "sin", "atan", "log2", "day_of_week", "hour")
        inner = self.vector(d - 1)
        v, o, i, r = inner.text, inner.ordered, inner.inexact, inner.ranked
        args = {
            "clamp": f"{v}, {self.pick('-1', '0', '2')}, {self.pick('5', '1', '-2')}",
            "clamp_min": f"{v}, {self.pick('0', '2')}", "clamp_max": f"{v}, 3",
            "round": f"{v}" + self.pick("", ", 0.5", ", 3", ", 0.1"),
            "label_replace": f'{v}, "{self.pick("x", "job")}", '
                             f'"{self.pick("$1-${2}$$", "${n}x", "$1x", "$9", "$")}", "job", '
                             f'"{self.pick("(a)", "(.)(.*)", "b", "", "(?P<n>.)")}"',
            "label_join": f'{v}, "{self.pick("x", "job")}", "{self.pick("-", "")}", "job", '
                          '"instance"',
            "timestamp": self.selector("g") + self.offset() if self.rng.random() < 0.6 else v,
            "absent": self.pick(v, 'nosuch{job="a",x=~"y"}', 'g{job="zz"}'),
        }.get(name, v)
        if name == "histogram_quantile":
            q = self.pick("0", "0.25", "0.5", "0.9", "0.99", "1", "-1", "2")
            match = self.pick("", '{job="a"}')
            rate = f"rate(h_bucket{match}[{self.pick('1m', '2m', '5m')}])"
            arg = self.pick(f"sum by (le, job) ({rate})", rate, "h_bucket")
            return Expr(f"histogram_quantile({q}, {arg})", "sum" in arg)
        if name == "vector":
            s = self.scalar(d - 1)
            return Expr(f"vector({s.text})", s.ordered, s.inexact, s.ranked, s.chaotic)
        if name in ("day_of_week", "hour") and self.rng.random() < 0.5:
            return Expr(f"{name}()")
        return Expr(f"{name}({args})", o, i or name in INEXACT, r,
                    inner.chaotic or (i or o) and name in CHAOTIC)


def times(rng: random.Random, interval: int) -> list[int]:
    """Evaluation times (s): random ones, and the lookback boundary."""
    return sorted({rng.randint(0, N * interval + 400) for _ in range(6)} | {300, 301})
