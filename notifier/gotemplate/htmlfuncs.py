"""html/template's escaping functions (Go 1.19 html.go, url.go, content.go) for the contexts
notifier/gotemplate/htmlcontext.py follows, and the function map html/template runs with:
Alertmanager's functions plus these."""

from __future__ import annotations

import re
from typing import Any

from inferwatch.notifier.gotemplate import fmtgo
from inferwatch.notifier.gotemplate.funcs import FUNCS, Func
from inferwatch.notifier.gotemplate.htmlcontext import attr_kind
from inferwatch.notifier.gotemplate.values import HTML, Sig

FAILSAFE = "ZgotmplZ"
PREDEFINED = ("html", "urlquery")
EQUIVALENT = {"_html_template_attrescaper": "html", "_html_template_htmlescaper": "html",
              "_html_template_rcdataescaper": "html", "_html_template_urlescaper": "urlquery",
              "_html_template_urlnormalizer": "urlquery"}

_HTML = {"\0": "\ufffd", '"': "&#34;", "&": "&amp;", "'": "&#39;", "+": "&#43;", "<": "&lt;",
         ">": "&gt;"}
_HTML_NORM = {k: v for k, v in _HTML.items() if k != "&"}
_NOSPACE = {"\0": "&#xfffd;", "\t": "&#9;", "\n": "&#10;", "\v": "&#11;", "\f": "&#12;",
            "\r": "&#13;", " ": "&#32;", '"': "&#34;", "&": "&amp;", "'": "&#39;", "+": "&#43;",
            "<": "&lt;", "=": "&#61;", ">": "&gt;", "`": "&#96;"}
_NOSPACE_NORM = {k: v for k, v in _NOSPACE.items() if k != "&"}
_URL_RESERVED = set("!#$&*+,/:;=?@[]")
_UNRESERVED = set("-._~abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_HEX = set("0123456789abcdefABCDEF")
_TAG = re.compile(r"<[^>]*>?")


def stringify(args: tuple[Any, ...]) -> tuple[str, bool]:
    """(the text, whether it is template.HTML); nil arguments are left out, as in Go."""
    if len(args) == 1 and type(args[0]) in (str, HTML):
        return str(args[0]), isinstance(args[0], HTML)
    return fmtgo.sprint(*(a for a in args if a is not None)), False


def _replace(s: str, table: dict[str, str], bad_runes: bool) -> str:
    out = []
    for ch in s:
        repl = table.get(ch)
        if repl is not None:
            out.append(repl)
        elif not bad_runes and ("\ufdd0" <= ch <= "\ufdef" or "\ufff0" <= ch <= "\uffff"):
            out.append(f"&#x{ord(ch):x};")
        else:
            out.append(ch)
    return "".join(out)


def _strip_tags(s: str) -> str:
    """An approximation of Go's stripTags: markup left out of HTML put in an attribute."""
    return _TAG.sub("", s)


def html_escaper(*args: Any) -> str:
    s, is_html = stringify(args)
    return s if is_html else _replace(s, _HTML, True)


def rcdata_escaper(*args: Any) -> str:
    s, is_html = stringify(args)
    return _replace(s, _HTML_NORM if is_html else _HTML, True)


def attr_escaper(*args: Any) -> str:
    s, is_html = stringify(args)
    if is_html:
        return _replace(_strip_tags(s), _HTML_NORM, True)
    return _replace(s, _HTML, True)


def nospace_escaper(*args: Any) -> str:
    s, is_html = stringify(args)
    if is_html:
        return _replace(_strip_tags(s), _NOSPACE_NORM, False)
    return _replace(s, _NOSPACE, False)


def url_filter(*args: Any) -> str:
    s, _ = stringify(args)
    protocol, colon, _rest = s.partition(":")
    if colon and "/" not in protocol and protocol.lower() not in ("http", "https", "mailto"):
        return "#" + FAILSAFE
    return s


def _process_url(s: str, norm: bool) -> str:
    data = s.encode("utf-8", "surrogatepass")
    out = bytearray()
    for i, b in enumerate(data):
        ch = chr(b)
        if (ch in _URL_RESERVED and norm) or ch in _UNRESERVED or (
                ch == "%" and norm and i + 2 < len(data) and chr(data[i + 1]) in _HEX
                and chr(data[i + 2]) in _HEX):
            out.append(b)
        else:
            out += f"%{b:02x}".encode()
    return out.decode("utf-8", "surrogatepass")


def url_escaper(*args: Any) -> str:
    return _process_url(stringify(args)[0], False)


def url_normalizer(*args: Any) -> str:
    return _process_url(stringify(args)[0], True)


def name_filter(*args: Any) -> str:
    s, _ = stringify(args)
    if not s:
        return FAILSAFE
    s = s.lower()
    if attr_kind(s) or not all(c.isascii() and c.isalnum() for c in s):
        return FAILSAFE
    return s


def _eval_args(*args: Any) -> str:
    return stringify(args)[0] if len(args) == 1 and type(args[0]) is str else fmtgo.sprint(*args)


_ANY = Sig((), "any")
HTML_FUNCS: dict[str, Func] = FUNCS | {name: Func(fn, _ANY) for name, fn in {
    "_html_template_htmlescaper": html_escaper, "_html_template_rcdataescaper": rcdata_escaper,
    "_html_template_attrescaper": attr_escaper,
    "_html_template_nospaceescaper": nospace_escaper,
    "_html_template_urlfilter": url_filter, "_html_template_urlescaper": url_escaper,
    "_html_template_urlnormalizer": url_normalizer,
    "_html_template_htmlnamefilter": name_filter,
    "_html_template_commentescaper": lambda *a: "", "_eval_args_": _eval_args}.items()}
