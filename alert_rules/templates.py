"""The subset of Prometheus's Go templates that rules may use, rendered the same way.

`{{ $labels.NAME }}`, `{{ $value }}` and `{{ $value | FUNC }}` with FUNC one of humanize,
humanizePercentage, humanizeDuration. Anything else is rejected by `rules check`, so that the
embedded engine renders what Prometheus renders.
"""

from __future__ import annotations

import math
import re

ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}")
LABEL = re.compile(r"\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)")
VALUE = re.compile(r"\$value(?:\s*\|\s*(humanize|humanizePercentage|humanizeDuration))?")
_BIG = ("", "k", "M", "G", "T", "P", "E", "Z", "Y")
_SMALL = ("", "m", "u", "n", "p", "f", "a", "z", "y")


def template_problems(text: str) -> list[str]:
    """One message per template action outside the supported subset."""
    problems = []
    for action in ACTION.findall(text):
        if not (LABEL.fullmatch(action) or VALUE.fullmatch(action)):
            problems.append(f"unsupported template {{{{ {action} }}}}: use $labels.NAME, "
                            "$value, or $value | humanize/humanizePercentage/humanizeDuration")
    if text.count("{{") != len(ACTION.findall(text)):
        problems.append("unbalanced {{ }} in template")
    return problems


def render(text: str, labels: dict[str, str], value: float) -> str:
    """Expand the template with the alert's labels and value (missing labels read as '')."""

    def expand(match: re.Match[str]) -> str:
        action = match.group(1)
        label = LABEL.fullmatch(action)
        if label:
            return labels.get(label.group(1), "")
        func = VALUE.fullmatch(action)
        return FUNCS[func.group(1) if func else None](value)

    return ACTION.sub(expand, text)


def go_float(value: float) -> str:
    """Go's `%v` of a float64 (strconv 'g', shortest)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    if text.endswith(".0"):
        text = text[:-2]
    mantissa, _, exp = text.partition("e")
    if exp:
        text = f"{mantissa}e{'-' if exp.startswith('-') else '+'}{exp.lstrip('+-').zfill(2)}"
    return text


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
    whole = int(value)
    days, hours, minutes = whole // 86400, whole // 3600 % 24, whole // 60 % 60
    if days:
        return f"{sign}{days}d {hours}h {minutes}m {whole % 60}s"
    if hours:
        return f"{sign}{hours}h {minutes}m {whole % 60}s"
    if minutes:
        return f"{sign}{minutes}m {whole % 60}s"
    return f"{sign}{_g4(value)}s"


FUNCS = {None: go_float, "humanize": humanize, "humanizePercentage": humanize_percentage,
         "humanizeDuration": humanize_duration}
