"""Binary operators and aggregations as Prometheus 2.42's engine.go evaluates them:
scalarBinop/vectorElemBinop (Go's Pow and Mod), VectorscalarBinop, VectorBinop with on/
ignoring and group_left/group_right (resultMetric), the set operators, and aggregation()
with its running mean, Welford variance, container/heap topk/bottomk and count_values."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from itertools import compress, repeat
from typing import TYPE_CHECKING

from inferwatch.alert_rules.promql_ast import COMPARISONS, SET_OPS, Aggregate, BinOp
from inferwatch.alert_rules.sources import gomath
from inferwatch.alert_rules.sources.goheap import heap_pop, heap_up
from inferwatch.alert_rules.sources.promql_eval import (
    AGGREGATIONS,
    EvalError,
    arith,
    drop_name,
    go_sum,
)

if TYPE_CHECKING:
    from inferwatch.alert_rules.sources.evaluator_core import PromQLEvaluator, Value, Vector

Labels = dict[str, str]
ARITH = ("+", "-", "*", "/", "^", "%")
TESTS: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt,
    ">=": operator.ge, "<=": operator.le}
_VALUE = operator.itemgetter(1)


def elem(op: str, a: float, b: float) -> tuple[float, bool]:
    """vectorElemBinop: the value and whether a comparison keeps the sample."""
    if op in ("+", "-", "*", "/"):
        return arith(op, a, b), True
    if op == "^":
        return gomath.go_pow(a, b), True
    if op == "%":
        return gomath.go_mod(a, b), True
    if op == "atan2":
        return math.atan2(a, b), True
    return a, TESTS[op](a, b)


def binary(ev: PromQLEvaluator, node: BinOp, t: int) -> Value:
    from inferwatch.alert_rules.sources.evaluator_core import unique
    lhs, rhs = ev.eval(node.lhs, t), ev.eval(node.rhs, t)
    if isinstance(lhs, float) and isinstance(rhs, float):
        value, keep = elem(node.op, lhs, rhs)
        return float(keep) if node.op in COMPARISONS else value
    if isinstance(lhs, float) or isinstance(rhs, float):
        swap = isinstance(lhs, float)
        vector, scalar = (rhs, lhs) if swap else (lhs, rhs)
        if node.op in COMPARISONS and not node.bool:  # a filter: a subset of a vector,
            return filtered(node.op, vector, scalar, swap)  # type: ignore[arg-type]  # unique
        return unique(vector_scalar(node, vector, scalar, swap))  # type: ignore[arg-type]
    if node.op in SET_OPS:
        return unique(set_op(node, lhs, rhs))  # type: ignore[arg-type]
    return unique(vector_binop(node, lhs, rhs))  # type: ignore[arg-type]


def filtered(op: str, vector: Vector, scalar: float, swap: bool) -> Vector:
    """A comparison without `bool`: the samples (labels and value as they were) for which
    `value op scalar` holds (`scalar op value` when `swap`), tested in C."""
    test, values = TESTS[op], map(_VALUE, vector)
    kept = map(test, repeat(scalar), values) if swap else map(test, values, repeat(scalar))
    return list(compress(vector, kept))


def vector_scalar(node: BinOp, vector: Vector, scalar: float, swap: bool) -> Vector:
    out = []
    comparison = node.op in COMPARISONS
    drop = node.op in ARITH or node.bool
    for labels, v in vector:
        lv, rv = (scalar, v) if swap else (v, scalar)
        value, keep = elem(node.op, lv, rv)
        if comparison and swap:
            value = rv
        if node.bool:
            value, keep = float(keep), True
        if keep:
            out.append((drop_name(labels) if drop else labels, value))
    return out


def signature(node: BinOp) -> Callable[[Labels], tuple[tuple[str, str], ...]]:
    if node.on:
        names = sorted(node.labels)
        return lambda lb: tuple((n, lb[n]) for n in names if n in lb)
    skip = {"__name__", *node.labels}
    return lambda lb: tuple(sorted((k, v) for k, v in lb.items() if k not in skip))


def set_op(node: BinOp, lhs: Vector, rhs: Vector) -> Vector:
    sig = signature(node)
    if node.op == "and":
        if not lhs or not rhs:
            return []
        right = {sig(lb) for lb, _ in rhs}
        return [s for s in lhs if sig(s[0]) in right]
    if node.op == "or":
        if not lhs or not rhs:
            return list(lhs or rhs)
        left = {sig(lb) for lb, _ in lhs}
        return [*lhs, *(s for s in rhs if sig(s[0]) not in left)]
    if not lhs or not rhs:
        return list(lhs)
    right = {sig(lb) for lb, _ in rhs}
    return [s for s in lhs if sig(s[0]) not in right]


def _go_labels(labels: Labels) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def vector_binop(node: BinOp, lhs: Vector, rhs: Vector) -> Vector:
    if not lhs or not rhs:
        return []
    swapped = node.card == "one-to-many"
    if swapped:
        lhs, rhs = rhs, lhs
    sig = signature(node)
    right: dict[tuple[tuple[str, str], ...], tuple[Labels, float]] = {}
    for labels, v in rhs:
        key = sig(labels)
        if key in right:
            side = "left" if swapped else "right"
            raise EvalError(
                f"found duplicate series for the match group {_go_labels(dict(key))} on the "
                f"{side} hand-side of the operation: [{_go_labels(labels)}, "
                f"{_go_labels(right[key][0])}];many-to-many matching not allowed: matching "
                "labels must be unique on one side")
        right[key] = (labels, v)
    matched: dict[tuple[tuple[str, str], ...], set[tuple[tuple[str, str], ...]] | None] = {}
    out = []
    for labels, v in lhs:
        key = sig(labels)
        found = right.get(key)
        if found is None:
            continue
        r_labels, rv = found
        vl, vr = (rv, v) if swapped else (v, rv)
        value, keep = elem(node.op, vl, vr)
        if node.bool:
            value = float(keep)
        elif not keep:
            continue
        metric = result_metric(node, labels, r_labels)
        if node.bool:
            metric = drop_name(metric)
        if node.card == "one-to-one":
            if key in matched:
                raise EvalError("multiple matches for labels: many-to-one matching must be "
                                "explicit (group_left/group_right)")
            matched[key] = None
        else:
            inserted = matched.setdefault(key, set())
            assert inserted is not None
            metric_key = tuple(sorted(metric.items()))
            if metric_key in inserted:
                raise EvalError("multiple matches for labels: grouping labels must ensure "
                                "unique matches")
            inserted.add(metric_key)
        out.append((metric, value))
    return out


def result_metric(node: BinOp, lhs: Labels, rhs: Labels) -> Labels:
    out = dict(lhs)
    if node.op in ARITH:
        out.pop("__name__", None)
    if node.card == "one-to-one":
        if node.on:
            out = {k: v for k, v in out.items() if k in node.labels}
        else:
            for name in node.labels:
                out.pop(name, None)
    for name in node.include:
        if rhs.get(name, ""):
            out[name] = rhs[name]
        else:
            out.pop(name, None)
    return out


class _Group:
    __slots__ = ("labels", "value", "mean", "count", "heap")

    def __init__(self, labels: Labels, value: float):
        self.labels, self.value, self.mean, self.count = labels, value, value, 1
        self.heap: list[tuple[Labels, float]] = []


def aggregate(ev: PromQLEvaluator, node: Aggregate, t: int) -> Value:
    from inferwatch.alert_rules.sources.evaluator_core import unique
    op, grouping, without = node.op, list(node.grouping), node.without
    param = ev.eval(node.param, t) if node.param is not None else None
    vector = ev.vector(node.expr, t)
    k = 0
    if op in ("topk", "bottomk"):
        if not -(2.0 ** 63) <= param <= 2.0 ** 63 - 1:  # type: ignore[operator]
            raise EvalError(f"Scalar value {gomath.format_e(param)} overflows int64")  # type: ignore[arg-type]
        k = int(param)  # type: ignore[arg-type]
        if k < 1:
            return []
    if op in AGGREGATIONS and not without:
        return _by(AGGREGATIONS[op], grouping, vector)
    if op == "count_values" and not without:
        grouping = sorted([*grouping, param])  # type: ignore[list-item]
    groups: dict[tuple[tuple[str, str], ...], _Group] = {}
    for labels, v in vector:
        if op == "count_values":
            labels = {**labels, param: gomath.format_f(v)}  # type: ignore[dict-item]
        if without:
            skip = {"__name__", *grouping}
            key = tuple(sorted((a, b) for a, b in labels.items() if a not in skip))
        else:
            key = tuple((g, labels[g]) for g in grouping if g in labels)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(dict(key), v)
            if op in ("stddev", "stdvar"):
                group.value = 0.0
            elif op in ("topk", "bottomk", "quantile"):
                group.heap = [(labels, v)]
            elif op == "group":
                group.value = 1.0
            elif op == "sum":
                group.heap = [({}, v)]
            continue
        _add(op, group, labels, v, k)
    out: Vector = []
    for group in groups.values():
        if op in ("topk", "bottomk"):
            out += group.heap
            continue
        out.append((group.labels, _final(op, group, param)))
    return unique(out)


def _by(fold: Callable[[list[float]], float], grouping: list[str], vector: Vector) -> Vector:
    """sum, avg, min, max or count by labels: each group's values in order, folded as
    aggregation() folds them (promql_eval.AGGREGATIONS). A missing label reads as None in
    the group's key, so each group has its own labels: the result is unique."""
    if not grouping:
        return [({}, fold([v for _, v in vector]))] if vector else []
    if len(grouping) == 1:
        return _by_one(fold, grouping[0], vector)
    groups: dict[tuple[str | None, ...], list[float]] = {}
    for labels, v in vector:
        key = tuple(map(labels.get, grouping))
        values = groups.get(key)
        if values is None:
            groups[key] = [v]
        else:
            values.append(v)
    return [({g: x for g, x in zip(grouping, key, strict=True) if x is not None}, fold(values))
            for key, values in groups.items()]


def _by_one(fold: Callable[[list[float]], float], label: str, vector: Vector) -> Vector:
    """`_by` of one label: the label's value (None when missing) is the key."""
    groups: dict[str | None, list[float]] = {}
    for labels, v in vector:
        key = labels.get(label)
        values = groups.get(key)
        if values is None:
            groups[key] = [v]
        else:
            values.append(v)
    return [({label: key} if key is not None else {}, fold(values))
            for key, values in groups.items()]


def _less(op: str) -> Callable[[float, float], bool]:
    if op == "topk":  # vectorByValueHeap: NaN is the smallest, popped first
        return lambda a, b: math.isnan(a) or a < b
    return lambda a, b: math.isnan(a) or a > b


def _add(op: str, group: _Group, labels: Labels, v: float, k: int) -> None:
    if op == "sum":
        group.heap.append(({}, v))
    elif op == "avg":
        group.count += 1
        mean = group.mean
        if math.isinf(mean) and (math.isinf(v) and (mean > 0) == (v > 0)
                                 or not math.isinf(v) and not math.isnan(v)):
            return
        group.mean += v / group.count - mean / group.count
    elif op == "max":
        if group.value < v or math.isnan(group.value):
            group.value = v
    elif op == "min":
        if group.value > v or math.isnan(group.value):
            group.value = v
    elif op in ("count", "count_values"):
        group.count += 1
    elif op in ("stddev", "stdvar"):
        group.count += 1
        delta = v - group.mean
        group.mean += delta / group.count
        group.value += delta * (v - group.mean)
    elif op in ("topk", "bottomk"):
        heap, less = group.heap, _less(op)
        if len(heap) < k or less(heap[0][1], v) or math.isnan(heap[0][1]):
            if len(heap) == k:
                if k == 1:
                    heap[0] = (labels, v)
                    return
                heap_pop(heap, less)
            heap.append((labels, v))
            heap_up(heap, len(heap) - 1, less)
    elif op == "quantile":
        group.heap.append((labels, v))


def _final(op: str, group: _Group, param: object) -> float:
    if op == "sum":
        return go_sum([v for _, v in group.heap])
    if op == "avg":
        return group.mean
    if op in ("count", "count_values"):
        return float(group.count)
    if op == "stdvar":
        return group.value / group.count
    if op == "stddev":
        variance = group.value / group.count
        return math.sqrt(variance) if variance >= 0 else math.nan
    if op == "quantile":
        from inferwatch.alert_rules.sources.evaluator_funcs import go_quantile
        return go_quantile(param, [v for _, v in group.heap])  # type: ignore[arg-type]
    return group.value
