"""The functions a template can call: text/template's builtins (Go 1.19), with Go's argument
types and error messages, and (from amfuncs) the FuncMap of Alertmanager 0.25."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from inferwatch.notifier.gotemplate import fmtgo
from inferwatch.notifier.gotemplate.amfuncs import ALERTMANAGER
from inferwatch.notifier.gotemplate.values import (
    GoError,
    Sig,
    comparable,
    go_type,
    kind,
    truth,
    zero_of,
)


@dataclass(frozen=True)
class Func:
    fn: Callable[..., Any]
    sig: Sig
    builtin: bool = False


def _eval_args(args: tuple[Any, ...]) -> str:
    if len(args) == 1 and type(args[0]) is str:
        return args[0]
    return fmtgo.sprint(*args)


def html_escape(s: str) -> str:
    """template.HTMLEscapeString."""
    return (s.replace("&", "&amp;").replace("'", "&#39;").replace("<", "&lt;")
            .replace(">", "&gt;").replace('"', "&#34;").replace("\0", "\ufffd"))


_JS = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026",
       "=": "\\u003D"}


def js_escape(s: str) -> str:
    """template.JSEscapeString."""
    out = []
    for c in s:
        if c in _JS:
            out.append(_JS[c])
        elif c < " " or ord(c) >= 0x80 and not c.isprintable():
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def _length(item: Any) -> int:
    if item is None:
        raise GoError("reflect: call of reflect.Value.Type on zero Value")
    if isinstance(item, str):
        return len(item.encode("utf-8", "surrogatepass"))
    if isinstance(item, (list, dict)):
        return len(item)
    raise GoError(f"len of type {go_type(item)}")


def _index_arg(index: Any, cap: int) -> int:
    if index is None:
        raise GoError("cannot index slice/array with nil")
    if kind(index) != "int":
        raise GoError(f"cannot index slice/array with type {go_type(index)}")
    if index < 0 or index > cap:
        raise GoError(f"index out of range: {index}")
    return index


def _index(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise GoError("index of untyped nil")
    for index in indexes:
        if isinstance(item, (str, list)):
            seq = item.encode("utf-8", "surrogatepass") if isinstance(item, str) else item
            x = _index_arg(index, len(seq))
            if x == len(seq):
                raise GoError("reflect: slice index out of range")
            item = seq[x]
        elif isinstance(item, dict):
            key = "" if index is None else index
            if kind(key) != "string":
                raise GoError(f"value has type {go_type(key)}; should be string")
            item = item[key] if key in item else zero_of(item)
        else:
            raise GoError(f"can't index item of type {go_type(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise GoError("slice of untyped nil")
    if len(indexes) > 3:
        raise GoError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise GoError("cannot 3-index slice a string")
        seq: Any = item.encode("utf-8", "surrogatepass")
    elif isinstance(item, list):
        seq = item
    else:
        raise GoError(f"can't slice item of type {go_type(item)}")
    idx = [0, len(seq), len(seq)]
    for i, index in enumerate(indexes):
        idx[i] = _index_arg(index, len(seq))
    if idx[0] > idx[1]:
        raise GoError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise GoError(f"invalid slice index: {idx[1]} > {idx[2]}")
    part = seq[idx[0]:idx[1]]
    if isinstance(item, str):
        return part.decode("utf-8", "replace")
    return type(item)(part) if isinstance(item, list) else part


_BAD_TYPE = "invalid type for comparison"


def eq(arg1: Any, *arg2: Any) -> bool:
    if arg1 is not None and not comparable(arg1):
        raise GoError(_BAD_TYPE)
    if not arg2:
        raise GoError("missing argument for comparison")
    k1 = _basic(arg1)
    for arg in arg2:
        k2 = _basic(arg)
        if k1 != k2:
            if arg1 is not None and arg is not None:
                raise GoError("incompatible types for comparison")
            continue
        if k1 == "invalid" and (arg is None or arg1 is None):
            if arg is arg1:
                return True
            continue
        if k1 == "invalid" and not comparable(arg):
            raise GoError(_BAD_TYPE)
        if arg1 == arg:
            return True
    return False


def _basic(v: Any) -> str:
    k = kind(v)
    return k if k in ("bool", "int", "float", "string") else "invalid"


def ne(arg1: Any, arg2: Any) -> bool:
    return not eq(arg1, arg2)


def lt(arg1: Any, arg2: Any) -> bool:
    k1, k2 = _basic(arg1), _basic(arg2)
    if "invalid" in (k1, k2):
        raise GoError(_BAD_TYPE)
    if k1 != k2:
        raise GoError("incompatible types for comparison")
    if k1 == "bool":
        raise GoError(_BAD_TYPE)
    return arg1 < arg2


def le(arg1: Any, arg2: Any) -> bool:
    return lt(arg1, arg2) or eq(arg1, arg2)


def gt(arg1: Any, arg2: Any) -> bool:
    return not le(arg1, arg2)


def ge(arg1: Any, arg2: Any) -> bool:
    return not lt(arg1, arg2)


def _call(fn: Any, *args: Any) -> Any:
    if fn is None:
        raise GoError("call of nil")
    raise GoError(f"non-function of type {go_type(fn)}")


A, S, LS = "any", "string", "[]string"
BUILTINS: dict[str, Func] = {name: Func(fn, sig, True) for name, (fn, sig) in {
    "and": (None, Sig(("any",), "any")), "or": (None, Sig(("any",), "any")),
    "not": (lambda a: not truth(a), Sig(("any",))),
    "len": (_length, Sig(("any",))),
    "index": (_index, Sig(("any",), "any")), "slice": (_slice, Sig(("any",), "any")),
    "call": (_call, Sig(("any",), "any")),
    "print": (fmtgo.sprint, Sig((), A)), "println": (fmtgo.sprintln, Sig((), A)),
    "printf": (fmtgo.sprintf, Sig((S,), A)),
    "html": (lambda *a: html_escape(_eval_args(a)), Sig((), A)),
    "js": (lambda *a: js_escape(_eval_args(a)), Sig((), A)),
    "urlquery": (lambda *a: urllib.parse.quote_plus(_eval_args(a), safe=""), Sig((), A)),
    "eq": (eq, Sig(("any",), "any")), "ne": (ne, Sig(("any", "any"))),
    "lt": (lt, Sig(("any", "any"))), "le": (le, Sig(("any", "any"))),
    "gt": (gt, Sig(("any", "any"))), "ge": (ge, Sig(("any", "any"))),
}.items()}

FUNCS: dict[str, Func] = BUILTINS | {
    name: Func(fn, sig) for name, (fn, sig) in ALERTMANAGER.items()}
