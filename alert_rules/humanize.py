"""Prometheus's humanize functions (template/template.go): SI and binary prefixes with four
significant digits, durations as `1d 2h 3m 4s`, percentages."""

from __future__ import annotations

import math

from inferwatch.alert_rules.gofmt import go_float

_BIG = ("", "k", "M", "G", "T", "P", "E", "Z", "Y")
_SMALL = ("", "m", "u", "n", "p", "f", "a", "z", "y")
_BINARY = ("", "ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi")


def _g4(value: float) -> str:
    """Go's `%.4g`."""
    if math.isnan(value) or math.isinf(value):
        return go_float(value)
    return f"{value:.4g}"


def humanize(value: float) -> str:
    """Prometheus's humanize: SI prefixes, four significant digits."""
    if value == 0 or math.isnan(value) or math.isinf(value):
        return _g4(value)
    index = 0
    if abs(value) >= 1:
        while abs(value) >= 1000 and index < len(_BIG) - 1:
            value, index = value / 1000, index + 1
        return f"{_g4(value)}{_BIG[index]}"
    while abs(value) < 1 and index < len(_SMALL) - 1:
        value, index = value * 1000, index + 1
    return f"{_g4(value)}{_SMALL[index]}"


def humanize_percentage(value: float) -> str:
    return f"{_g4(value * 100)}%"


def humanize_duration(value: float) -> str:
    """Prometheus's humanizeDuration: `1d 2h 3m 4s`, `1.5s`, or `250ms` below a second."""
    if math.isnan(value) or math.isinf(value):
        return _g4(value)
    if abs(value) < 1:
        index = 0
        while value and abs(value) < 1 and index < len(_SMALL) - 1:
            value, index = value * 1000, index + 1
        return f"{_g4(value)}{_SMALL[index]}s"
    sign, value = ("-", -value) if value < 0 else ("", value)
    whole = _int64(value)  # Go's int64(v): beyond its range, the minimum int64

    def div(a: int, b: int) -> int:  # Go's integer division truncates towards zero
        return -(-a // b) if a < 0 else a // b

    def mod(a: int, b: int) -> int:
        return a - div(a, b) * b

    days, hours, minutes = div(whole, 86400), mod(div(whole, 3600), 24), mod(div(whole, 60), 60)
    seconds = mod(whole, 60)
    if days:
        return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
    if hours:
        return f"{sign}{hours}h {minutes}m {seconds}s"
    if minutes:
        return f"{sign}{minutes}m {seconds}s"
    return f"{sign}{_g4(value)}s"


def _int64(value: float) -> int:
    return int(value) if value < 2.0 ** 63 else -(1 << 63)


def humanize_1024(value: float) -> str:
    """Prometheus's humanize1024: binary prefixes (ki, Mi, ...) above 1."""
    if abs(value) <= 1 or math.isnan(value) or math.isinf(value):
        return _g4(value)
    index = 0
    while abs(value) >= 1024 and index < len(_BINARY) - 1:
        value, index = value / 1024, index + 1
    return f"{_g4(value)}{_BINARY[index]}"
