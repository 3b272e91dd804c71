"""HTML building for the web page: every value escaped unless it is already `Safe` markup.

`el("td", {"class": "x"}, text)` escapes `text` and every attribute value; only markup built
here (or by `el`) is `Safe`. Links to URLs that came from alerts go through `safe_href`, which
keeps http(s) only, so an annotation cannot smuggle a `javascript:` link into the page. The
layout inlines its CSS and the one small refresh script (with a CSP nonce): nothing is fetched
from elsewhere, and the page reads the same with JavaScript off.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import quote_plus, urlencode, urlsplit

from inferwatch.core.durations import format_duration


class Safe(str):
    """Markup that is already escaped; `Safe + x` escapes `x` unless it is Safe too."""

    __slots__ = ()

    def __add__(self, other: object) -> Safe:
        return Safe(str.__add__(self, esc(other)))


def esc(value: object) -> Safe:
    if isinstance(value, Safe):
        return value
    return Safe(html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[object], sep: str = "") -> Safe:
    return Safe(esc(sep).join([p if type(p) is Safe else esc(p) for p in parts]))


def el(tag: str, attrs: Mapping[str, object] | None = None, *children: object) -> Safe:
    """`<tag attrs>children</tag>`; an attribute set to None or False is left out, True is bare."""
    parts = [tag]
    for name, value in (attrs or {}).items():
        if value is None or value is False:
            continue
        parts.append(esc(name) if value is True else f'{esc(name)}="{esc(value)}"')
    opening = "<" + " ".join(parts) + ">"
    if tag in ("input", "br", "meta"):
        return Safe(opening)
    return Safe(opening + join(children) + f"</{tag}>")


def safe_href(url: str) -> str | None:
    """An http(s) URL as given, else None (never a javascript: or data: link)."""
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


def link(href: str, text: object, **attrs: object) -> Safe:
    return el("a", {"href": href, **attrs}, text)


def query(path: str, params: Iterable[tuple[str, str]]) -> str:
    pairs = list(params)
    return path + ("?" + urlencode(pairs) if pairs else "")


def when(ts: float | None, now: float) -> Safe:
    """A UTC time with how long ago (or from now) it is, in a <time> element."""
    if ts is None:
        return esc("—")
    stamp = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    delta = ts - now
    rel = "now" if abs(delta) < 1 else (f"in {format_duration(round(delta))}" if delta > 0
                                        else f"{format_duration(round(-delta))} ago")
    iso = datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return el("time", {"datetime": iso, "title": stamp}, f"{stamp} ({rel})")


def labels(pairs: Mapping[str, str], add_filter: str | None = None) -> Safe:
    """Label chips; with `add_filter` (the current page's path and query), each chip is a
    link that narrows the page to that label (`filter=name="value"`)."""
    if add_filter is None:
        return Safe(" ".join(f'<span class="chip">{esc(f"{k}={pairs[k]}")}</span>'
                             for k in sorted(pairs)))
    base = esc(add_filter + ("&" if "?" in add_filter else "?") + "filter=")
    return Safe(" ".join(
        f'<a class="chip" href="{base}{_form(k)}%3D%22{_form(_quote(pairs[k]))}%22">'
        f'{esc(f"{k}={pairs[k]}")}</a>' for k in sorted(pairs)))


_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")


def _form(text: str) -> str:
    """`text` as a form-encoded query value (quote_plus), at once when nothing needs quoting;
    either way nothing in it needs HTML escaping."""
    return text if _PLAIN.fullmatch(text) else quote_plus(text)


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def hidden(name: str, value: str) -> Safe:
    return el("input", {"type": "hidden", "name": name, "value": value})


def post_button(action: str, label: str, csrf: str, cls: str = "") -> Safe:
    """A one-button form that POSTs with the CSRF token."""
    return el("form", {"method": "post", "action": action, "class": "inline"},
              hidden("csrf_token", csrf), el("button", {"type": "submit", "class": cls}, label))


CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
header{background:#1d2330;color:#fff;padding:.5em 1em;display:flex;gap:1.5em;align-items:center}
header a{color:#cfd8ea;text-decoration:none}header a.on{color:#fff;font-weight:600}
header .right{margin-left:auto;display:flex;gap:1em;align-items:center}
main{padding:1em;max-width:1400px}
h1{font-size:1.3em;margin:.2em 0 .6em}h2{font-size:1.05em;margin:0}
.group{background:#fff;border:1px solid #d6dae2;border-radius:6px;margin:0 0 1em}
.group>.head{padding:.5em .8em;border-bottom:1px solid #e4e7ec;display:flex;gap:1em;
align-items:center;flex-wrap:wrap}
.alert{padding:.5em .8em;border-top:1px solid #eef0f3}.alert:first-of-type{border-top:0}
.chip{display:inline-block;background:#e8ecf4;border-radius:3px;padding:0 .4em;margin:.1em 0;
color:#1d2330;text-decoration:none;font-family:ui-monospace,monospace;font-size:12px}
a.chip:hover{background:#cdd6ea}
.state{font-weight:600;padding:0 .4em;border-radius:3px}
.state.active,.state.firing,.state.pending{background:#fde2e1;color:#8a1c17}
.state.silenced,.state.expired,.state.superseded{background:#e4e7ec;color:#444}
.state.inhibited{background:#fff1cc;color:#6b4e00}
.state.delivered{background:#dcf2e3;color:#17602f}.state.failed{background:#8a1c17;color:#fff}
dl{margin:.3em 0;display:grid;grid-template-columns:max-content 1fr;gap:.1em .8em}
dt{color:#555}dd{margin:0;white-space:pre-wrap;word-break:break-word}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border:1px solid #d6dae2;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#eef0f3}td.err{color:#8a1c17;white-space:pre-wrap;word-break:break-word}
form.inline{display:inline}form.filter{display:flex;gap:.6em;flex-wrap:wrap;align-items:center;
margin-bottom:1em}input[type=text],textarea{font-family:ui-monospace,monospace;font-size:13px}
input[name=filter]{min-width:30em}textarea{width:40em;height:8em}
.msg{padding:.5em .8em;border-radius:4px;margin-bottom:1em}.msg.ok{background:#dcf2e3}
.msg.error{background:#fde2e1;color:#8a1c17}.muted{color:#666}
label.f{display:block;margin:.6em 0 .2em;font-weight:600}
button{cursor:pointer}
"""

# Live refresh, opt-in: re-fetch the page and swap <main>, unless a form field has focus.
SCRIPT = """
(function(){var box=document.getElementById('live');if(!box)return;
box.checked=localStorage.getItem('iw-live')==='1';
box.addEventListener('change',function(){localStorage.setItem('iw-live',box.checked?'1':'0');});
setInterval(function(){if(!box.checked)return;var a=document.activeElement;
if(a&&/INPUT|TEXTAREA|SELECT/.test(a.tagName)&&a!==box)return;
fetch(location.href,{credentials:'same-origin'}).then(function(r){return r.ok?r.text():null})
.then(function(t){if(!t)return;var d=new DOMParser().parseFromString(t,'text/html');
var m=d.querySelector('main');if(m)document.querySelector('main').replaceWith(m);});},10000);
})();
"""

NAV = (("alerts", "/ui/alerts", "Alerts"), ("silences", "/ui/silences", "Silences"),
       ("notifications", "/ui/notifications", "Notifications"))


def page(title: str, current: str, body: Safe, nonce: str, csrf: str,
         signed_in: bool = False) -> str:
    """The whole document."""
    nav = [link(href, text, **{"class": "on" if key == current else None})
           for key, href, text in NAV]
    right = [el("label", {}, el("input", {"type": "checkbox", "id": "live"}), " live")]
    if signed_in:
        right.append(post_button("/ui/logout", "sign out", csrf))
    head = el("header", {}, el("strong", {}, "inferwatch notifier"), join(nav, " "),
              el("span", {"class": "right"}, join(right, " ")))
    return Safe("<!doctype html>") + el(
        "html", {"lang": "en"},
        el("head", {}, el("meta", {"charset": "utf-8"}),
           el("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}),
           el("title", {}, f"{title} · inferwatch notifier"),
           Safe('<link rel="icon" href="data:,">'),  # no /favicon.ico request
           el("style", {"nonce": nonce}, Safe(CSS))),
        el("body", {}, head, el("main", {}, el("h1", {}, title), body),
           el("script", {"nonce": nonce}, Safe(SCRIPT))))
