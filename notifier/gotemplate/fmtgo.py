"""Go's fmt for template values: %v as fmt prints each type, Sprint, Sprintln and Sprintf
(flags `-+# 0`, width, precision; verbs v s q d b o x X c U e E f F g G t T %), with Go's
`%!d(string=x)`, `%!d(MISSING)` and `%!(EXTRA ...)` for mismatches."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

from inferwatch.notifier.gotemplate.values import go_type, is_struct

_SPEC = re.compile(r"%([-+# 0]*)(\*|\d+)?(?:\.(\*|\d*))?(.?)", re.S)


def shortest_float(f: float, exp_from: int = 6) -> str:
    """strconv.FormatFloat(f, 'g', -1, 64): %e from exponent 6 on (and below -4)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    sign, digits, exp = Decimal(repr(f)).as_tuple()
    ds = "".join(map(str, digits)).rstrip("0") or "0"
    dp = len(digits) + int(exp)  # the decimal point after this many digits
    x = dp - 1
    neg = "-" if sign else ""
    if x < -4 or x >= exp_from:
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{neg}{mant}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if dp <= 0:
        return f"{neg}0.{'0' * -dp}{ds}"
    if dp >= len(ds):
        return neg + ds + "0" * (dp - len(ds))
    return f"{neg}{ds[:dp]}.{ds[dp:]}"


def quote(s: str) -> str:
    """strconv.Quote."""
    out = ['"']
    for c in s:
        o = ord(c)
        if c in '"\\':
            out.append("\\" + c)
        elif c in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                        "\t": "\\t", "\v": "\\v"}[c])
        elif c.isprintable():
            out.append(c)
        elif o < 0x80:
            out.append(f"\\x{o:02x}")
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    return "".join(out) + '"'


def value(v: Any, verb: str = "v", plus: bool = False, depth: int = 0) -> str:
    """fmt's %v (or %s, %d... applied through slices, maps and structs) of one value."""
    if v is None:
        return "<nil>" if verb == "v" else f"%!{verb}(<nil>)"
    if hasattr(v, "String") and verb in "vsq":
        return quote(v.String()) if verb == "q" else v.String()
    if isinstance(v, list):
        return "[" + " ".join(value(x, verb, plus, depth + 1) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{value(k, verb, plus, depth + 1)}:"
                                 f"{value(v[k], verb, plus, depth + 1)}"
                                 for k in sorted(v)) + "]"
    if is_struct(v):
        fields = [(f"{f}:" if plus else "") + value(getattr(v, f), verb, plus, depth + 1)
                  for f in v.go_fields]
        prefix = "&" if depth == 0 and go_type(v).startswith("*") else ""
        return prefix + "{" + " ".join(fields) + "}"
    return leaf(v, verb, Spec("+" if plus else ""))


class Spec:
    def __init__(self, flags: str = "", width: int | None = None, prec: int | None = None):
        self.flags, self.width, self.prec = flags, width, prec


def _bad(v: Any, verb: str) -> str:
    return f"%!{verb}({go_type(v)}={value(v)})"


def leaf(v: Any, verb: str, spec: Spec) -> str:
    """One scalar under one verb, unpadded."""
    plus, sharp, space = "+" in spec.flags, "#" in spec.flags, " " in spec.flags
    if isinstance(v, bool):
        return ("true" if v else "false") if verb in "vt" else _bad(v, verb)
    if isinstance(v, int):
        sign = "-" if v < 0 else "+" if plus else " " if space else ""
        a = abs(v)
        if verb in "vd":
            body = str(a)
        elif verb in "boxX":
            body = format(a, {"b": "b", "o": "o", "x": "x", "X": "X"}[verb])
            if sharp:
                body = {"b": "0b", "o": "0", "x": "0x", "X": "0X"}[verb] + body
        elif verb == "c":
            return chr(v) if 0 <= v <= 0x10FFFF else "\ufffd"
        elif verb == "q":
            return "'" + quote(chr(v) if 0 <= v <= 0x10FFFF else "\ufffd")[1:-1].replace(
                '\\"', '"').replace("'", "\\'") + "'"
        elif verb == "U":
            return f"U+{v:04X}"
        else:
            return _bad(v, verb)
        if spec.prec is not None:
            body = body.zfill(spec.prec)
        return sign + body
    if isinstance(v, float):
        if verb in "eEfFgG" and spec.prec is not None or verb in "eEfF":
            p = 6 if spec.prec is None else spec.prec
            if math.isinf(v) or math.isnan(v):
                body = shortest_float(v)
            else:
                body = format(v, f"{'+' if plus else ''}.{p}{verb}")
                if verb in "gG" and "e" in body.lower():
                    body = re.sub(r"e([+-])(\d)$", r"e\g<1>0\2", body)
            if verb == "F":
                body = body.replace("inf", "Inf")
            return body if body.startswith(("-", "+")) or not space else " " + body
        if verb in "vgG":
            body = shortest_float(v)
            body = body.upper() if verb == "G" else body
            if plus and not body.startswith(("-", "+")):
                body = "+" + body
            return body
        return _bad(v, verb)
    if isinstance(v, str):
        s = v if spec.prec is None or verb not in "vsq" else v[:spec.prec]
        if verb in "vs":
            return s
        if verb == "q":
            return "`" + s + "`" if sharp and "`" not in s and s.isprintable() else quote(s)
        if verb in "xX":
            h = s.encode("utf-8", "surrogatepass").hex()
            return h.upper() if verb == "X" else h
        return _bad(v, verb)
    return _bad(v, verb)


def _pad(s: str, spec: Spec, numeric: bool) -> str:
    if spec.width is None or len(s) >= spec.width:
        return s
    fill = spec.width - len(s)
    if "-" in spec.flags:
        return s + " " * fill
    if "0" in spec.flags and numeric:
        sign = s[0] if s[:1] in "+- " else ""
        return sign + "0" * fill + s[len(sign):]
    return " " * fill + s


def format_one(v: Any, verb: str, spec: Spec) -> str:
    if verb == "T":
        return _pad(go_type(v), spec, False)
    if verb == "v" and "#" in spec.flags and isinstance(v, str):
        return _pad(quote(v), spec, False)
    if v is None or isinstance(v, (list, dict)) or is_struct(v) or hasattr(v, "String"):
        if hasattr(v, "String") and verb in "vsq":
            return _pad(leaf(v.String(), "s" if verb == "v" else verb, spec), spec, False)
        return _pad(value(v, verb, "+" in spec.flags), spec, False)
    numeric = isinstance(v, (int, float)) and not isinstance(v, bool)
    return _pad(leaf(v, verb, spec), spec, numeric)


def sprintf(fmt: str, *args: Any) -> str:
    out, i, argn = [], 0, 0
    while i < len(fmt):
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        m = _SPEC.match(fmt, j)
        assert m is not None
        flags, width, prec, verb = m.groups()
        i = m.end()
        spec = Spec(flags)
        for attr, raw in (("width", width), ("prec", prec)):
            if raw == "*":
                if argn < len(args) and isinstance(args[argn], int):
                    setattr(spec, attr, args[argn])
                else:
                    out.append("%!(BADWIDTH)" if attr == "width" else "%!(BADPREC)")
                argn += 1
            elif raw is not None:
                setattr(spec, attr, int(raw) if raw else 0)
        if verb == "":
            out.append("%!(NOVERB)")
        elif verb == "%":
            out.append("%")
        elif argn >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            out.append(format_one(args[argn], verb, spec))
            argn += 1
    if argn < len(args):
        extra = ", ".join(f"{go_type(a)}={value(a)}" if a is not None else "<nil>"
                          for a in args[argn:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def sprint(*args: Any) -> str:
    """fmt.Sprint: a space between operands when neither side is a string."""
    out, prev_string = [], False
    for n, a in enumerate(args):
        is_string = isinstance(a, str)
        if n > 0 and not is_string and not prev_string:
            out.append(" ")
        out.append(value(a))
        prev_string = is_string
    return "".join(out)


def sprintln(*args: Any) -> str:
    return " ".join(value(a) for a in args) + "\n"
