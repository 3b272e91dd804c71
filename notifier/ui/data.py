"""Read-only views of the notifier's state for the web page.

`muting_now` counts what each silence mutes through the notifier's silence index.
`notifications` reads the outbox through its `listing` (SQLite's table or PostgreSQL's). A
channel is named by its receiver, index and kind (the apprise scheme), never by its URL; an
error text passes the redactor again (with URLs masked) before it is shown.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from aiohttp import web

from inferwatch.core.redact import REDACTOR
from inferwatch.notifier.service import Notifier
from inferwatch.notifier.silences import Silence, SilenceError

STATES = ("pending", "delivered", "failed", "superseded")
NOTIFIER = web.AppKey("inferwatch_ui_notifier", Notifier)


def notifier_of(request: web.Request) -> Notifier:
    return request.app[NOTIFIER]


@dataclass(frozen=True)
class Sent:
    """One notification of the outbox, as the page shows it."""

    id: int
    receiver: str
    channel: int
    kind: str  # the apprise scheme, or "removed" when the config no longer has the channel
    group_key: str
    title: str
    created_at: float
    done_at: float | None
    next_attempt: float
    attempts: int
    state: str
    last_error: str
    firing: int
    resolved: int


def channel_kind(n: Notifier, receiver: str, index: int) -> str:
    channel = n.channels.get((receiver, index))
    return channel.type if channel is not None else "removed"


def notifications(n: Notifier, *, limit: int = 200, state: str | None = None,
                  receiver: str | None = None) -> list[Sent]:
    """The newest notifications first, at most `limit`, optionally of one state or receiver
    (the storage backend's outbox listing: SQLite or PostgreSQL)."""
    rows = n.outbox.listing(limit, state, receiver)
    return [Sent(r["id"], r["receiver"], r["channel"], channel_kind(n, r["receiver"],
                                                                     r["channel"]),
                 r["group_key"], r["title"], r["created_at"], r["done_at"], r["next_attempt"],
                 r["attempts"], r["state"], REDACTOR.redact(r["last_error"] or "", urls=True),
                 len(json.loads(r["firing"])), len(json.loads(r["resolved"])))
            for r in rows]


def muting_now(n: Notifier, now: float) -> Counter[str]:
    """How many firing alerts each silence mutes at `now`, asked of the notifier's own silence
    index (`Silences.muted_by`, what the pipeline and the API ask), so the page cannot disagree
    with what is sent."""
    counts: Counter[str] = Counter()
    for a in n.active.values():
        if not a.resolved(now):
            counts.update(n.silences.muted_by(a.labels, now, a.fingerprint))
    return counts


def silence_or_none(n: Notifier, silence_id: str) -> Silence | None:
    try:
        return n.silences.get(silence_id)
    except SilenceError:
        return None
