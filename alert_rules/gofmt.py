"""Go's fmt for template values: `%v` of a float64 (strconv's shortest 'g'), and Sprintf
with the verbs templates use (%v %s %d %f %F %e %g %q %x %X %t %%, flags `-+ 0#`, width and
precision, `%!verb(type=value)` for a wrong type, as fmt writes them)."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

_VERB = re.compile(r"%([-+ 0#]*)(\d+|\*)?(?:\.(\d+|\*)?)?([a-zA-Z%])")


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


def _type(v: Any) -> str:
    return getattr(v, "go_type", None) or {bool: "bool", int: "int", float: "float64",
                                           str: "string"}.get(type(v), "interface {}")


def _plain(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return go_float(v)
    return "<nil>" if v is None else str(v)


def _number(verb: str, v: float, flags: str, prec: int | None) -> str:
    if math.isnan(v) or math.isinf(v):
        return "NaN" if math.isnan(v) else ("+Inf" if v > 0 or "+" in flags else "-Inf")
    if verb in "fF":
        out = f"{v:.{6 if prec is None else prec}f}"
    elif verb == "e":
        out = f"{v:.{6 if prec is None else prec}e}"
    elif prec is None:
        out = go_float(v) if verb in "gv" else f"{v}"
    else:
        out = f"{v:.{prec or 1}g}"
    if "+" in flags and not out.startswith("-"):
        out = "+" + out
    return out


def _one(verb: str, flags: str, prec: int | None, v: Any) -> str:
    if verb in "vs" and not isinstance(v, (int, float)) or verb == "v":
        text = _plain(v)
        if verb == "s" and prec is not None:
            text = text[:prec]
        return text
    if verb == "t" and isinstance(v, bool):
        return _plain(v)
    if isinstance(v, bool) or v is None:
        return f"%!{verb}({_type(v)}={_plain(v)})"
    if verb == "q" and isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if verb in "xX" and isinstance(v, str):
        out = v.encode().hex()
        return out.upper() if verb == "X" else out
    if isinstance(v, int) and verb in "dxX":
        out = format(v, {"d": "d", "x": "x", "X": "X"}[verb])
        return ("+" + out) if "+" in flags and v >= 0 else out
    if isinstance(v, float) and verb in "eEfFgG":
        out = _number(verb.lower() if verb in "EG" else verb, v, flags, prec)
        return out.upper() if verb in "EG" else out
    if isinstance(v, int) and verb in "eEfFgG":
        return f"%!{verb}(int={v})"
    return f"%!{verb}({_type(v)}={_plain(v)})"


def sprintf(fmt: str, *args: Any) -> str:
    """fmt.Sprintf for one format and the template's arguments."""
    out, pos, used = [], 0, 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        flags, width, prec, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        if verb == "%":
            out.append("%")
            continue
        if used >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        precision = int(prec) if prec and prec != "*" else (0 if "." in m.group(0)
                                                             and not prec else None)
        text = _one(verb, flags, precision, args[used])
        used += 1
        if width and width != "*" and len(text) < int(width):
            pad = int(width) - len(text)
            if "-" in flags:
                text += " " * pad
            elif "0" in flags and verb not in "sqv":
                sign = text[0] if text[:1] in "+-" else ""
                text = sign + "0" * pad + text[len(sign):]
            else:
                text = " " * pad + text
        out.append(text)
    out.append(fmt[pos:])
    if used < len(args):
        out.append("%!(EXTRA " + ", ".join(f"{_type(a)}={_plain(a)}" for a in args[used:]) + ")")
    return "".join(out)
