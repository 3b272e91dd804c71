"""Prometheus-style durations ("500ms", "15s", "1h30m") to and from seconds."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_WHOLE = re.compile(r"(?:\d+(?:ms|s|m|h|d|w|y))+")


def parse_duration(text: str | int | float) -> float:
    """Seconds in a duration string; a bare number is taken as seconds."""
    if isinstance(text, bool):
        raise ValueError("a duration such as 15s, 1m or 500ms is expected")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError("a duration cannot be negative")
        return float(text)
    if not isinstance(text, str) or not _WHOLE.fullmatch(text.strip()):
        raise ValueError(f"{text!r} is not a duration such as 15s, 1m or 500ms")
    return float(sum(int(n) * _UNITS[u] for n, u in _PART.findall(text.strip())))


def format_duration(seconds: float) -> str:
    """The shortest Prometheus duration string for a number of seconds."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    out = []
    for unit, size in (("w", 604800000), ("d", 86400000), ("h", 3600000), ("m", 60000),
                       ("s", 1000), ("ms", 1)):
        n, ms = divmod(ms, size)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)
