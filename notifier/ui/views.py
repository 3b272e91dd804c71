"""The pages that read: alerts by group, silences, and the notification log.

Alerts are listed as the route tree groups them (the live aggregation groups, in the order
`GET /api/v2/alerts/groups` answers them), narrowed by the API's `filter` matchers (RE2),
`receiver` and the active/silenced/inhibited switches. The list shows every group with its
counts by state and its first PER_GROUP alerts; `group=KEY` shows one group with all its
alerts (at most MAX_ALERTS). Each alert shows why it is quiet (the silences and the inhibiting
alert, linked), from the same status the API gives (the notifier's silence index).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import MultiDict

from inferwatch.notifier import api_filters
from inferwatch.notifier.alerts import StoredAlert
from inferwatch.notifier.apiv2 import RequestError
from inferwatch.notifier.grouping import AggrGroup
from inferwatch.notifier.service import Notifier
from inferwatch.notifier.ui import data
from inferwatch.notifier.ui.data import notifier_of
from inferwatch.notifier.ui.fragments import FRAGMENTS, Fragments, silence_link
from inferwatch.notifier.ui.render import (
    Safe,
    el,
    join,
    labels,
    link,
    post_button,
    query,
    when,
)
from inferwatch.notifier.ui.security import csrf, respond

SWITCHES = ("active", "silenced", "inhibited")
PER_GROUP = 3  # alerts shown in full per group on the list; the head counts all of them
MAX_ALERTS = 2000  # alerts shown in full on one group's page; the head counts all of them


def _api_query(request: web.Request) -> tuple[MultiDict, list[str]]:
    """The page's query as the API's: unticked switches (when the form was sent) are false."""
    q = request.query
    filters = [f for f in q.getall("filter", []) if f.strip()]
    out: MultiDict = MultiDict(("filter", f) for f in filters)
    if q.get("receiver"):
        out["receiver"] = q["receiver"]
    for name in SWITCHES:
        out[name] = q.get(name, "false" if "shown" in q else "true")
    return out, filters


def _filter_form(request: web.Request, filters: list[str], args: MultiDict) -> Safe:
    n = notifier_of(request)
    receivers = [el("option", {"value": ""}, "any receiver")] + [
        el("option", {"value": r, "selected": request.query.get("receiver") == r}, r)
        for r in n.by_receiver]
    boxes = [el("label", {}, el("input", {"type": "checkbox", "name": name, "value": "true",
                                          "checked": args[name] == "true"}), f" {name}")
             for name in SWITCHES]
    return el("form", {"class": "filter", "method": "get", "action": "/ui/alerts"},
              el("input", {"type": "text", "name": "filter", "value": ", ".join(filters),
                           "placeholder": 'alertname="HighTTFT", model=~"llama.*"',
                           "aria-label": "matchers"}),
              el("select", {"name": "receiver", "aria-label": "receiver"}, join(receivers)),
              join(boxes, " "), el("input", {"type": "hidden", "name": "shown", "value": "1"}),
              el("button", {"type": "submit"}, "Filter"), link("/ui/alerts", "clear"))


def _state(n: Notifier, status: dict[str, Any]) -> Safe:
    parts = []
    for sid in status["silencedBy"]:
        s = data.silence_or_none(n, sid)
        what = f"{sid}" + (f" ({s.created_by}: {s.comment})" if s else "")
        parts.append(el("span", {}, el("span", {"class": "state silenced"}, "silenced"),
                        " by ", link(f"/ui/silences#s-{sid}", what,
                                     **{"class": "silenced-by", "data-silence": sid})))
    for fp in status["inhibitedBy"]:
        source = n.active.get(fp)
        name = source.labels.get("alertname", fp) if source else fp
        parts.append(el("span", {}, el("span", {"class": "state inhibited"}, "inhibited"),
                        " by ", link(f"/ui/alerts#a-{fp}", f"{name} ({fp})",
                                     **{"class": "inhibited-by"})))
    if not parts:
        parts.append(el("span", {"class": "state active"}, "active"))
    return join(parts, " ")


def _alert(n: Notifier, a: StoredAlert, status: dict[str, Any], parts: tuple[Safe, Safe],
           now: float) -> Safe:
    links, body = parts
    head = join([el("strong", {}, a.labels.get("alertname", "")), _state(n, status),
                 el("span", {"class": "muted"}, "since ", when(a.starts_at, now))], " · ")
    return el("div", {"class": "alert", "id": f"a-{a.fingerprint}",
                      "data-fingerprint": a.fingerprint}, el("div", {}, head + links), body)


def _tally(n: Notifier, view: api_filters.View, alerts: list[StoredAlert]) -> str:
    """`N alert(s): a active, s silenced, i inhibited` (silenced and inhibited may overlap),
    asked as the status is (Silences.muted_by, the view's inhibition), keeping nothing."""
    muted_by, inhibited_by, now = n.silences.muted_by, view.inhibition.inhibited_by, view.now
    active = silenced = inhibited = 0
    for a in alerts:
        s, i = bool(muted_by(a.labels, now, a.fingerprint)), inhibited_by(a.labels) is not None
        silenced, inhibited, active = silenced + s, inhibited + i, active + (not (s or i))
    return f"{len(alerts)} alert(s): {active} active, {silenced} silenced, {inhibited} inhibited"


@dataclass(frozen=True)
class _Listing:
    """What each group's block on one page needs."""

    n: Notifier
    view: api_filters.View
    kept: Fragments
    here: str  # this page's address, for the label chips' filter links
    rest: list[tuple[str, str]]  # its query without `group`
    limit: int
    now: float


def _group(page: _Listing, group: AggrGroup, alerts: list[StoredAlert]) -> Safe:
    """A group's head (receiver, labels, counts by state, Silence group, all its alerts) and
    its first `limit` alerts in full."""
    whole = query("/ui/alerts", page.rest + [("group", group.key)])
    more = (link(whole, f"all {len(alerts)} alerts of this group", **{"class": "whole"})
            if len(alerts) > page.limit else "")
    head = el("div", {"class": "head"},
              el("h2", {}, "receiver ", el("span", {"class": "receiver"}, group.route.receiver)),
              labels(group.labels) if group.labels else el("span", {"class": "muted"},
                                                           "(one group: no group_by)"),
              el("span", {"class": "muted tally"}, _tally(page.n, page.view, alerts)),
              silence_link(group.labels, "Silence group") if group.labels else "", more)
    shown = join(_alert(page.n, a, page.view.status(a), page.kept.of(a, page.here, page.now),
                        page.now) for a in alerts[:page.limit])
    return el("section", {"class": "group", "data-group": group.key,
                          "data-alerts": len(alerts)}, head, shown)


async def alerts_page(request: web.Request) -> web.Response:
    """Every group with its counts and its first PER_GROUP alerts; `group=KEY` shows one group
    with its alerts (at most MAX_ALERTS)."""
    n = notifier_of(request)
    args, filters = _api_query(request)
    view = api_filters.View(n)
    try:
        found = view.matched(api_filters.alert_query(args))
    except RequestError as err:
        body = _filter_form(request, filters, args) + el("p", {"class": "msg error"}, str(err))
        return respond(request, "Alerts", "alerts", body, status=400)
    rest = [(k, v) for k, v in request.query.items() if k not in ("filter", "group")] + [
        ("filter", f) for f in filters]
    one = request.query.get("group")
    if one is not None:
        found = [(g, alerts) for g, alerts in found if g.key == one]
    page = _Listing(n, view, request.app[FRAGMENTS],
                    query("/ui/alerts", rest + ([("group", one)] if one is not None else [])),
                    rest, MAX_ALERTS if one is not None else PER_GROUP, n.clock())
    blocks = [_group(page, g, alerts) for g, alerts in found]
    total = sum(len(alerts) for _, alerts in found)
    shown = sum(min(len(alerts), page.limit) for _, alerts in found)
    summary = f"{len(found)} group(s), {total} alert(s)" + (
        f"; showing the first {page.limit} of each group" if shown < total else "")
    parts = [_filter_form(request, filters, args), el("p", {"class": "muted"}, summary)]
    if one is not None:
        parts.append(el("p", {}, link(query("/ui/alerts", rest), "← all groups")))
    return respond(request, "Alerts", "alerts",
                   join([*parts, *(blocks or [el("p", {}, "No alerts.")])]))


def silences_body(request: web.Request, message: tuple[str, str] | None = None) -> Safe:
    n, token = notifier_of(request), csrf(request)
    now = n.clock()
    muting = data.muting_now(n, now)
    found = sorted(n.silences.all(), key=lambda s: api_filters.silence_order(s, now))
    rows = []
    for s in found:
        state = s.state(now)
        actions = [link(f"/ui/silences/{s.id}/edit", "edit")]
        if state != "expired":
            actions.append(post_button(f"/ui/silences/{s.id}/expire", "expire", token))
        rows.append(el(
            "tr", {"id": f"s-{s.id}", "data-silence": s.id, "data-state": state},
            el("td", {}, el("span", {"class": f"state {state}"}, state)),
            el("td", {}, join((el("span", {"class": "chip"}, str(m)) for m in s.matchers), " ")),
            el("td", {}, when(s.starts_at, now)), el("td", {}, when(s.ends_at, now)),
            el("td", {}, s.created_by), el("td", {}, s.comment),
            el("td", {"class": "muting"}, str(muting[s.id]) if state == "active" else "—"),
            el("td", {"class": "mono"}, s.id), el("td", {}, join(actions, " "))))
    head = el("tr", {}, join(el("th", {}, t) for t in (
        "state", "matchers", "starts", "ends", "created by", "comment", "muting now", "id", "")))
    parts = [el("p", {"class": f"msg {message[0]}"}, message[1]) if message else Safe(""),
             el("p", {}, link("/ui/silences/new", "New silence"))]
    parts.append(el("table", {"class": "silences"}, head, join(rows)) if rows
                 else el("p", {}, "No silences."))
    return join(parts)


async def silences_page(request: web.Request) -> web.Response:
    n = notifier_of(request)
    message = None
    for key, verb in (("saved", "saved"), ("expired", "expired")):
        s = data.silence_or_none(n, request.query.get(key, ""))
        if s is not None:
            message = ("ok", f"Silence {s.id} {verb}.")
    return respond(request, "Silences", "silences", silences_body(request, message))


def _log_filters(request: web.Request) -> Safe:
    n, q = notifier_of(request), request.query
    states = [el("option", {"value": ""}, "any state")] + [
        el("option", {"value": s, "selected": q.get("state") == s}, s) for s in data.STATES]
    receivers = [el("option", {"value": ""}, "any receiver")] + [
        el("option", {"value": r, "selected": q.get("receiver") == r}, r) for r in n.by_receiver]
    return el("form", {"class": "filter", "method": "get", "action": "/ui/notifications"},
              el("select", {"name": "state", "aria-label": "state"}, join(states)),
              el("select", {"name": "receiver", "aria-label": "receiver"}, join(receivers)),
              el("button", {"type": "submit"}, "Show"))


async def notifications_page(request: web.Request) -> web.Response:
    n, q = notifier_of(request), request.query
    state = q.get("state") if q.get("state") in data.STATES else None
    try:
        limit = max(1, min(int(q.get("limit", "200")), 5000))
    except ValueError:
        limit = 200
    found = data.notifications(n, limit=limit, state=state, receiver=q.get("receiver") or None)
    now, counts = n.clock(), n.outbox.counts()
    summary = ", ".join(f"{counts.get(s, 0)} {s}" for s in data.STATES)
    rows = [el("tr", {"id": f"n-{s.id}", "data-state": s.state, "data-receiver": s.receiver},
               el("td", {}, str(s.id)), el("td", {}, when(s.created_at, now)),
               el("td", {"class": "receiver"}, s.receiver),
               el("td", {"class": "channel"}, f"#{s.channel} {s.kind}"),
               el("td", {"class": "mono"}, s.group_key), el("td", {}, s.title),
               el("td", {}, f"{s.firing} firing, {s.resolved} resolved"),
               el("td", {"class": "attempts"}, str(s.attempts)),
               el("td", {}, el("span", {"class": f"state {s.state}"}, s.state)),
               el("td", {}, when(s.done_at, now) if s.done_at else
                  (join(["next try ", when(s.next_attempt, now)]) if s.state == "pending"
                   else "—")),
               el("td", {"class": "err"}, s.last_error))
            for s in found]
    head = el("tr", {}, join(el("th", {}, t) for t in (
        "#", "decided", "receiver", "channel", "group", "title", "alerts", "attempts", "state",
        "done", "last error")))
    listing = el("table", {"class": "log"}, head, join(rows)) if rows else el(
        "p", {}, "No notifications.")
    body = join([_log_filters(request), el("p", {"class": "muted"}, f"In the outbox: {summary}."
                                           f" Newest first, at most {limit}."), listing])
    return respond(request, "Notifications", "notifications", body)


async def root(request: web.Request) -> web.Response:
    return web.Response(status=303, headers={"Location": "/ui/alerts"})

