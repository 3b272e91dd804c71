"""The tree promql_ast converts PromQL into: frozen, hashable nodes (a subexpression's
result is memoised by node and time, so each node's hash is computed once), and `kind`, the
value type of each as Prometheus types it (scalar, vector, matrix, string)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TypeVar, dataclass_transform

Matcher = tuple[str, str, str]  # (label, op, value); op one of = != =~ !~
T = TypeVar("T")


@dataclass_transform(frozen_default=True)
def node(cls: type[T]) -> type[T]:
    """A frozen dataclass whose hash (that of its fields, as dataclass makes it) is kept
    after the first call: the memo and `reads` hash the same nodes at every lookup."""
    cls = dataclass(frozen=True)(cls)
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]

    def __hash__(self: object) -> int:
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash(tuple([getattr(self, n) for n in names]))
            object.__setattr__(self, "_hash", cached)
        return cached

    def __getstate__(self: object) -> dict[str, object]:  # no hash of another process
        return {n: getattr(self, n) for n in names}

    cls.__hash__ = __hash__  # type: ignore[assignment]
    cls.__getstate__ = __getstate__  # type: ignore[attr-defined]
    return cls


@node
class VectorSel:
    name: str | None
    matchers: tuple[Matcher, ...]  # the name, when given, as a `__name__` matcher too
    offset: int  # milliseconds
    at: int | str | None = None  # `@`: a time in ms, or "query" (start() and end())


@node
class MatrixSel:
    sel: VectorSel
    range: int


@node
class Subquery:
    expr: Expr
    range: int
    step: int  # 0: the default step (the evaluation interval)
    offset: int
    at: int | str | None = None


@node
class Num:
    value: float


@node
class Str:
    value: str


@node
class Func:
    name: str
    args: tuple[Expr, ...]


@node
class Aggregate:
    op: str
    expr: Expr
    param: Expr | None
    grouping: tuple[str, ...]  # sorted, as engine.go sorts them
    without: bool


@node
class BinOp:
    op: str
    lhs: Expr
    rhs: Expr
    bool: bool = False
    card: str = "one-to-one"
    on: bool = False
    labels: tuple[str, ...] = ()
    include: tuple[str, ...] = ()


@node
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
