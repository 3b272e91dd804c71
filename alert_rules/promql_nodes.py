"""The tree promql_ast converts PromQL into: frozen, hashable nodes (a subexpression's
result is memoised by node and time), and `kind`, the value type of each as Prometheus types
it (scalar, vector, matrix, string)."""

from __future__ import annotations

from dataclasses import dataclass

Matcher = tuple[str, str, str]  # (label, op, value); op one of = != =~ !~


@dataclass(frozen=True)
class VectorSel:
    name: str | None
    matchers: tuple[Matcher, ...]  # the name, when given, as a `__name__` matcher too
    offset: int  # milliseconds
    at: int | str | None = None  # `@`: a time in ms, or "query" (start() and end())


@dataclass(frozen=True)
class MatrixSel:
    sel: VectorSel
    range: int


@dataclass(frozen=True)
class Subquery:
    expr: Expr
    range: int
    step: int  # 0: the default step (the evaluation interval)
    offset: int
    at: int | str | None = None


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Str:
    value: str


@dataclass(frozen=True)
class Func:
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Aggregate:
    op: str
    expr: Expr
    param: Expr | None
    grouping: tuple[str, ...]  # sorted, as engine.go sorts them
    without: bool


@dataclass(frozen=True)
class BinOp:
    op: str
    lhs: Expr
    rhs: Expr
    bool: bool = False
    card: str = "one-to-one"
    on: bool = False
    labels: tuple[str, ...] = ()
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class Neg:
    expr: Expr


Expr = VectorSel | MatrixSel | Subquery | Num | Str | Func | Aggregate | BinOp | Neg


def kind(expr: Expr) -> str:
    """scalar, vector, matrix or string: the value type, as Prometheus types the tree."""
    if isinstance(expr, Num):
        return "scalar"
    if isinstance(expr, Str):
        return "string"
    if isinstance(expr, MatrixSel | Subquery):
        return "matrix"
    if isinstance(expr, Func):
        return "scalar" if expr.name in ("time", "pi", "scalar") else "vector"
    if isinstance(expr, BinOp):
        both = kind(expr.lhs) == kind(expr.rhs) == "scalar"
        return "scalar" if both else "vector"
    if isinstance(expr, Neg):
        return kind(expr.expr)
    return "vector"
