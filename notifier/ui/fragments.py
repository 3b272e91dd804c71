"""The parts of an alert's block on the page that depend on the alert alone: its links (source,
runbook, dashboard over a range around it, the prefilled silence form), its label chips and its
annotations.

`Fragments` keeps them per alert object: the notifier replaces a StoredAlert whenever the alert
changes, so a block is rebuilt exactly when its alert did (the cache holds the object, so an
identity check cannot be fooled by a reused id). The state and the times are never cached.
"""

from __future__ import annotations

from aiohttp import web

from inferwatch.notifier import alertlinks
from inferwatch.notifier.alerts import StoredAlert
from inferwatch.notifier.ui.render import Safe, el, join, labels, link, safe_href

LIMIT = 5000  # blocks kept (about 1.7 KB each); past it the cache starts again


def silence_link(pairs: dict[str, str], text: str = "Silence…") -> Safe:
    return link(alertlinks.silence_path(pairs), text, **{"class": "silence"})


def context_links(a: StoredAlert, now: float) -> list[Safe]:
    """The alert's runbook and dashboard (over a range around the alert), when it has them."""
    notes, out = a.annotations, []
    dash = notes.get("dashboard_url", "")
    if dash:
        dash = alertlinks.dashboard_url(dash, a.starts_at, a.ends_at if a.resolved(now) else None)
    for name, url, cls in (("runbook", notes.get("runbook_url", ""), "runbook"),
                           ("dashboard", dash, "dashboard")):
        href = safe_href(url) if url else None
        if href:
            out.append(link(href, name, rel="noopener noreferrer", **{"class": cls}))
    return out


def annotations(pairs: dict[str, str]) -> Safe:
    if not pairs:
        return Safe("")
    rows = []
    for name in sorted(pairs):
        value = pairs[name]
        href = safe_href(value) if "\n" not in value else None
        rows.append(el("dt", {}, name) + el("dd", {}, link(href, value) if href else value))
    return el("dl", {"class": "annotations"}, join(rows))


class Fragments:
    """(links, body) of each alert's block, per alert object and page address."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, str, bool], tuple[StoredAlert, Safe, Safe]] = {}

    def of(self, a: StoredAlert, here: str, now: float) -> tuple[Safe, Safe]:
        """` · `-led links for the block's head line, and the chips plus annotations."""
        key = (a.fingerprint, here, a.resolved(now))
        hit = self._kept.get(key)
        if hit is not None and hit[0] is a:
            return hit[1], hit[2]
        href = safe_href(a.generator_url or "")
        found = [link(href, "source", rel="noopener noreferrer")] if href else []
        found += [*context_links(a, now), silence_link(a.labels)]
        links = Safe(" · ") + join(found, " · ")
        body = el("div", {}, labels(a.labels, here)) + annotations(a.annotations)
        if len(self._kept) >= LIMIT:
            self._kept.clear()
        self._kept[key] = (a, links, body)
        return links, body


FRAGMENTS = web.AppKey("inferwatch_ui_fragments", Fragments)
