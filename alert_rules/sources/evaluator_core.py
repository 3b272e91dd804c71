"""The embedded evaluator of any supported PromQL tree (alert_rules.promql_ast) over a Window,
as Prometheus 2.42's engine.go evaluates an instant query: selectors with the 5-minute
lookback (a sample exactly 5 minutes old still counts), range selectors over [t-range, t],
offsets, subqueries on steps aligned to multiples of their step, functions
(evaluator_funcs), binary operators and aggregations (evaluator_ops). Every subexpression
is computed once per evaluation time (`memo`)."""

from __future__ import annotations

from functools import lru_cache

from inferwatch.alert_rules.promql_ast import (
    Aggregate,
    BinOp,
    Expr,
    Func,
    MatrixSel,
    Neg,
    Num,
    Str,
    Subquery,
    VectorSel,
    kind,
)
from inferwatch.alert_rules.sources import evaluator_funcs as funcs
from inferwatch.alert_rules.sources import evaluator_ops as ops
from inferwatch.alert_rules.sources.promql_eval import EvalError, drop_name
from inferwatch.alert_rules.sources.window import LOOKBACK_MS, Series, Window, matches

Labels = dict[str, str]
Vector = list[tuple[Labels, float]]
Matrix = list[tuple[Labels, list[int], list[float]]]
Value = Vector | float | str | Matrix
DEFAULT_STEP_MS = 60_000  # Prometheus's global evaluation_interval, the default subquery step


def label_key(labels: Labels) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


class PromQLEvaluator:
    """`instant(expr, t)`: the value of the tree at `t` (ms). `step_ms` is the step of a
    subquery that gives none (Prometheus: the global evaluation interval)."""

    def __init__(self, window: Window, step_ms: int = DEFAULT_STEP_MS,
                 lookback_ms: int = LOOKBACK_MS):
        self.window, self.step_ms, self.lookback_ms = window, step_ms, lookback_ms
        self.memo: dict[tuple[Expr, int, int], Value] = {}  # (node, time, query time)
        self.readers: dict[str | None, list[tuple[Expr, int, int]]] = {}  # name → memo keys
        self.query_t = 0  # the instant query's time: what `@ start()` and `@ end()` mean

    def clear(self) -> None:
        """Forget memoised results (the window changed)."""
        self.memo, self.readers = {}, {}

    def invalidate(self, names: set[str]) -> None:
        """Forget the results that read a series of one of these metric names (or a
        selector without a name), as when a rule wrote them: the rest stay valid."""
        memo, readers = self.memo, self.readers
        for name in (*names, None):
            for key in readers.pop(name, ()):
                memo.pop(key, None)

    def instant(self, expr: Expr, t: int) -> Vector:
        """A rule's result at t: a vector, or a scalar as one sample without labels."""
        self.query_t = t
        value = self.eval(expr, t)
        if isinstance(value, float):
            return [({}, value)]
        if isinstance(value, str) or kind(expr) == "matrix":
            raise EvalError(f"invalid expression type {kind(expr)} for a rule")
        return value  # type: ignore[return-value]

    def eval(self, expr: Expr, t: int) -> Value:
        if isinstance(expr, Num):
            return expr.value
        if isinstance(expr, Str):
            return expr.value
        if isinstance(expr, MatrixSel):  # read by one function, whose result is memoised:
            return self.matrix(expr, t)  # not kept (a list of floats per sample)
        key = (expr, t, self.query_t)  # `@ end()` below depends on the query's time too
        result = self.memo.get(key)
        if result is None:
            result = self.memo[key] = self._compute(expr, t)
            for name in reads(expr):
                self.readers.setdefault(name, []).append(key)
        return result

    def vector(self, expr: Expr, t: int) -> Vector:
        value = self.eval(expr, t)
        if not isinstance(value, list):
            raise EvalError(f"expected an instant vector, got {kind(expr)}")
        return value  # type: ignore[return-value]

    def scalar(self, expr: Expr, t: int) -> float:
        value = self.eval(expr, t)
        if not isinstance(value, float):
            raise EvalError(f"expected a scalar, got {kind(expr)}")
        return value

    def _compute(self, expr: Expr, t: int) -> Value:
        if isinstance(expr, VectorSel):
            ref, lookback, out = self.at(expr.at, t) - expr.offset, self.lookback_ms, []
            for series in self.series(expr):
                value = series.latest(ref, lookback)
                if value is not None:
                    out.append((series.labels, value))
            return out
        if isinstance(expr, Subquery):
            return self.subquery(expr, t)
        if isinstance(expr, Neg):
            inner = self.eval(expr.expr, t)
            if isinstance(inner, float):
                return -inner
            return unique([(drop_name(lb), -v) for lb, v in inner])  # type: ignore[misc]
        if isinstance(expr, Func):
            return funcs.call(self, expr, t)
        if isinstance(expr, BinOp):
            return ops.binary(self, expr, t)
        if isinstance(expr, Aggregate):
            return ops.aggregate(self, expr, t)
        raise EvalError(f"cannot evaluate {type(expr).__name__}")

    def series(self, sel: VectorSel) -> list[Series]:
        if sel.name is not None:
            return self.window.select(sel.name, sel.matchers)
        return [s for s in self.window.series.values() if matches(s.labels, sel.matchers)]

    def select(self, sel: VectorSel, t: int,
               at_timestamp: bool = False) -> list[tuple[Series, float, int]]:
        """(series, value, sample time) of each series with a sample in the lookback.
        `at_timestamp`: as `timestamp(x offset o @ a)` reads in engine.go: the samples the
        query fetched (up to a - o, from a - o - lookback), looked up from a itself."""
        ref, lookback, out = self.at(sel.at, t) - sel.offset, self.lookback_ms, []
        if at_timestamp and sel.at is not None:
            at = ref + sel.offset
            low = max(at, ref) - self.lookback_ms
            ref = min(at, ref)
            lookback = ref - low
        for series in self.series(sel):
            found = series.latest_sample(ref, lookback)
            if found is not None:
                out.append((series, found[1], found[0]))
        return out

    def at(self, at: int | str | None, t: int) -> int:
        """The time a node with the `@` modifier `at` is evaluated at, inside a query at t."""
        if at is None:
            return t
        return self.query_t if isinstance(at, str) else at

    def matrix(self, node: MatrixSel, t: int) -> Matrix:
        maxt = self.at(node.sel.at, t) - node.sel.offset
        mint = maxt - node.range
        out = []
        for series in self.series(node.sel):
            times, values = series.range(mint, maxt)
            if times:
                out.append((series.labels, times, values))
        return out

    def subquery(self, node: Subquery, t: int) -> Matrix:
        """The inner expression at each step in [t-offset-range, t-offset], the steps being
        multiples of the step (engine.go's SubqueryExpr)."""
        step = node.step or self.step_ms
        end = self.at(node.at, t) - node.offset
        low = end - node.range
        start = -(-low // step) * step
        rows: dict[tuple[tuple[str, str], ...], tuple[Labels, list[int], list[float]]] = {}
        for ts in range(start, end + 1, step):
            value = self.eval(node.expr, ts)
            vector = [({}, value)] if isinstance(value, float) else value
            for labels, v in vector:  # type: ignore[union-attr]
                row = rows.get(label_key(labels))
                if row is None:
                    row = rows[label_key(labels)] = (labels, [], [])
                row[1].append(ts)
                row[2].append(v)
        return list(rows.values())

    def range_arg(self, expr: Expr, t: int) -> tuple[Matrix, int, int, int]:
        """A range argument: its series, the window's start and end, and its range."""
        matrix = self.eval(expr, t)
        if isinstance(expr, MatrixSel):
            end, rng = self.at(expr.sel.at, t) - expr.sel.offset, expr.range
        elif isinstance(expr, Subquery):
            end, rng = self.at(expr.at, t) - expr.offset, expr.range
        else:
            raise EvalError("expected a range vector")
        return matrix, end - rng, end, rng  # type: ignore[return-value]


@lru_cache(maxsize=8192)
def reads(expr: Expr) -> frozenset[str | None]:
    """The metric names an expression's selectors read, None for a selector without one."""
    if isinstance(expr, VectorSel):
        return frozenset((expr.name,))
    if isinstance(expr, MatrixSel):
        return reads(expr.sel)
    out: frozenset[str | None] = frozenset()
    for child in (getattr(expr, "expr", None), getattr(expr, "param", None),
                  getattr(expr, "lhs", None), getattr(expr, "rhs", None),
                  *getattr(expr, "args", ())):
        if child is not None:
            out |= reads(child)
    return out


def unique(vector: Vector) -> Vector:
    """engine.go's check after each operation: no two samples with one label set."""
    if len(vector) > 1 and len({label_key(lb) for lb, _ in vector}) != len(vector):
        raise EvalError("vector cannot contain metrics with the same labelset")
    return vector
