"""Reads promtool unit-test files: series notation ('0+10x40', '1 0x5', '_') and the
expected alerts, so the embedded engine can replay the same cases."""

from __future__ import annotations

import re

from inferwatch.alert_rules.sources.window import Window
from inferwatch.core.durations import parse_duration

SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
TERM = re.compile(r"^(-?[0-9.]+(?:e[+-]?[0-9]+)?)([+-][0-9.]+)?x([0-9]+)$")


def expand(values: str) -> list[float | None]:
    """promtool's expanding notation; None for '_' (no sample)."""
    out: list[float | None] = []
    for token in values.split():
        if token == "_":
            out.append(None)
            continue
        term = TERM.match(token)
        if not term:
            out.append(float(token))
            continue
        start, step, count = float(term[1]), float(term[2] or 0), int(term[3])
        out += [start + i * step for i in range(count + 1)]
    return out


def series_labels(text: str) -> dict[str, str]:
    match = SERIES.match(text)
    assert match, text
    return {"__name__": match[1], **dict(LABEL.findall(match[2]))}


def fill(window: Window, input_series: list[dict], interval: float) -> None:
    """Load a test's input series into a window, sample i at i × interval."""
    for item in input_series:
        labels = series_labels(item["series"])
        for i, value in enumerate(expand(item["values"])):
            if value is not None:
                window.ingest(str(id(item)), [(labels, value)], int(i * interval * 1000))


def eval_times(test: dict) -> list[float]:
    return sorted({parse_duration(c["eval_time"]) for c in test.get("alert_rule_test", [])})
