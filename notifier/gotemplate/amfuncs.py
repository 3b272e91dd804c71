"""Alertmanager 0.25's template.DefaultFuncs: toUpper toLower title join match safeHtml
reReplaceAll stringSlice, as Go runs them (RE2 regexps, Go's `$1` expansion, x/text title)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

import re2

from inferwatch.notifier.gotemplate import fmtgo
from inferwatch.notifier.gotemplate.values import HTML, GoError, Sig, StringList

S, LS = "string", "[]string"


def title(s: str) -> str:
    """cases.Title(language.AmericanEnglish).String: a letter after anything but a letter
    (digits included) goes up, the others down; `_`, and `'`, `.`, `:` between letters, keep
    a word together."""
    out, in_word = [], False
    for i, c in enumerate(s):
        cat = unicodedata.category(c)[0]
        mid = c in "'’.:" and in_word and i + 1 < len(s) and (
            unicodedata.category(s[i + 1])[0] == "L")
        if cat == "L":
            mapped = c.lower() if in_word else c.title()
            out.append(mapped if len(mapped) == 1 else c)
            in_word = True
        else:
            out.append(c)
            in_word = cat == "M" and in_word or c == "_" or mid
    return "".join(out)


def _case(s: str, method: str) -> str:
    """strings.ToUpper / ToLower: simple one-rune mappings only (no ß -> SS)."""
    out = []
    for c in s:
        m = getattr(c, method)()
        out.append(m if len(m) == 1 else c)
    return "".join(out)


def _compile(pattern: str) -> Any:
    try:
        return re2.compile(pattern)
    except re2.error as err:
        detail = err.args[0].decode(errors="replace") if err.args and isinstance(
            err.args[0], bytes) else str(err)
        raise GoError(f"error parsing regexp: {detail}") from None


def match(pattern: str, s: str) -> bool:
    return _compile(pattern).search(s) is not None


def _expand(template: str, m: Any, names: dict[str, int]) -> str:
    """regexp.Expand's `$1`, `${1}`, `$name`, `${name}` and `$$`."""
    out, i = [], 0
    while i < len(template):
        j = template.find("$", i)
        if j < 0:
            out.append(template[i:])
            break
        out.append(template[i:j])
        rest = template[j + 1:]
        if rest.startswith("$"):
            out.append("$")
            i = j + 2
            continue
        brace = rest.startswith("{")
        body = rest[1:] if brace else rest
        k = 0
        while k < len(body) and (body[k].isalnum() or body[k] == "_"):
            k += 1
        if k == 0 or (brace and (k >= len(body) or body[k] != "}")):
            out.append("$")
            i = j + 1
            continue
        name = body[:k]
        i = j + 1 + k + (2 if brace else 0)
        group = int(name) if name.isdigit() and name.isascii() and (
            name == "0" or not name.startswith("0")) else names.get(name, -1)
        if 0 <= group <= m.re.groups and m.group(group) is not None:
            out.append(m.group(group))
    return "".join(out)


def re_replace_all(pattern: str, repl: str, text: str) -> str:
    """Regexp.ReplaceAllString, including Go's rule on empty matches after a match."""
    try:
        rx = re2.compile(pattern)
    except re2.error as err:
        detail = err.args[0].decode(errors="replace") if err.args and isinstance(
            err.args[0], bytes) else str(err)
        shown = f"`{pattern}`" if "`" not in pattern else fmtgo.quote(pattern)
        raise GoError(f"regexp: Compile({shown}): error parsing regexp: {detail}") from None
    names = dict(rx.groupindex)
    out, last, pos = [], 0, 0
    while pos <= len(text):
        m = rx.search(text, pos)
        if m is None:
            break
        start, end = m.span()
        out.append(text[last:start])
        if end > last or start == 0:
            out.append(_expand(repl, m, names))
        last = end
        pos = pos + 1 if pos + 1 > end else end
    out.append(text[last:])
    return "".join(out)


ALERTMANAGER: dict[str, tuple[Callable[..., Any], Sig]] = {
    "toUpper": (lambda s: _case(s, "upper"), Sig((S,))),
    "toLower": (lambda s: _case(s, "lower"), Sig((S,))),
    "title": (title, Sig((S,))),
    "join": (lambda sep, s: sep.join(s or ()), Sig((S, LS))),
    "match": (match, Sig((S, S))),
    "safeHtml": (HTML, Sig((S,))),
    "reReplaceAll": (re_replace_all, Sig((S, S, S))),
    "stringSlice": (lambda *s: StringList(s), Sig((), S)),
}
