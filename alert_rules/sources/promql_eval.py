"""Evaluates the compiler's PromQL trees over a Window, the way Prometheus does: rate/increase
with counter resets and extrapolation (promql/functions.go extrapolatedRate), *_over_time,
aggregation, histogram_quantile with bucket interpolation (promql/quantile.go), one-to-one
arithmetic, filtering comparisons and and/or."""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Callable, Sequence

from inferwatch.alert_rules.promql import Agg, Binary, Call, Node, Number, Selector
from inferwatch.alert_rules.sources.kahan import avg_over_time
from inferwatch.alert_rules.sources.window import LOOKBACK_MS, Window

Labels = dict[str, str]
Vector = list[tuple[Labels, float]]
OPS: dict[str, Callable[[float, float], float | bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
    "==": operator.eq, "!=": operator.ne}


class EvalError(Exception):
    """The expression cannot be evaluated (Prometheus would answer an error too)."""


def arith(op: str, a: float, b: float) -> float:
    """IEEE arithmetic as Go does it: x/0 is ±Inf or NaN, never an exception."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1, b)
    return a / b


def signature(labels: Labels) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))


def drop_name(labels: Labels) -> Labels:
    return {k: v for k, v in labels.items() if k != "__name__"}


class Evaluator:
    """Instant evaluation at one time `t` (ms). Every subexpression is computed once per time
    and window content (`memo`, which the caller clears when either changes): a rule's
    condition and its no-data check, and rules sharing a selector or a rate, share the work.
    Vectors in the memo are shared, never modified."""

    def __init__(self, window: Window, t: int, memo: dict[Node, Vector] | None = None):
        self.window, self.t = window, t
        self.memo = memo if memo is not None else {}

    def eval(self, node: Node) -> Vector | float:
        if isinstance(node, Number):
            return float(node.value)
        result = self.memo.get(node)
        if result is None:
            result = self.memo[node] = self._compute(node)
        return result

    def _compute(self, node: Node) -> Vector:
        if isinstance(node, Selector):
            return self.instant(node)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Agg):
            return aggregate(node.op, node.by, self.vector(node.expr))
        if isinstance(node, Binary):
            return self.binary(node)
        extra = {"__name__": node.name, **dict(node.labels)}
        return [({**lb, **extra}, v) for lb, v in self.vector(node.expr)]

    def vector(self, node: Node) -> Vector:
        result = self.eval(node)
        if isinstance(result, float):
            raise EvalError("expected an instant vector, got a scalar")
        return result

    def instant(self, sel: Selector) -> Vector:
        out = []
        for series in self.window.select(sel.metric, sel.matchers):
            value = series.latest(self.t, LOOKBACK_MS)
            if value is not None:
                out.append((series.labels, value))
        return out

    def call(self, node: Call) -> Vector:
        if node.func == "histogram_quantile":
            q = self.eval(node.args[0])
            if not isinstance(q, float):
                raise EvalError("histogram_quantile needs a scalar quantile")
            return histogram_quantile(q, self.vector(node.args[1]))
        (sel,) = node.args
        if not isinstance(sel, Selector) or not sel.range:
            raise EvalError(f"{node.func} needs a range selector")
        start, out = self.t - int(sel.range * 1000), []
        func = RANGE_FUNCTIONS[node.func]
        for series in self.window.select(sel.metric, sel.matchers):
            times, values = series.range(start, self.t)
            value = func(times, values, start, self.t)
            if value is not None:
                out.append((series.plain, value))
        return out

    def binary(self, node: Binary) -> Vector:
        lhs, rhs = self.eval(node.lhs), self.eval(node.rhs)
        if node.op in ("and", "or"):
            if isinstance(lhs, float) or isinstance(rhs, float):
                raise EvalError(f"{node.op} needs two vectors")
            sigs = {signature(lb) for lb, _ in (rhs if node.op == "and" else lhs)}
            if node.op == "and":
                return [(lb, v) for lb, v in lhs if signature(lb) in sigs]
            return lhs + [(lb, v) for lb, v in rhs if signature(lb) not in sigs]
        if node.op in OPS:
            if not isinstance(rhs, float) or isinstance(lhs, float):
                raise EvalError("only vector-to-scalar comparisons are supported")
            return [(lb, v) for lb, v in lhs if OPS[node.op](v, rhs)]
        return arithmetic(node.op, lhs, rhs)


def arithmetic(op: str, lhs: Vector | float, rhs: Vector | float) -> Vector:
    if isinstance(lhs, float) and isinstance(rhs, float):
        raise EvalError("scalar-to-scalar arithmetic is folded by the compiler")
    if isinstance(rhs, float):
        return [(drop_name(lb), arith(op, v, rhs)) for lb, v in lhs]
    if isinstance(lhs, float):
        return [(drop_name(lb), arith(op, lhs, v)) for lb, v in rhs]
    right: dict[tuple[tuple[str, str], ...], float] = {}
    for lb, v in rhs:
        sig = signature(lb)
        if sig in right:
            raise EvalError("found duplicate series for the match group on the right side")
        right[sig] = v
    out, seen = [], set()
    for lb, v in lhs:
        sig = signature(lb)
        if sig in right:
            if sig in seen:
                raise EvalError("many-to-one matching must be explicit (group_left)")
            seen.add(sig)
            out.append((drop_name(lb), arith(op, v, right[sig])))
    return out


def aggregate(op: str, by: tuple[str, ...], vector: Vector) -> Vector:
    groups: dict[tuple[str, ...], list[float]] = {}
    for labels, value in vector:
        key = tuple([labels.get(b, "") for b in by])
        values = groups.get(key)
        if values is None:
            groups[key] = [value]
        else:
            values.append(value)
    out = []
    for key, values in groups.items():
        labels = {b: v for b, v in zip(by, key, strict=True) if v != ""}
        out.append((labels, AGGREGATIONS[op](values)))
    return out


def has_nan(values: list[float]) -> bool:
    """False only when no value is NaN: a sum is NaN when a term is (or when +Inf meets -Inf,
    where the callers' slow paths are right too), and `sum` is one C loop."""
    total = sum(values)
    return total != total


def _min_max(values: list[float], pick: Callable[..., float]) -> float:
    if not has_nan(values):
        return pick(values) if values else math.nan  # what the filter below would give
    real = [v for v in values if v == v]  # NaN is the one value unequal to itself
    return pick(real) if real else math.nan


def go_sum(values: list[float]) -> float:
    """`sum` as engine.go aggregates: the first value, then `+=` in order, uncompensated."""
    return add_in_order(values[0], values[1:])


def add_in_order(total: float, values: Sequence[float]) -> float:
    """`total += v` for each value in order, as Go's loops add. CPython before 3.12 adds
    floats exactly so when the start is a float (a start of 0 would turn a lone -0.0 into
    0.0); 3.12 compensates, so there it is a loop."""
    if _PLAIN_SUM:
        return sum(values, total)
    for v in values:
        total += v
    return total


_PLAIN_SUM = sys.version_info < (3, 12)
_INF = math.inf


def running_mean(values: list[float]) -> float:
    """engine.go's `avg`: a running mean that divides before subtracting, so values near
    the float64 maximum do not overflow to +Inf as sum / count does."""
    mean, count, inf = values[0], 1.0, _INF
    for v in values[1:]:
        count += 1
        if (mean == inf or mean == -inf) and (v == mean or v == v and -inf < v < inf):
            continue  # Inf and Inf of its sign, or Inf and a finite value: Inf stays right
        mean += v / count - mean / count
    return mean


AGGREGATIONS: dict[str, Callable[[list[float]], float]] = {
    "sum": go_sum,
    "avg": running_mean,
    "min": lambda vs: _min_max(vs, min),
    "max": lambda vs: _min_max(vs, max),
    "count": lambda vs: float(len(vs)),
}


def extrapolated_rate(times: list[int], values: list[float], start: int, end: int,
                      is_rate: bool, is_counter: bool = True) -> float | None:
    """Prometheus's extrapolatedRate: for counters resets added back, extrapolated towards
    the window's edges (not below zero, not further than 1.1 sample intervals); with
    `is_counter` false, `delta`."""
    if len(values) < 2:
        return None
    resets = [a for a, b in zip(values, values[1:], strict=False) if b < a] if is_counter else []
    return extrapolate(len(values), times[0], values[0], times[-1], values[-1], resets, start,
                       end, is_rate, is_counter)


def extrapolate(count: int, first_t: int, first: float, last_t: int, last: float,
                resets: Sequence[float], start: int, end: int, is_rate: bool,
                is_counter: bool) -> float | None:
    """extrapolatedRate from what it reads of the samples: their count, the first and the
    last, and the value before each counter reset (added in order, as Go's loop adds)."""
    if count < 2:
        return None
    result = add_in_order(last - first, resets) if resets else last - first
    to_start = (first_t - start) / 1000
    to_end = (end - last_t) / 1000
    sampled = (last_t - first_t) / 1000
    average = sampled / (count - 1)
    if is_counter and result > 0 and first >= 0:
        to_zero = sampled * (first / result)
        if to_zero < to_start:
            to_start = to_zero
    threshold = average * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else average / 2
    interval += to_end if to_end < threshold else average / 2
    factor = interval / sampled  # Go's order: the factor first, then one multiplication
    if is_rate:
        factor /= (end - start) / 1000
    return result * factor


def _over(func: Callable[[list[float]], float]) -> Callable[..., float | None]:
    return lambda times, values, start, end: func(values) if values else None


RANGE_FUNCTIONS: dict[str, Callable[[list[int], list[float], int, int], float | None]] = {
    "rate": lambda ts, vs, s, e: extrapolated_rate(ts, vs, s, e, True),
    "increase": lambda ts, vs, s, e: extrapolated_rate(ts, vs, s, e, False),
    "avg_over_time": _over(avg_over_time),
    "min_over_time": _over(lambda vs: _min_max(vs, min)),
    "max_over_time": _over(lambda vs: _min_max(vs, max)),
}


def histogram_quantile(q: float, vector: Vector) -> Vector:
    """Per label set without `le`, the q-quantile interpolated within its bucket."""
    groups: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
    for labels, value in vector:
        try:
            bound = float(labels.get("le", ""))
        except ValueError:
            continue
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "le" and k != "__name__"))
        groups.setdefault(key, []).append((bound, value))
    return [(dict(key), bucket_quantile(q, buckets)) for key, buckets in groups.items()]


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """promql/quantile.go bucketQuantile (classic histograms), step by step: sort, coalesce
    equal bounds, make the counts monotonic (a NaN count stays NaN, as in Go, and so does
    whatever it reaches), then Go's binary search for the rank."""
    if math.isnan(q):
        return math.nan
    if q < 0 or q > 1:
        return -math.inf if q < 0 else math.inf
    buckets = sorted(buckets, key=lambda b: b[0])
    if not buckets or not math.isinf(buckets[-1][0]) or buckets[-1][0] < 0:
        return math.nan
    bounds, counts = [buckets[0][0]], [buckets[0][1]]
    for bound, count in buckets[1:]:  # coalesceBuckets
        if bound == bounds[-1]:
            counts[-1] += count
        else:
            bounds.append(bound)
            counts.append(count)
    high = counts[0]
    for j in range(1, len(counts)):  # ensureMonotonic: NaN compares false both ways
        if counts[j] > high:
            high = counts[j]
        elif counts[j] < high:
            counts[j] = high
    if len(bounds) < 2:
        return math.nan
    observations = counts[-1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = go_search(len(bounds) - 1, lambda j: counts[j] >= rank)
    if b == len(bounds) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    start, end, count = 0.0, bounds[b], counts[b]
    if b > 0:
        start = bounds[b - 1]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return start + (end - start) * arith("/", rank, count)


def go_search(n: int, pred: Callable[[int], bool]) -> int:
    """Go's sort.Search: the binary search itself, which matters when `pred` is not
    monotonic (NaN counts)."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) >> 1
        if not pred(mid):
            lo = mid + 1
        else:
            hi = mid
    return lo
