"""Go's literal syntax in templates: strconv.Unquote for strings and characters, and the
value of a number constant as text/template evaluates it."""

from __future__ import annotations

import re

_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            "\\": "\\", "'": "'", '"': '"'}

def unquote(quoted: str) -> str:
    """Go's strconv.Unquote for "..." and '...' literals (a ValueError when malformed)."""
    if quoted.startswith("`"):
        return quoted[1:-1].replace("\r", "")
    body, out, i = quoted[1:-1], [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1] if i + 1 < len(body) else ""
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        elif e in "xuU":
            size = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i + 2:i + 2 + size]
            if len(digits) != size or not re.fullmatch(r"[0-9a-fA-F]+", digits):
                raise ValueError(quoted)
            out.append(chr(int(digits, 16)))
            i += 2 + size
        elif e in "01234567":
            digits = body[i + 1:i + 4]
            if not re.fullmatch(r"[0-7]{3}", digits):
                raise ValueError(quoted)
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise ValueError(quoted)
    return "".join(out)


def number(text: str) -> int | float:
    """The value of a number constant as Go's template evaluates it (int or float64)."""
    plain = text.replace("_", "")
    lower = plain.lower()
    is_hex = lower.lstrip("+-").startswith("0x")
    if lower.endswith("i"):
        raise ValueError("complex constants are not supported")
    if (not is_hex and any(c in lower for c in ".e")) or (is_hex and "p" in lower):
        return float.fromhex(plain) if is_hex else float(plain)
    sign, digits = (-1, lower[1:]) if lower.startswith("-") else (1, lower.lstrip("+"))
    value = sign * (int(digits, 8) if re.fullmatch(r"0[0-7]+", digits) else int(digits, 0))
    if not -(1 << 63) <= value < (1 << 63):
        raise OverflowError(f"{text} overflows int")
    return value
