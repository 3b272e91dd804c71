"""The notification log (Alertmanager's nflog) and its dedup decision.

The last notification of a (receiver, channel, group) is the newest one still pending in the
outbox or, failing that, the last confirmed one. Deciding against pending ones too is what keeps
a restart from queuing a second copy of a notification that is still on its way.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Set
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inferwatch.notifier.storage.sqlite import Database



@dataclass(frozen=True)
class Entry:
    firing: frozenset[str]
    resolved: frozenset[str]
    at: float


def dedup_reason(entry: Entry | None, firing: set[str], resolved: set[str],
                 send_resolved: bool, repeat_interval: float, now: float) -> str | None:
    """Why to notify now (Alertmanager's notification_reason), or None to stay quiet."""
    if entry is None:
        return "first notification" if firing else None
    if not firing <= entry.firing:
        return "new alerts added" if entry.firing else "first notification"
    if not firing:
        return "all alerts resolved" if entry.firing else None
    if send_resolved and not resolved <= entry.resolved:
        return "some alerts resolved"
    if entry.at < now - repeat_interval:  # Alertmanager's Timestamp.Before(now - repeat)
        return "repeat interval elapsed"
    return None


class NotificationLog:
    def __init__(self, db: Database):
        self.db = db

    def last(self, receiver: str, channel: int, group_key: str) -> Entry | None:
        if (receiver, channel, group_key) not in self.db.notified:
            return None
        row = self.db.conn.execute(
            "SELECT firing, resolved, created_at AS at FROM outbox WHERE receiver=? AND "
            "channel=? AND group_key=? AND state='pending' ORDER BY id DESC LIMIT 1",
            (receiver, channel, group_key)).fetchone()
        if row is None:
            row = self.db.conn.execute(
                "SELECT firing, resolved, COALESCE(sent_at, at) AS at FROM nflog WHERE "
                "receiver=? AND channel=? AND "
                "group_key=?", (receiver, channel, group_key)).fetchone()
        if row is None:
            return None
        return Entry(frozenset(json.loads(row["firing"])), frozenset(json.loads(row["resolved"])),
                     row["at"])

    def gc(self, before: float) -> int:
        with self.db.tx() as conn:
            return conn.execute("DELETE FROM nflog WHERE at < ?", (before,)).rowcount


def log_confirmed(conn: sqlite3.Connection, receiver: str, channel: int, group_key: str,
                  firing: Set[str], resolved: Set[str], at: float, outbox_id: int,
                  sent_at: float | None = None) -> None:
    """Upsert inside an open transaction; an older notification (by `at`, when it was decided)
    never overwrites a newer one. `sent_at`, when it was confirmed (default: `at`), is the
    time the repeat interval counts from, as Alertmanager logs it after the send."""
    conn.execute(
        "INSERT INTO nflog (receiver, channel, group_key, outbox_id, firing, resolved, at, "
        "sent_at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (receiver, channel, group_key) "
        "DO UPDATE SET outbox_id=excluded.outbox_id, firing=excluded.firing, "
        "resolved=excluded.resolved, at=excluded.at, sent_at=excluded.sent_at "
        "WHERE excluded.at >= nflog.at",
        (receiver, channel, group_key, outbox_id, json.dumps(sorted(firing)),
         json.dumps(sorted(resolved)), at, at if sent_at is None else sent_at))
