"""The links an alert carries into a notification and onto the web page: its runbook, its
dashboard panel over a time range around the alert, and the page's silence form prefilled
with matchers from its labels.

A `dashboard_url` written with the rule packs' relative range (`from=now-1h&to=now`) is
pinned to the alert here: from an hour before it started to now while it fires, or to 15
minutes after it resolved; a hand-written range is left as it is.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SILENCE_FORM = "/ui/silences/new"
BEFORE, AFTER = 3600.0, 900.0
PACK_RANGE = ("now-1h", "now")


def matchers_text(labels: dict[str, str]) -> str:
    """One `name="value"` per line: what the silence form reads."""
    def quote(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return "\n".join(f'{k}="{quote(v)}"' for k, v in sorted(labels.items()))


def silence_path(labels: dict[str, str]) -> str:
    """The silence form's path and query, prefilled with the labels as equality matchers."""
    return SILENCE_FORM + "?" + urlencode([("matchers", matchers_text(labels))])


def silence_url(external_url: str, labels: dict[str, str]) -> str:
    """The form's full URL under the notifier's external URL ("" without one)."""
    return external_url.rstrip("/") + silence_path(labels) if external_url else ""


def dashboard_url(url: str, starts_at: float, ends_at: float | None) -> str:
    """The URL with the packs' relative range replaced by one around the alert (epoch ms);
    every other parameter is left as written (`%20` stays `%20`)."""
    parts = urlsplit(url)
    found = dict(parse_qsl(parts.query, keep_blank_values=True))
    if (found.get("from"), found.get("to")) != PACK_RANGE:
        return url
    until = "now" if ends_at is None else str(int((ends_at + AFTER) * 1000))
    span = {"from": str(int((starts_at - BEFORE) * 1000)), "to": until}
    pairs = [p.partition("=") for p in parts.query.split("&")]
    query = "&".join(f"{k}={span[k]}" if k in span else k + s + v for k, s, v in pairs)
    return urlunsplit(parts._replace(query=query))
