"""The HTML contexts of Go's html/template (Go 1.19 context.go and transition.go), for the parts
of HTML that notification templates use: text, RCDATA (`<title>`, `<textarea>`), tags and their
attributes (plain and URL-valued, quoted or not) and comments, which are dropped from the output.

`<script>` and `<style>` content and JavaScript, CSS and srcset attribute values are followed
only far enough to find where they end (`</style>`, the closing quote); an action inside them
is refused (`HTMLEscapeError`), where Go would escape it as JavaScript or CSS.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, replace

from inferwatch.notifier.gotemplate.lexer import GoTemplateError

TEXT, RCDATA, TAG, ATTR_NAME, AFTER_NAME, BEFORE_VALUE = ("Text", "RCDATA", "Tag", "AttrName",
                                                          "AfterName", "BeforeValue")
HTML_CMT, ATTR, URL, JS, CSS, SRCSET = "HTMLCmt", "Attr", "URL", "JS", "CSS", "Srcset"
NONE, SPACE, DQ, SQ = "None", "SpaceOrTagEnd", "DoubleQuote", "SingleQuote"
PART_NONE, PRE_QUERY, QUERY, UNKNOWN = "None", "PreQuery", "QueryOrFrag", "Unknown"
ELEMENTS = {"script": JS, "style": CSS, "textarea": RCDATA, "title": RCDATA}
URL_ATTRS = {"action", "archive", "background", "cite", "classid", "codebase", "data",
             "formaction", "href", "icon", "longdesc", "manifest", "poster", "profile", "src",
             "usemap", "xmlns"}
_SPACE = " \t\n\f\r"


class HTMLEscapeError(GoTemplateError):
    """A template html/template cannot escape (or one we do not escape: JS and CSS)."""


@dataclass(frozen=True)
class Context:
    state: str = TEXT
    delim: str = NONE
    url_part: str = PART_NONE
    element: str = ""  # script, style, textarea, title or ""
    attr: str = ""  # url, js, css, srcset, type or ""
    error: str = ""

    def __str__(self) -> str:
        parts = [f"state{self.state}"]
        if self.delim != NONE:
            parts.append(f"delim{self.delim}")
        if self.url_part != PART_NONE:
            parts.append(f"urlPart{self.url_part}")
        if self.attr:
            parts.append(f"attr{self.attr}")
        if self.element:
            parts.append(f"element{self.element}")
        return "_".join(parts)


def attr_kind(name: str) -> str:
    """Go's attrType, reduced to the kinds that change the context."""
    if name.startswith("data-"):
        name = name[5:]
    elif ":" in name:
        prefix, name = name.split(":", 1)
        if prefix == "xmlns":
            return "url"
    if name in URL_ATTRS:
        return "url"
    if name == "style":
        return "css"
    if name == "srcset":
        return "srcset"
    if name.startswith("on"):
        return "js"
    return "url" if any(w in name for w in ("src", "uri", "url")) else ""


def nudge(c: Context) -> Context:
    if c.state == TAG:
        return replace(c, state=ATTR_NAME)
    if c.state == BEFORE_VALUE:
        return replace(c, state=_attr_start(c.attr), delim=SPACE)
    if c.state == AFTER_NAME:
        return replace(c, state=ATTR_NAME)
    return c


def _attr_start(attr: str) -> str:
    return {"url": URL, "js": JS, "css": CSS, "srcset": SRCSET}.get(attr, ATTR)


def _error(msg: str) -> Context:
    return Context(state="Error", error=msg)


def _eat_space(s: str, i: int) -> int:
    while i < len(s) and s[i] in _SPACE:
        i += 1
    return i


def _eat_tag_name(s: str, i: int) -> tuple[int, str]:
    if i == len(s) or not (s[i].isascii() and s[i].isalpha()):
        return i, ""
    j = i + 1
    while j < len(s):
        x = s[j]
        if x.isascii() and x.isalnum():
            j += 1
        elif x in ":-" and j + 1 < len(s) and s[j + 1].isascii() and s[j + 1].isalnum():
            j += 2
        else:
            break
    name = s[i:j].lower()
    return j, name if name in ELEMENTS else ""


def _eat_attr_name(s: str, i: int) -> int:
    for j in range(i, len(s)):
        if s[j] in " \t\n\f\r=>":
            return j
        if s[j] in "'\"<":
            return -1
    return len(s)


def _t_text(c: Context, s: str) -> tuple[Context, int]:
    k = 0
    while True:
        i = s.find("<", k)
        if i < 0 or i + 1 == len(s):
            return c, len(s)
        if s.startswith("<!--", i):
            return Context(state=HTML_CMT), i + 4
        i += 1
        end = False
        if s[i] == "/":
            if i + 1 == len(s):
                return c, len(s)
            end, i = True, i + 1
        j, element = _eat_tag_name(s, i)
        if j != i:
            return Context(state=TAG, element="" if end else element), j
        k = j


def _t_tag(c: Context, s: str) -> tuple[Context, int]:
    i = _eat_space(s, 0)
    if i == len(s):
        return c, len(s)
    if s[i] == ">":
        return Context(state=ELEMENTS.get(c.element, TEXT), element=c.element), i + 1
    j = _eat_attr_name(s, i)
    if j < 0:
        return _error(f"bad character in attribute name: {s[:32]!r}"), len(s)
    if j == i:
        return _error(f"expected space, attr name, or end of tag, but got {s[i:]!r}"), len(s)
    name = s[i:j].lower()
    attr = "type" if c.element == "script" and name == "type" else attr_kind(name)
    return Context(state=ATTR_NAME if j == len(s) else AFTER_NAME, element=c.element,
                   attr=attr), j


def _t_attr_name(c: Context, s: str) -> tuple[Context, int]:
    i = _eat_attr_name(s, 0)
    if i < 0:
        return _error(f"bad character in attribute name: {s[:32]!r}"), len(s)
    return (replace(c, state=AFTER_NAME) if i != len(s) else c), i


def _t_after_name(c: Context, s: str) -> tuple[Context, int]:
    i = _eat_space(s, 0)
    if i == len(s):
        return c, len(s)
    if s[i] != "=":
        return replace(c, state=TAG), i
    return replace(c, state=BEFORE_VALUE), i + 1


def _t_before_value(c: Context, s: str) -> tuple[Context, int]:
    i = _eat_space(s, 0)
    if i == len(s):
        return c, len(s)
    delim = SPACE
    if s[i] in "'\"":
        delim, i = (SQ if s[i] == "'" else DQ), i + 1
    return replace(c, state=_attr_start(c.attr), delim=delim), i


def _t_comment(c: Context, s: str) -> tuple[Context, int]:
    i = s.find("-->")
    return (Context(), i + 3) if i >= 0 else (c, len(s))


def _t_url(c: Context, s: str) -> tuple[Context, int]:
    if "#" in s or "?" in s:
        return replace(c, url_part=QUERY), len(s)
    if _eat_space(s, 0) != len(s) and c.url_part == PART_NONE:
        return replace(c, url_part=PRE_QUERY), len(s)
    return c, len(s)


def _t_rest(c: Context, s: str) -> tuple[Context, int]:
    return c, len(s)


TRANSITIONS = {TEXT: _t_text, TAG: _t_tag, ATTR_NAME: _t_attr_name, AFTER_NAME: _t_after_name,
               BEFORE_VALUE: _t_before_value, HTML_CMT: _t_comment, RCDATA: _t_rest,
               ATTR: _t_rest, URL: _t_url, SRCSET: _t_url, JS: _t_rest, CSS: _t_rest}


def _special_end(c: Context, s: str) -> tuple[Context, int]:
    """Where `</script`, `</style`, `</title` or `</textarea` ends the element's content."""
    if c.element:
        lower, marker, k = s.lower(), "</" + c.element, 0
        while (i := lower.find(marker, k)) >= 0:
            j = i + len(marker)
            if j >= len(s) or s[j] in " \t\n\f\r>/":
                return Context(), i
            k = j
    return c, len(s)


def after_text(c: Context, s: str) -> tuple[Context, int]:
    """Go's contextAfterText: the context after a prefix of `s`, and that prefix's length."""
    if c.delim == NONE:
        c1, i = _special_end(c, s)
        if i == 0:
            return c1, 0
        return TRANSITIONS[c.state](c, s[:i])
    ends = {DQ: '"', SQ: "'", SPACE: " \t\n\f\r>"}[c.delim]
    i = next((k for k, ch in enumerate(s) if ch in ends), len(s))
    if c.delim == SPACE and (bad := next((ch for ch in s[:i] if ch in "\"'<=`"), None)):
        return _error(f"{bad!r} in unquoted attr: {s[:i]!r}"), len(s)
    if i == len(s):
        u = html.unescape(s)
        while u:
            c, k = TRANSITIONS[c.state](c, u)
            u = u[k:]
        return c, len(s)
    element = c.element
    if c.state == ATTR and c.element == "script" and c.attr == "type":
        element = ""  # a non-JS type is the common case in notifications; no JS is escaped here
    return Context(state=TAG, element=element), i + (c.delim != SPACE)


def escape_text(c: Context, s: str) -> tuple[Context, str]:
    """Go's escapeText: the context after the text node, and the text as html/template writes
    it (comments dropped, a `<` that starts no tag in text or RCDATA written `&lt;`)."""
    out: list[str] = []
    written = i = 0
    while i != len(s):
        c1, nread = after_text(c, s[i:])
        i1 = i + nread
        if c.state in (TEXT, RCDATA):
            end = i1
            if c1.state != c.state:
                end = max((j for j in range(i, i1) if s[j] == "<"), default=i1)
            for j in range(i, end):
                if s[j] == "<" and not s[j:j + 9].upper().startswith("<!DOCTYPE"):
                    out.append(s[written:j] + "&lt;")
                    written = j + 1
        elif c.state == HTML_CMT and c.delim == NONE:
            written = i1
        if c.state != c1.state and c1.state == HTML_CMT and c1.delim == NONE:
            out.append(s[written:i1 - 4])
            written = i1
        if c1.state == "Error":
            raise HTMLEscapeError(c1.error)
        c, i = c1, i1
    if c.state != HTML_CMT:
        out.append(s[written:])
    return c, "".join(out)
