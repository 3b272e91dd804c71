"""The subset of Prometheus's Go templates that rules may use, rendered the same way.

`{{ $labels.NAME }}`, `{{ $value }}` and `{{ $value | FUNC }}` with FUNC one of humanize,
humanizePercentage, humanizeDuration. Anything else is rejected by `rules check`, so that the
embedded engine renders what Prometheus renders.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

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
    """Go's `%v` of a float64: strconv 'g' with the shortest digits, in exponent form when
    the exponent is below -4 or at least 6 (1234567 → 1.234567e+06, 123456 → 123456)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if math.copysign(1, value) < 0 else ""
    if value == 0:
        return f"{sign}0"
    _, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    exp = int(exponent) + len(digits) - 1
    if exp < -4 or exp >= 6:
        head = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{head}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{digits}"
    if len(digits) <= exp + 1:
        return f"{sign}{digits}{'0' * (exp + 1 - len(digits))}"
    return f"{sign}{digits[:exp + 1]}.{digits[exp + 1:]}"


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


FUNCS = {None: go_float, "humanize": humanize, "humanizePercentage": humanize_percentage,
         "humanizeDuration": humanize_duration}
