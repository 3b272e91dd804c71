"""Walk the built dashboards: every panel, every query, and the metric names a query uses."""

from __future__ import annotations

import re
from collections.abc import Iterator

from inferwatch.dashboards.build import build_all

# PromQL words that look like identifiers but are not metric names.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
            "and", "or", "unless", "inf", "nan", "atan2"}
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w.$:])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels or keywords)."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub("{}", text)
    text = _RANGES.sub("", text)
    text = _GROUPING.sub(" ", text)
    return {m for m in _IDENT.findall(text) if m.lower() not in KEYWORDS}


def dashboards() -> dict[str, dict]:
    return build_all()


def panels(dashboard: dict) -> Iterator[dict]:
    """Every panel that is not a row header."""
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            yield panel


def all_panels() -> Iterator[tuple[str, dict]]:
    for slug, dashboard in dashboards().items():
        for panel in panels(dashboard):
            yield slug, panel


def all_queries() -> Iterator[tuple[str, str, str]]:
    """(dashboard slug, panel title, expr) for every panel query."""
    for slug, panel in all_panels():
        for target in panel.get("targets", []):
            yield slug, panel["title"], target["expr"]


def variable_queries() -> Iterator[tuple[str, str, str]]:
    """(dashboard slug, variable name, label_values selector) for every query variable."""
    for slug, dashboard in dashboards().items():
        for var in dashboard["templating"]["list"]:
            if var["type"] == "query":
                inner = re.fullmatch(r"label_values\((.*), (\w+)\)", var["definition"])
                assert inner, var["definition"]
                yield slug, var["name"], inner.group(1)
