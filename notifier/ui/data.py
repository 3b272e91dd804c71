"""Read-only views of the notifier's state for the web page.

`notifications` reads the outbox, which has no listing of its own (Outbox offers delivery's
queries and `counts`): this is the page's one SQL, a SELECT on the SQLite outbox table; for a
backend without one it answers None and the page says so. A
channel is named by its receiver, index and kind (the apprise scheme), never by its URL; an
error text passes the redactor again (with URLs masked) before it is shown.
"""

from __future__ import annotations

import json
import sqlite3
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


def _connection(n: Notifier) -> sqlite3.Connection | None:
    """The SQLite connection behind the outbox; None for a backend without one."""
    conn = getattr(getattr(n.outbox, "db", None), "conn", None)
    return conn if isinstance(conn, sqlite3.Connection) else None


def notifications(n: Notifier, *, limit: int = 200, state: str | None = None,
                  receiver: str | None = None) -> list[Sent] | None:
    """The newest notifications first, at most `limit`, optionally of one state or receiver;
    None when the storage backend's outbox is not a SQLite table this can read."""
    conn = _connection(n)
    if conn is None:
        return None
    where, args = [], []
    if state:
        where.append("state = ?")
        args.append(state)
    if receiver:
        where.append("receiver = ?")
        args.append(receiver)
    sql = ("SELECT id, receiver, channel, group_key, title, created_at, done_at, next_attempt, "
           "attempts, state, last_error, firing, resolved FROM outbox"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC LIMIT ?")
    rows = conn.execute(sql, (*args, limit)).fetchall()
    return [Sent(r["id"], r["receiver"], r["channel"], channel_kind(n, r["receiver"],
                                                                     r["channel"]),
                 r["group_key"], r["title"], r["created_at"], r["done_at"], r["next_attempt"],
                 r["attempts"], r["state"], REDACTOR.redact(r["last_error"] or "", urls=True),
                 len(json.loads(r["firing"])), len(json.loads(r["resolved"])))
            for r in rows]


def silence_or_none(n: Notifier, silence_id: str) -> Silence | None:
    try:
        return n.silences.get(silence_id)
    except SilenceError:
        return None
