"""Any PromQL expression, parsed by `promql-parser` (bindings of a Rust PromQL parser) and
converted into a small hashable tree that the embedded evaluator runs (sources/evaluator_*).

What Prometheus 2.42 has but the evaluator does not (native-histogram functions,
`holt_winters`, an `@` time before 1970), and what the Rust parser accepts beyond 2.42 (`or`
in selectors, newer functions and aggregations), is refused here with its position in the
expression (`line:column`), so that a rule is refused at load, never evaluated wrong."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import promql_parser as pp

from inferwatch.alert_rules.promql_nodes import (  # noqa: F401 (the tree's types, re-exported)
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
from inferwatch.core.regex import RegexError, anchored

_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~",
        "MatchOp.NotRe": "!~"}
_CARD = {"VectorMatchCardinality.OneToOne": "one-to-one",
         "VectorMatchCardinality.ManyToOne": "many-to-one",
         "VectorMatchCardinality.OneToMany": "one-to-many",
         "VectorMatchCardinality.ManyToMany": "many-to-many"}
AGGREGATIONS = ("sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "topk",
                "bottomk", "quantile", "count_values")
SET_OPS = ("and", "or", "unless")
COMPARISONS = ("==", "!=", ">", "<", ">=", "<=")
NATIVE = ("histogram_count", "histogram_sum", "histogram_fraction")


class PromQLError(ValueError):
    """An expression that does not parse, or that the embedded evaluator refuses."""


class _Locator:
    """Positions of tokens in the source text, each found after the previous one of its
    kind, so that the second `foo(` in an expression is reported where it is."""

    def __init__(self, text: str):
        self.text, self.after = text, {}

    def at(self, pattern: str) -> str:
        found = re.compile(pattern).search(self.text, self.after.get(pattern, 0))
        start = found.start() if found else 0
        if found:
            self.after[pattern] = found.end()
        line = self.text.count("\n", 0, start) + 1
        column = start - (self.text.rfind("\n", 0, start) + 1) + 1
        return f"{line}:{column}"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(delta: timedelta | None) -> int:
    if delta is None:
        return 0
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


class _Converter:
    def __init__(self, text: str):
        self.where = _Locator(text)
        self.depth = 0  # subqueries around the node being converted

    def refuse(self, pattern: str, message: str) -> PromQLError:
        return PromQLError(f"{self.where.at(pattern)}: {message}")

    def convert(self, e: pp.Expr) -> Expr:
        method = getattr(self, "_" + type(e).__name__, None)
        if method is None:
            raise PromQLError(f"unsupported expression {type(e).__name__}: {e}")
        return method(e)

    def _ParenExpr(self, e: pp.ParenExpr) -> Expr:
        return self.convert(e.expr)

    def _NumberLiteral(self, e: pp.NumberLiteral) -> Expr:
        return Num(float(e.val))

    def _StringLiteral(self, e: pp.StringLiteral) -> Expr:
        return Str(e.val)

    def _UnaryExpr(self, e: pp.UnaryExpr) -> Expr:
        return Neg(self.convert(e.expr))

    def _at(self, e: pp.VectorSelector | pp.SubqueryExpr) -> int | str | None:
        at = e.at
        if at is None:
            return None
        if self.depth:
            raise self.refuse(r"@", "an @ modifier inside a subquery is not supported (Prometheus "
                              "2.42 moves it with the subquery's steps)")
        if not str(at.type).endswith(".At"):
            return "query"  # start() and end(): an instant query's time, a rule's evaluation
        try:
            return _ms(at.at - _EPOCH)
        except BaseException as err:  # pyo3's PanicException: the binding has no time < 1970
            if isinstance(err, KeyboardInterrupt | SystemExit):
                raise
            raise self.refuse(r"@", "an @ time before 1970 is not supported") from None

    def _VectorSelector(self, e: pp.VectorSelector) -> VectorSel:
        at = self._at(e)
        if e.matchers.or_matchers:
            raise self.refuse(r"\bor\b", "`or` inside a selector is Prometheus 3 syntax, not 2.42")
        matchers = [("__name__", "=", e.name)] if e.name else []
        for m in e.matchers.matchers:
            op = _OPS[str(m.op).split("(")[0]]
            if op in ("=~", "!~"):
                try:
                    anchored(m.value)
                except RegexError as err:
                    raise self.refuse(re.escape(m.value), str(err)) from None
            matchers.append((m.name, op, m.value))
        return VectorSel(e.name, tuple(matchers), _ms(e.offset), at)

    def _MatrixSelector(self, e: pp.MatrixSelector) -> Expr:
        return MatrixSel(self._VectorSelector(e.vector_selector), _ms(e.range))

    def _SubqueryExpr(self, e: pp.SubqueryExpr) -> Expr:
        at = self._at(e)
        self.depth += 1
        inner = self.convert(e.expr)
        self.depth -= 1
        return Subquery(inner, _ms(e.range), _ms(e.step), _ms(e.offset), at)

    def _Call(self, e: pp.Call) -> Expr:
        name = e.func.name
        if name not in FUNCTIONS:
            why = ("native histograms are not scraped by the embedded source" if name in NATIVE
                   else "not a Prometheus 2.42 function")
            raise self.refuse(rf"\b{name}\s*\(", f"{name}(): {why}")
        args = tuple(self.convert(a) for a in e.args)
        if name in ("label_replace", "label_join"):
            self._check_labels(name, args)
        return Func(name, args)

    def _check_labels(self, name: str, args: tuple[Expr, ...]) -> None:
        strings = [a.value for a in args[1:] if isinstance(a, Str)]
        names = [strings[0]] + (strings[2:] if name == "label_join" else [])
        for label in names:
            if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", label):
                raise self.refuse(rf"\b{name}\s*\(", f"invalid label name in {name}(): {label}")
        if name == "label_replace":
            try:
                anchored(strings[3])
            except RegexError as err:
                raise self.refuse(rf"\b{name}\s*\(", str(err)) from None

    def _AggregateExpr(self, e: pp.AggregateExpr) -> Expr:
        op = str(e.op)
        if op not in AGGREGATIONS:
            raise self.refuse(rf"\b{op}\b", f"{op}: not a Prometheus 2.42 aggregation")
        modifier = e.modifier
        without = modifier is not None and str(modifier.type).endswith("Without")
        grouping = tuple(sorted(modifier.labels)) if modifier is not None else ()
        param = self.convert(e.param) if e.param is not None else None
        if op == "count_values" and isinstance(param, Str) and not re.fullmatch(
                r"[a-zA-Z_][a-zA-Z0-9_]*", param.value):
            raise self.refuse(r"\bcount_values\b", f"invalid label name {param.value!r}")
        return Aggregate(op, self.convert(e.expr), param, grouping, without)

    def _BinaryExpr(self, e: pp.BinaryExpr) -> Expr:
        op = str(e.op)
        lhs, rhs = self.convert(e.lhs), self.convert(e.rhs)
        m = e.modifier
        node = BinOp(op, lhs, rhs)
        if m is not None:
            matching = m.matching
            node = BinOp(op, lhs, rhs, bool(m.return_bool), _CARD[str(m.card)],
                         matching is not None and str(matching.type).endswith("Include"),
                         tuple(matching.labels) if matching is not None else (),
                         tuple(m.group_labels or ()))
        if op in SET_OPS:
            node = BinOp(op, lhs, rhs, False, "many-to-many", node.on, node.labels)
        if op not in COMPARISONS and node.bool:
            raise self.refuse(r"\bbool\b", "bool modifier can only be used on comparison "
                              "operators")
        both = kind(lhs) == kind(rhs) == "scalar"
        if op in COMPARISONS and both and not node.bool:
            raise self.refuse(re.escape(op), "comparisons between scalars must use BOOL "
                              "modifier")
        if op in SET_OPS and "scalar" in (kind(lhs), kind(rhs)):
            raise self.refuse(rf"\b{op}\b", f"set operator {op} not allowed in binary scalar "
                              "expression")
        for label in node.include:
            if node.on and label in node.labels:
                raise self.refuse(r"\bgroup_(left|right)\b", f"label {label!r} must not occur "
                                  "in ON and GROUP clause at once")
        return node


@lru_cache(maxsize=4096)
def parse(text: str) -> Expr:
    """The converted tree; PromQLError (with the position where known) when it does not
    parse or is not supported."""
    try:
        tree = pp.parse(text)
    except BaseException as err:  # ValueError, or a panic of the Rust side (PanicException)
        if isinstance(err, KeyboardInterrupt | SystemExit):
            raise
        raise PromQLError(f"parse error: {err}") from None
    return _Converter(text).convert(tree)


def check_rule_expr(text: str) -> str | None:
    """Why a rule's expression cannot run on the embedded source (None: it can)."""
    try:
        expr = parse(text)
    except PromQLError as err:
        return str(err)
    if kind(expr) not in ("vector", "scalar"):
        return f"invalid expression type {kind(expr)} for a rule (a vector or a scalar is needed)"
    return None


FUNCTIONS = frozenset((
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
    "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh",
    "count_over_time", "days_in_month", "day_of_month", "day_of_week", "day_of_year", "deg",
    "delta", "deriv", "exp", "floor", "histogram_quantile", "hour", "idelta", "increase",
    "irate", "label_replace", "label_join", "last_over_time", "ln", "log10", "log2",
    "max_over_time", "min_over_time", "minute", "month", "pi", "predict_linear",
    "present_over_time", "quantile_over_time", "rad", "rate", "resets", "round", "scalar",
    "sgn", "sin", "sinh", "sort", "sort_desc", "sqrt", "stddev_over_time", "stdvar_over_time",
    "sum_over_time", "tan", "tanh", "time", "timestamp", "vector", "year",
))
