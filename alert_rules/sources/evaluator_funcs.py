"""PromQL functions as Prometheus 2.42's promql/functions.go computes them: the range
functions (extrapolatedRate, instantValue, linearRegression, the Kahan-compensated
*_over_time), math and date functions, clamp, round, label_replace/label_join (Go's
regexp.Expand), absent/absent_over_time, histogram_quantile (quantile.go) and the rest."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

from inferwatch.alert_rules.promql_ast import Func, MatrixSel, Str, VectorSel
from inferwatch.alert_rules.sources import gomath
from inferwatch.alert_rules.sources.evaluator_labels import label_join, label_replace
from inferwatch.alert_rules.sources.kahan import avg_over_time, linear_regression
from inferwatch.alert_rules.sources.promql_eval import (
    EvalError,
    _min_max,
    bucket_quantile,
    drop_name,
    extrapolate,
    extrapolated_rate,
    has_nan,
)

if TYPE_CHECKING:
    from inferwatch.alert_rules.sources.evaluator_core import PromQLEvaluator, Value, Vector

Range = Callable[[list[int], list[float], int, int, int, float, int], float | None]


def kahan_inc(inc: float, total: float, c: float) -> tuple[float, float]:
    t = total + inc
    if abs(total) >= abs(inc):
        c += (total - t) + inc
    else:
        c += (inc - t) + total
    return t, c


def instant_value(values: list[float], times: list[int], is_rate: bool) -> float | None:
    if len(values) < 2:
        return None
    last, prev = values[-1], values[-2]
    result = last if is_rate and last < prev else last - prev
    interval = times[-1] - times[-2]
    if interval == 0:
        return None
    return result / (interval / 1000) if is_rate else result


def sum_over_time(values: list[float]) -> float:
    total = c = 0.0
    for v in values:
        total, c = kahan_inc(v, total, c)
    return total if math.isinf(total) else total + c


def variance_over_time(values: list[float]) -> float:
    count = mean = c_mean = aux = c_aux = 0.0
    for v in values:
        count += 1
        delta = v - (mean + c_mean)
        mean, c_mean = kahan_inc(delta / count, mean, c_mean)
        aux, c_aux = kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux)
    return (aux + c_aux) / count


def go_quantile(q: float, values: list[float]) -> float:
    """quantile.go quantile(): NaN sorts first, then linear interpolation between ranks."""
    if not values or math.isnan(q):
        return math.nan
    if q < 0 or q > 1:
        return -math.inf if q < 0 else math.inf
    if has_nan(values):
        ordered = sorted(values, key=lambda v: (not math.isnan(v), v if v == v else 0.0))
    else:  # the same order: the key above compares as the value itself
        ordered = sorted(values)
    n = len(ordered)
    rank = q * (n - 1)
    lower = max(0.0, math.floor(rank))
    upper = min(n - 1.0, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[int(lower)] * (1 - weight) + ordered[int(upper)] * weight


def go_quantile_of(values: list[float], q: float) -> float:
    return go_quantile(q, values)


def _resets(values: list[float]) -> float:
    return float(sum(1 for a, b in zip(values, values[1:], strict=False) if b < a))


def _changes(values: list[float]) -> float:
    return float(sum(1 for a, b in zip(values, values[1:], strict=False)
                     if b != a and not (math.isnan(a) and math.isnan(b))))


def _max_over(values: list[float]) -> float:
    return _min_max(values, max)


def _min_over(values: list[float]) -> float:
    return _min_max(values, min)


OVER: dict[str, Callable[[list[float], float], float]] = {  # of the values alone
    "resets": lambda vs, a: _resets(vs),
    "changes": lambda vs, a: _changes(vs),
    "avg_over_time": lambda vs, a: avg_over_time(vs),
    "min_over_time": lambda vs, a: _min_over(vs),
    "max_over_time": lambda vs, a: _max_over(vs),
    "sum_over_time": lambda vs, a: sum_over_time(vs),
    "count_over_time": lambda vs, a: float(len(vs)),
    "last_over_time": lambda vs, a: vs[-1],
    "present_over_time": lambda vs, a: 1.0,
    "quantile_over_time": go_quantile_of,
    "stddev_over_time": lambda vs, a: math.sqrt(variance_over_time(vs))
    if variance_over_time(vs) >= 0 else math.nan,
    "stdvar_over_time": lambda vs, a: variance_over_time(vs),
}
RANGE: dict[str, Range] = {
    "rate": lambda ts, vs, s, e, r, a, t: extrapolated_rate(ts, vs, e - r, e, True),
    "increase": lambda ts, vs, s, e, r, a, t: extrapolated_rate(ts, vs, e - r, e, False),
    "delta": lambda ts, vs, s, e, r, a, t: extrapolated_rate(ts, vs, e - r, e, False, False),
    "irate": lambda ts, vs, s, e, r, a, t: instant_value(vs, ts, True),
    "idelta": lambda ts, vs, s, e, r, a, t: instant_value(vs, ts, False),
    "deriv": lambda ts, vs, s, e, r, a, t: (
        linear_regression(ts, vs, ts[0])[0] if len(vs) > 1 else None),
    "predict_linear": lambda ts, vs, s, e, r, a, t: _predict(ts, vs, a, t),
    **{name: lambda ts, vs, s, e, r, a, t, f=f: f(vs, a) for name, f in OVER.items()},
}


def _predict(times: list[int], values: list[float], duration: float, t: int) -> float | None:
    if len(values) < 2:
        return None
    slope, intercept = linear_regression(times, values, t)
    return slope * duration + intercept


def call(ev: PromQLEvaluator, node: Func, t: int) -> Value:
    name, args = node.name, node.args
    if name in RANGE or name == "absent_over_time":
        return _range_call(ev, node, t)
    if name == "time":
        return t / 1000
    if name == "pi":
        return math.pi
    if name == "vector":
        return [({}, ev.scalar(args[0], t))]
    if name == "scalar":
        vector = ev.vector(args[0], t)
        return vector[0][1] if len(vector) == 1 else math.nan
    if name in gomath.DATE:
        f = gomath.DATE[name]
        if not args:
            return [({}, f(gomath.civil(t // 1000)))]
        return _unique([(drop_name(lb), f(gomath.civil(gomath.to_int64(v))))
                        for lb, v in ev.vector(args[0], t)])
    if name == "timestamp":
        if isinstance(args[0], VectorSel):
            return _unique([(drop_name(s.labels), ts / 1000)
                            for s, _, ts in ev.select(args[0], t, at_timestamp=True)])
        return _unique([(drop_name(lb), t / 1000) for lb, _ in ev.vector(args[0], t)])
    if name == "absent":
        if ev.vector(args[0], t):
            return []
        return [(absent_labels(args[0]), 1.0)]
    if name == "histogram_quantile":
        return histogram_quantile(ev.scalar(args[0], t), ev.vector(args[1], t))
    vector = ev.vector(args[0], t)
    if name in ("sort", "sort_desc"):  # 2.42's funcSort(Desc): by value, NaN last
        desc = name == "sort_desc"
        return sorted(vector, key=lambda s: (math.isnan(s[1]), -s[1] if desc else s[1]))
    if name in gomath.MATH:
        f = gomath.MATH[name]
        return _unique([(drop_name(lb), f(v)) for lb, v in vector])
    rest = [ev.eval(a, t) for a in args[1:]]
    if name == "clamp":
        low, high = rest
        if high < low:  # type: ignore[operator]
            return []
        return _unique([(drop_name(lb), gomath.go_max(low, gomath.go_min(high, v)))  # type: ignore[arg-type]
                        for lb, v in vector])
    if name in ("clamp_min", "clamp_max"):
        f2 = gomath.go_max if name == "clamp_min" else gomath.go_min
        return _unique([(drop_name(lb), f2(rest[0], v)) for lb, v in vector])  # type: ignore[arg-type]
    if name == "round":
        inverse = 1.0 / (rest[0] if rest else 1.0)  # type: ignore[operator]
        return _unique([(drop_name(lb), math.floor(v * inverse + 0.5) / inverse
                         if math.isfinite(v * inverse + 0.5) else (v * inverse + 0.5) / inverse)
                        for lb, v in vector])
    if name == "label_replace":
        return _unique(label_replace(vector, *[a.value for a in args[1:]  # type: ignore[union-attr]
                                               if isinstance(a, Str)]))
    if name == "label_join":
        strings = [a.value for a in args[1:] if isinstance(a, Str)]
        return _unique(label_join(vector, strings[0], strings[1], strings[2:]))
    raise EvalError(f"function {name} is not supported")


def _unique(vector: Vector) -> Vector:
    from inferwatch.alert_rules.sources.evaluator_core import unique
    return unique(vector)


COUNTER = {"rate": (True, True), "increase": (False, True), "delta": (False, False)}


def _counter_call(ev: PromQLEvaluator, name: str, arg: MatrixSel, t: int) -> Vector:
    """rate/increase/delta of a range selector straight from each series' first and last
    samples and its recorded resets (Series.counter_range), no samples copied."""
    is_rate, is_counter = COUNTER[name]
    end = ev.at(arg.sel.at, t) - arg.sel.offset
    start, out = end - arg.range, []
    for series in ev.series(arg.sel):
        parts = series.counter_range(start, end)
        if parts is None:
            continue
        count, first_t, first, last_t, last, resets = parts
        value = extrapolate(count, first_t, first, last_t, last, resets if is_counter else [],
                            start, end, is_rate, is_counter)
        if value is not None:
            out.append((series.plain, value))
    return out


def _range_call(ev: PromQLEvaluator, node: Func, t: int) -> Value:
    name = node.name
    index = 1 if name == "quantile_over_time" else 0
    arg = node.args[index]
    if isinstance(arg, MatrixSel) and (name in COUNTER or name in OVER):
        return _selector_call(ev, name, node, arg, t)
    matrix, start, end, rng = ev.range_arg(arg, t)
    if name == "absent_over_time":
        if any(times for _, times, _ in matrix):
            return []
        return [(absent_labels(arg.sel) if hasattr(arg, "sel") else {}, 1.0)]
    extra = _param(ev, node, t)
    f = RANGE[name]
    out = []
    for labels, times, values in matrix:
        value = f(times, values, start, end, rng, extra, t)
        if value is not None:
            out.append((labels if name == "last_over_time" else drop_name(labels), value))
    return _unique(out)


def _param(ev: PromQLEvaluator, node: Func, t: int) -> float:
    if node.name == "quantile_over_time":
        return ev.scalar(node.args[0], t)
    if node.name == "predict_linear":
        return ev.scalar(node.args[1], t)
    return 0.0


def _selector_call(ev: PromQLEvaluator, name: str, node: Func, arg: MatrixSel,
                   t: int) -> Vector:
    """A function of the values of a range selector, or rate/increase/delta, straight from
    each series (no matrix made). Each series' labels without the name are its own when
    the selector names the metric: then the result is unique without a check."""
    if name in COUNTER:
        out = _counter_call(ev, name, arg, t)
    else:
        end = ev.at(arg.sel.at, t) - arg.sel.offset
        start, out = end - arg.range, []
        selected = ev.series(arg.sel)
        f, extra = OVER[name], _param(ev, node, t)
        keep_name = name == "last_over_time"
        for series in selected:
            values = series.range_values(start, end)
            if values:
                out.append((series.labels if keep_name else series.plain, f(values, extra)))
    return out if arg.sel.name is not None else _unique(out)


def absent_labels(expr: object) -> dict[str, str]:
    """createLabelsForAbsentFunction: the labels matched exactly, once each."""
    if not isinstance(expr, VectorSel):
        return {}
    out: dict[str, str] = {}
    has: set[str] = set()
    for label, op, value in expr.matchers:
        if label == "__name__":
            continue
        if op == "=" and label not in has:
            out[label] = value
            has.add(label)
        else:
            out.pop(label, None)
    return {k: v for k, v in out.items() if v != ""}


def histogram_quantile(q: float, vector: Vector) -> Vector:
    """funcHistogramQuantile: buckets grouped by every label but `le` (the metric name
    included), each group's quantile labelled without `le` and the name (in label order)."""
    groups: dict[frozenset[tuple[str, str]], tuple[dict[str, str], list[tuple[float, float]]]]
    groups = {}
    for labels, value in vector:
        rest = labels.copy()
        try:
            bound = _bound(rest.pop("le", ""))
        except ValueError:
            continue
        key = frozenset(rest.items())
        group = groups.get(key)
        if group is None:
            rest.pop("__name__", None)
            group = groups[key] = (dict(sorted(rest.items())), [])
        group[1].append((bound, value))
    return _unique([(labels, bucket_quantile(q, buckets)) for labels, buckets in groups.values()])


_bound = lru_cache(maxsize=1024)(gomath.parse_float)  # an `le` text's bound (a few per query)
