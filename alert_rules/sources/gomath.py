"""Go's float64 arithmetic where Python's differs: math.Pow (ported: repeated squaring of
the mantissa for the integer part of the exponent), math.Mod, Min/Max with NaN and -0,
functions that raise in Python but return NaN or ±Inf in Go, strconv's formatting ('f' and
'E', shortest) and ParseFloat, and the UTC calendar of the date functions."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal

NAN, INF = math.nan, math.inf
MIN_INT64 = -(1 << 63)


def _odd_int(y: float) -> bool:
    if abs(y) >= 1 << 53:
        return False
    yf, yi = math.modf(y)
    return yf == 0 and int(yi) & 1 == 1


def go_pow(x: float, y: float) -> float:
    """Go's math.Pow, step by step (its own algorithm, not C's pow)."""
    if y == 0 or x == 1:
        return 1.0
    if y == 1:
        return x
    if math.isnan(x) or math.isnan(y):
        return NAN
    if x == 0:
        if y < 0:
            return -INF if math.copysign(1, x) < 0 and _odd_int(y) else INF
        return x if math.copysign(1, x) < 0 and _odd_int(y) else 0.0
    if math.isinf(y):
        if x == -1:
            return 1.0
        return 0.0 if (abs(x) < 1) == (y > 0) else INF
    if math.isinf(x):
        if x < 0:
            return go_pow(1 / x, -y)
        return 0.0 if y < 0 else INF
    if y == 0.5:
        return math.sqrt(x) if x >= 0 else NAN
    if y == -0.5:
        return 1 / math.sqrt(x) if x >= 0 else NAN
    yf, yi = math.modf(abs(y))
    if yf != 0 and x < 0:
        return NAN
    if yi >= 1 << 63:
        if x == -1:
            return 1.0
        return 0.0 if (abs(x) < 1) == (y > 0) else INF
    a1, ae = 1.0, 0
    if yf != 0:
        if yf > 0.5:
            yf -= 1
            yi += 1
        a1 = go_exp(yf * go_log(x))
    x1, xe = math.frexp(x)
    i = int(yi)
    while i != 0:
        if xe < -(1 << 12) or xe > 1 << 12:
            ae += xe
            break
        if i & 1 == 1:
            a1 *= x1
            ae += xe
        x1 *= x1
        xe <<= 1
        if x1 < 0.5:
            x1 += x1
            xe -= 1
        i >>= 1
    if y < 0:
        a1, ae = 1 / a1, -ae
    return go_ldexp(a1, ae)


def go_ldexp(frac: float, exp: int) -> float:
    try:
        return math.ldexp(frac, exp)
    except OverflowError:
        return math.copysign(INF, frac)


def go_mod(x: float, y: float) -> float:
    if y == 0 or math.isinf(x) or math.isnan(x) or math.isnan(y):
        return NAN
    if math.isinf(y):
        return x
    return math.fmod(x, y)


def go_max(x: float, y: float) -> float:
    if math.isinf(x) and x > 0 or math.isinf(y) and y > 0:
        return INF
    if math.isnan(x) or math.isnan(y):
        return NAN
    if x == 0 and x == y:
        return y if math.copysign(1, x) < 0 else x
    return x if x > y else y


def go_min(x: float, y: float) -> float:
    if math.isinf(x) and x < 0 or math.isinf(y) and y < 0:
        return -INF
    if math.isnan(x) or math.isnan(y):
        return NAN
    if x == 0 and x == y:
        return x if math.copysign(1, x) < 0 else y
    return x if x < y else y


def go_exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return INF


def go_log(x: float) -> float:
    if math.isnan(x) or x < 0:
        return NAN
    if x == 0:
        return -INF
    return math.log(x)


def go_log2(x: float) -> float:
    """Go: Frexp, then Log(frac) * (1/Ln2) + exp (exact for powers of two)."""
    if math.isnan(x) or x < 0:
        return NAN
    if x == 0:
        return -INF
    if math.isinf(x):
        return INF
    frac, exp = math.frexp(x)
    if frac == 0.5:
        return float(exp - 1)
    return math.log(frac) * (1 / math.log(2)) + exp


def go_log10(x: float) -> float:
    return go_log(x) * (1 / math.log(10))


def _guard(f: Callable[[float], float], domain: Callable[[float], bool]) -> Callable[..., float]:
    """f, with NaN outside its domain and ±Inf on overflow, as Go returns them."""
    def wrapped(x: float) -> float:
        if math.isnan(x) or not domain(x):
            return NAN
        try:
            return f(x)
        except OverflowError:
            return math.copysign(INF, x) if f is not math.cosh else INF
        except ValueError:
            return NAN
    return wrapped


def _atanh(x: float) -> float:
    if x == 1 or x == -1:
        return math.copysign(INF, x)
    return math.atanh(x)


def _sqrt(x: float) -> float:
    return math.sqrt(x)


def _ceil_keep_sign(x: float) -> float:
    c = float(math.ceil(x))
    return -0.0 if c == 0 and x < 0 else c


MATH: dict[str, Callable[[float], float]] = {
    "abs": abs,
    "ceil": lambda x: x if math.isinf(x) or math.isnan(x) or x == 0 else _ceil_keep_sign(x),
    "floor": lambda x: x if math.isinf(x) or math.isnan(x) or x == 0 else float(math.floor(x)),
    "exp": lambda x: NAN if math.isnan(x) else go_exp(x),
    "sqrt": _guard(_sqrt, lambda x: x >= 0), "ln": go_log, "log2": go_log2,
    "log10": go_log10,
    "sin": _guard(math.sin, lambda x: not math.isinf(x)),
    "cos": _guard(math.cos, lambda x: not math.isinf(x)),
    "tan": _guard(math.tan, lambda x: not math.isinf(x)),
    "asin": _guard(math.asin, lambda x: -1 <= x <= 1),
    "acos": _guard(math.acos, lambda x: -1 <= x <= 1),
    "atan": _guard(math.atan, lambda x: True),
    "sinh": _guard(math.sinh, lambda x: True), "cosh": _guard(math.cosh, lambda x: True),
    "tanh": _guard(math.tanh, lambda x: True), "asinh": _guard(math.asinh, lambda x: True),
    "acosh": _guard(math.acosh, lambda x: x >= 1),
    "atanh": _guard(_atanh, lambda x: -1 <= x <= 1),
    "rad": lambda x: x * math.pi / 180, "deg": lambda x: x * 180 / math.pi,
    "sgn": lambda x: -1.0 if x < 0 else 1.0 if x > 0 else x,
}
EXACT_MATH = ("abs", "ceil", "floor", "sqrt", "rad", "deg", "sgn")  # the same bits as Go's


def format_f(v: float) -> str:
    """strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    text = format(Decimal(repr(v)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_e(v: float) -> str:
    """strconv.FormatFloat(v, 'E', -1, 64): shortest digits, `1.5E+00`."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    sign, digits, exp = Decimal(repr(v)).normalize().as_tuple()
    if not any(digits):
        digits, exp = (0,), 0
    text = "".join(map(str, digits))
    power = exp + len(text) - 1  # type: ignore[operator]
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}E{'-' if power < 0 else '+'}{abs(power):02d}"


def parse_float(text: str) -> float:
    """strconv.ParseFloat(text, 64); ValueError where Go fails (no spaces, no `_`)."""
    if not text or text != text.strip() or "_" in text:
        raise ValueError(text)
    lowered = text.lower().lstrip("+-")
    if lowered in ("inf", "infinity", "nan"):
        value = INF if lowered != "nan" else NAN
        return -value if text.startswith("-") else value
    if lowered.startswith("0x"):
        return float.fromhex(text)
    return float(text)


def to_int64(v: float) -> int:
    """Go's int64(v) on amd64: truncation; NaN, Inf and out of range give MinInt64."""
    if math.isnan(v) or math.isinf(v) or not -(2.0 ** 63) <= v < 2.0 ** 63:
        return MIN_INT64
    return int(v)


_ABS_ZERO_YEAR = -292277022399
_UNIX_TO_ABS = 62135596800 + 9223371966579724800  # unixToInternal + internalToAbsolute
_DAYS_BEFORE = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365)


def civil(seconds: int) -> tuple[int, int, int, int, int, int, int]:
    """(year, month, day, hour, minute, weekday, yearday) of time.Unix(seconds, 0).UTC(),
    as Go's time package computes them: from the uint64 "absolute" seconds (wrapping as
    int64 arithmetic does for times out of its range), in 400/100/4-year cycles."""
    wrapped = (seconds + _UNIX_TO_ABS + (1 << 63)) % (1 << 64) - (1 << 63)
    absolute = wrapped % (1 << 64)
    d = absolute // 86400
    n = d // 146097
    y, d = 400 * n, d - 146097 * n
    n = d // 36524
    n -= n >> 2
    y, d = y + 100 * n, d - 36524 * n
    n = d // 1461
    y, d = y + 4 * n, d - 1461 * n
    n = d // 365
    n -= n >> 2
    y, d = y + n, d - 365 * n
    year = (y + _ABS_ZERO_YEAR + (1 << 63)) % (1 << 64) - (1 << 63)
    yday = day = d
    month = 0
    if _leap(year) and day >= 31 + 29 - 1:
        if day == 31 + 29 - 1:
            month, day = 2, 29
        else:
            day -= 1
    if not month:
        month = day // 31
        end = _DAYS_BEFORE[month + 1]
        if day >= end:
            month, begin = month + 1, end
        else:
            begin = _DAYS_BEFORE[month]
        month, day = month + 1, day - begin + 1
    weekday = (absolute + 86400) % (7 * 86400) // 86400
    return (year, month, day, absolute % 86400 // 3600, absolute % 3600 // 60, weekday,
            yday + 1)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if _leap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


DATE: dict[str, Callable[[tuple[int, ...]], float]] = {
    "year": lambda c: float(c[0]), "month": lambda c: float(c[1]),
    "day_of_month": lambda c: float(c[2]), "hour": lambda c: float(c[3]),
    "minute": lambda c: float(c[4]), "day_of_week": lambda c: float(c[5]),
    "day_of_year": lambda c: float(c[6]),
    "days_in_month": lambda c: float(days_in_month(c[0], c[1])),
}
