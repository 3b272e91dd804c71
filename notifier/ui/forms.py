"""The silence form: new (prefilled from an alert's or a group's labels), edit, expire.

Matchers are written as the API's `filter` and amtool take them, one or more per line
(`alertname="HighTTFT"`, `model=~"llama.*"`); "ends" takes a duration (`2h`) from the start or
an RFC 3339 time; an empty "starts" is now. Saving goes through `Silences.set`, so the page
refuses what Alertmanager refuses and, editing, replaces a silence under a new id when
Alertmanager would. Every POST here has passed the CSRF check of notifier/ui/security.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from aiohttp import web

from inferwatch.core.durations import parse_duration
from inferwatch.notifier.matchers import Matcher, MatcherError, parse_matchers
from inferwatch.notifier.payloads import rfc3339
from inferwatch.notifier.silences import Silence, SilenceError
from inferwatch.notifier.ui import data
from inferwatch.notifier.ui.data import notifier_of
from inferwatch.notifier.ui.render import Safe, el, hidden, join, link
from inferwatch.notifier.ui.security import csrf, redirect, respond
from inferwatch.notifier.ui.views import silences_body

DEFAULT_ENDS = "2h"


class FormError(ValueError):
    """A field the form cannot use; the message names it."""


def parse_matcher_lines(text: str) -> tuple[Matcher, ...]:
    try:
        found = tuple(m for line in text.splitlines() if line.strip()
                      for m in parse_matchers(line))
    except MatcherError as err:
        raise FormError(f"matchers: {err}") from None
    if not found:
        raise FormError("matchers: at least one matcher is required")
    return found


def parse_time(text: str, what: str) -> float:
    try:
        ts = datetime.fromisoformat(text.strip())
    except ValueError:
        raise FormError(f"{what}: {text!r} is neither a duration nor an RFC 3339 time") from None
    if ts.tzinfo is None:
        raise FormError(f"{what}: {text!r} has no time zone (add Z for UTC)")
    return ts.timestamp()


def read_form(form: dict[str, str], now: float) -> Silence:
    """The silence a submitted form describes; FormError naming the field otherwise."""
    matchers = parse_matcher_lines(form.get("matchers", ""))
    starts = parse_time(form["starts"], "starts") if form.get("starts", "").strip() else now
    ends_text = form.get("ends", "").strip() or DEFAULT_ENDS
    try:
        ends = starts + parse_duration(ends_text)
    except ValueError:
        ends = parse_time(ends_text, "ends")
    author, comment = form.get("created_by", "").strip(), form.get("comment", "").strip()
    if not author:
        raise FormError("created by: required")
    if not comment:
        raise FormError("comment: required")
    return Silence(form.get("id", "").strip(), matchers, starts, ends, author, comment, 0.0)


def form_body(request: web.Request, values: dict[str, str], error: str = "") -> Safe:
    editing = bool(values.get("id"))
    action = "/ui/silences"

    def field(name: str, label: str, hint: str = "", **attrs: object) -> Safe:
        box = el("input", {"type": "text", "name": name, "id": name,
                           "value": values.get(name, ""), **attrs})
        return join([el("label", {"class": "f", "for": name}, label), box,
                     el("span", {"class": "muted"}, " " + hint) if hint else ""])

    return el(
        "form", {"method": "post", "action": action, "class": "silence-form"},
        el("p", {"class": "msg error"}, error) if error else "",
        el("p", {"class": "muted"}, f"Editing silence {values['id']}.") if editing else "",
        hidden("csrf_token", csrf(request)), hidden("id", values.get("id", "")),
        el("label", {"class": "f", "for": "matchers"}, "Matchers (one or more per line)"),
        el("textarea", {"name": "matchers", "id": "matchers", "spellcheck": "false"},
           values.get("matchers", "")),
        field("starts", "Starts", "RFC 3339; empty: now"),
        field("ends", "Ends", "a duration from the start (2h, 1d) or an RFC 3339 time"),
        field("created_by", "Created by", required=True),
        field("comment", "Comment", required=True, size=60),
        el("p", {}, el("button", {"type": "submit"}, "Save silence"), " ",
           link("/ui/silences", "cancel")))


async def new_silence(request: web.Request) -> web.Response:
    values = {"matchers": request.query.get("matchers", ""), "ends": DEFAULT_ENDS}
    return respond(request, "New silence", "silences", form_body(request, values))


async def edit_silence(request: web.Request) -> web.Response:
    n = notifier_of(request)
    s = data.silence_or_none(n, request.match_info["id"])
    if s is None:
        body = el("p", {"class": "msg error"}, "No such silence.")
        return respond(request, "Edit silence", "silences", body, status=404)
    values = {"id": s.id, "matchers": "\n".join(str(m) for m in s.matchers),
              "starts": rfc3339(s.starts_at), "ends": rfc3339(s.ends_at),
              "created_by": s.created_by, "comment": s.comment}
    return respond(request, "Edit silence", "silences", form_body(request, values))


async def save_silence(request: web.Request) -> web.Response:
    n = notifier_of(request)
    form = {k: str(v) for k, v in (await request.post()).items() if k != "csrf_token"}
    now = n.clock()
    try:
        silence = read_form(form, now)
        old = data.silence_or_none(n, silence.id) if silence.id else None
        if old is not None and abs(silence.starts_at - old.starts_at) < 0.001:
            # the form shows milliseconds: an unchanged start keeps an active silence's id
            silence = replace(silence, starts_at=old.starts_at)
        silence_id = n.silences.set(silence, now)
    except (FormError, SilenceError) as err:
        title = "Edit silence" if form.get("id") else "New silence"
        status = 404 if isinstance(err, SilenceError) and err.missing else 400
        return respond(request, title, "silences", form_body(request, form, str(err)), status)
    n.wake.set()
    return redirect(f"/ui/silences?saved={silence_id}#s-{silence_id}")


async def expire_silence(request: web.Request) -> web.Response:
    n = notifier_of(request)
    silence_id = request.match_info["id"]
    try:
        n.silences.expire(silence_id, n.clock())
    except SilenceError as err:
        body = silences_body(request, ("error", str(err)))
        return respond(request, "Silences", "silences", body, 404 if err.missing else 400)
    n.wake.set()
    return redirect(f"/ui/silences?expired={silence_id}#s-{silence_id}")
