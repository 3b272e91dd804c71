"""Alertmanager's matcher syntax as its config loader reads it, and the legacy `match*` fields.

`parse_am_matchers` is pkg/labels ParseMatchers of Alertmanager 0.25: the text split on commas
outside quotes, each part `name op value` where an unquoted value runs to the end of the part
(spaces included, trimmed at both ends). `canonical` turns a `matchers:` line into the quoted
form notifier/matchers.py reads back identically. `match` / `match_re` (routes) and
`source_match*` / `target_match*` (inhibit rules) become matchers as Alertmanager's NewRoute and
NewInhibitRule build them: `=` for match, `=~` (anchored) for match_re.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from inferwatch.notifier.matchers import Matcher, MatcherError, parse_matchers

_RE = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*(.*?)\s*$", re.S)


def _tokens(text: str) -> list[str]:
    body = text.removeprefix("{").removesuffix("}")
    tokens, token, quoted, escaped = [], [], False, False
    for ch in body:
        if ch == "," and not quoted:
            tokens.append("".join(token))
            token = []
            continue
        if ch == '"':
            if not escaped:
                quoted = not quoted
            else:
                escaped = False
        elif ch == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(ch)
    last = "".join(token).strip()
    if last:
        tokens.append(last)
    return tokens


def _value(raw: str, shown: str) -> str:
    trailing = raw.startswith('"')
    if trailing:
        raw = raw[1:]
    out, escaped = [], False
    for i, ch in enumerate(raw):
        if escaped:
            escaped = False
            out.append({"n": "\n", '"': '"', "\\": "\\"}.get(ch, "\\" + ch))
            continue
        if ch == "\\":
            if i < len(raw) - 1:
                escaped = True
                continue
            out.append("\\")
        elif ch == '"':
            if not trailing or i < len(raw) - 1:
                raise MatcherError(f"matcher value contains unescaped double quote: {shown}")
            trailing = False
        else:
            out.append(ch)
    if trailing:
        raise MatcherError(f"matcher value contains unescaped double quote: {shown}")
    return "".join(out)


def parse_am_matchers(text: str) -> list[Matcher]:
    """Alertmanager 0.25's ParseMatchers; MatcherError as it refuses."""
    found = []
    for token in _tokens(text):
        m = _RE.match(token)
        if not m:
            raise MatcherError(f"bad matcher format: {token}")
        found.append(Matcher.make(m.group(1), m.group(2), _value(m.group(3), m.group(3))))
    return found


def canonical(text: str) -> str:
    """One `matchers:` line in the notifier's quoted syntax (Alertmanager's reading first;
    the notifier's own, which also takes quoted label names, when Alertmanager's refuses)."""
    try:
        found = parse_am_matchers(text)
    except MatcherError as first:
        try:
            found = parse_matchers(text)
        except MatcherError:
            raise first from None
    return ", ".join(str(m) for m in found)


def from_legacy(match: Mapping[str, str] | None, match_re: Mapping[str, str] | None
                ) -> list[str]:
    """`match` and `match_re` as matcher lines (regexes checked by RE2 as for `=~`)."""
    lines = [str(Matcher.make(k, "=", v)) for k, v in (match or {}).items()]
    # Alertmanager keeps a match_re value anchored (its Regexp's String()), so the matcher
    # reads `name=~"^(?:v)$"`, in the route's key too; anchoring twice matches the same
    lines += [str(Matcher.make(k, "=~", f"^(?:{v})$")) for k, v in (match_re or {}).items()]
    return lines
