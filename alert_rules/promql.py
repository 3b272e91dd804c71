"""The small PromQL subset the compiler produces, as a tree: rendered to text for Prometheus,
evaluated directly by the embedded source (no PromQL parser needed on either side)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from inferwatch.core.durations import format_duration

Matcher = tuple[str, str, str]  # (label, op, value); op one of = != =~ !~


@dataclass(frozen=True)
class Selector:
    """`metric{matchers}` or, with a range, `metric{matchers}[range]`."""

    metric: str
    matchers: tuple[Matcher, ...] = ()
    range: float | None = None


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Call:
    """A function: rate, increase, *_over_time (one range argument) or histogram_quantile."""

    func: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Agg:
    """`op by (labels) (expr)`; op one of sum, avg, min, max, count."""

    op: str
    by: tuple[str, ...]
    expr: Node


@dataclass(frozen=True)
class Binary:
    """Arithmetic, filtering comparison (never `bool`), or the set operators and/or."""

    op: str
    lhs: Node
    rhs: Node


@dataclass(frozen=True)
class Recorded:
    """A recording rule's output: `name{labels}` in rule files, its expression when inlined."""

    name: str
    labels: tuple[tuple[str, str], ...]
    expr: Node


Node = Selector | Number | Call | Agg | Binary | Recorded


def number(value: float) -> str:
    """A float as PromQL reads it, without binary noise (1 - 0.999 → 0.001)."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    text = repr(round(value, 12))
    return text[:-2] if text.endswith(".0") else text


def quote(value: str) -> str:
    """A PromQL string literal (Go escaping, which JSON's is a subset of)."""
    return json.dumps(value, ensure_ascii=False)


def selector_text(metric: str, matchers: tuple[Matcher, ...]) -> str:
    inner = ", ".join(f"{label}{op}{quote(value)}" for label, op, value in matchers)
    return f"{metric}{{{inner}}}" if inner else metric


def render(node: Node, inline: bool = False) -> str:
    """PromQL text. `inline` writes recorded series as their expressions (for a Prometheus
    that does not have the compiled recording rules loaded)."""
    if isinstance(node, Selector):
        text = selector_text(node.metric, node.matchers)
        return f"{text}[{format_duration(node.range)}]" if node.range else text
    if isinstance(node, Number):
        return number(node.value)
    if isinstance(node, Call):
        return f"{node.func}({', '.join(render(a, inline) for a in node.args)})"
    if isinstance(node, Agg):
        by = f" by ({', '.join(node.by)})" if node.by else ""
        return f"{node.op}{by} ({render(node.expr, inline)})"
    if isinstance(node, Binary):
        return f"{_operand(node.lhs, inline)} {node.op} {_operand(node.rhs, inline)}"
    if inline:
        return f"({render(node.expr, inline)})"
    return selector_text(node.name, tuple((k, "=", v) for k, v in node.labels))


def _operand(node: Node, inline: bool) -> str:
    text = render(node, inline)
    return f"({text})" if isinstance(node, Binary) else text


def max_range(node: Node) -> float:
    """The longest range any selector in the tree reads (0 for instant selectors only)."""
    if isinstance(node, Selector):
        return node.range or 0.0
    if isinstance(node, Call):
        return max(max_range(a) for a in node.args)
    if isinstance(node, Agg):
        return max_range(node.expr)
    if isinstance(node, Binary):
        return max(max_range(node.lhs), max_range(node.rhs))
    if isinstance(node, Recorded):
        return max_range(node.expr)
    return 0.0
