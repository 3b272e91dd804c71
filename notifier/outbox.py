"""The durable outbox: a notification is recorded before delivery and marked after.

Rows are `pending` until `delivered`, `failed` (unrecoverable or past the deadline) or
`superseded` (a newer notification for the same receiver, channel and group carries the
current state). Each row has a random key that travels with every attempt, so a receiver can
drop the copy it already has when a crash fell between delivery and the mark.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inferwatch.notifier.nflog import log_confirmed

if TYPE_CHECKING:
    from inferwatch.notifier.storage.sqlite import Database


@dataclass(frozen=True)
class Notification:
    receiver: str
    channel: int
    group_key: str
    title: str
    body: str
    body_format: str  # apprise's: text, markdown, html
    notify_type: str  # apprise's: info, success, warning, failure
    firing: frozenset[str]
    resolved: frozenset[str]


@dataclass(frozen=True)
class Row:
    id: int
    key: str
    note: Notification
    created_at: float
    deadline: float
    attempts: int


# the columns `listing` returns (the web page's notification log), and their SQL
LISTED = ("id", "receiver", "channel", "group_key", "title", "created_at", "done_at",
          "next_attempt", "attempts", "state", "last_error", "firing", "resolved")


def listing_sql(mark: str, state: str | None, receiver: str | None) -> tuple[str, list]:
    """The listing's SELECT with `mark` as the placeholder (? or %s), and its arguments but
    the limit."""
    where, args = [], []
    if state:
        where.append(f"state = {mark}")
        args.append(state)
    if receiver:
        where.append(f"receiver = {mark}")
        args.append(receiver)
    return (f"SELECT {', '.join(LISTED)} FROM outbox"
            + (" WHERE " + " AND ".join(where) if where else "")
            + f" ORDER BY id DESC LIMIT {mark}", args)


class Outbox:
    def __init__(self, db: Database):
        self.db = db

    def enqueue(self, notes: Iterable[Notification], now: float, deadline: float,
                quiet: Iterable[Notification] = ()) -> int:
        """Record notifications, superseding older pending ones, and log the `quiet` ones
        (decided, nothing to send) in the nflog: all in one transaction."""
        count = 0
        with self.db.tx() as conn:
            for n in notes:
                group = (n.receiver, n.channel, n.group_key)
                if group in self.db.notified:  # else no pending row to supersede
                    conn.execute("UPDATE outbox SET state='superseded', done_at=? WHERE "
                                 "receiver=? AND channel=? AND group_key=? AND state='pending'",
                                 (now, n.receiver, n.channel, n.group_key))
                conn.execute(
                    "INSERT INTO outbox (key, receiver, channel, group_key, title, body, "
                    "body_format, notify_type, firing, resolved, created_at, deadline, "
                    "next_attempt, state) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?, 'pending')",
                    (secrets.token_hex(12), n.receiver, n.channel, n.group_key, n.title, n.body,
                     n.body_format, n.notify_type, json.dumps(sorted(n.firing)),
                     json.dumps(sorted(n.resolved)), now, now + deadline, now))
                self.db.notified.add(group)
                count += 1
            for n in quiet:
                self.db.notified.add((n.receiver, n.channel, n.group_key))
                log_confirmed(conn, n.receiver, n.channel, n.group_key, n.firing, n.resolved,
                              now, 0)
        return count

    def due(self, now: float, limit: int, busy: set[int]) -> list[Row]:
        """Due pending rows not in `busy`, longest due first (then oldest), at most `limit`.

        The order follows the (state, next_attempt) index: no sort of every pending row."""
        rows = self.db.conn.execute(
            "SELECT * FROM outbox WHERE state='pending' AND next_attempt <= ? "
            "ORDER BY next_attempt, id LIMIT ?", (now, limit + len(busy))).fetchall()
        return [_row(r) for r in rows if r["id"] not in busy][:limit]

    def next_attempt(self, busy: set[int]) -> float | None:
        """When the next pending row not already being delivered is due."""
        marks = ",".join("?" * len(busy))
        return self.db.conn.execute(
            f"SELECT MIN(next_attempt) FROM outbox WHERE state='pending' AND id NOT IN ({marks})",
            tuple(busy)).fetchone()[0]

    def delivered(self, done: Iterable[tuple[Row, float]]) -> None:
        """Mark delivered rows (each with its delivery time) and log them in the nflog, in one
        transaction for all of them."""
        with self.db.tx() as conn:
            for row, now in done:
                n = row.note
                conn.execute("UPDATE outbox SET state='delivered', done_at=?, attempts=? "
                             "WHERE id=?", (now, row.attempts + 1, row.id))
                log_confirmed(conn, n.receiver, n.channel, n.group_key, n.firing, n.resolved,
                              row.created_at, row.id, sent_at=now)

    def retry(self, row: Row, at: float, error: str) -> None:
        with self.db.tx() as conn:
            conn.execute("UPDATE outbox SET attempts=?, next_attempt=?, last_error=? WHERE id=? "
                         "AND state='pending'", (row.attempts + 1, at, error, row.id))

    def failed(self, row: Row, now: float, error: str) -> None:
        with self.db.tx() as conn:
            conn.execute("UPDATE outbox SET state='failed', attempts=?, done_at=?, last_error=? "
                         "WHERE id=? AND state='pending'", (row.attempts + 1, now, error, row.id))

    def depth(self) -> int:
        return self.db.conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE state='pending'").fetchone()[0]

    def oldest_pending(self) -> float | None:
        return self.db.conn.execute(
            "SELECT MIN(created_at) FROM outbox WHERE state='pending'").fetchone()[0]

    def counts(self) -> dict[str, int]:
        rows = self.db.conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state")
        return {state: n for state, n in rows}

    def listing(self, limit: int, state: str | None = None,
                receiver: str | None = None) -> list[dict]:
        """The newest rows first, at most `limit`, optionally of one state or receiver; each
        a dict of the LISTED columns (firing and resolved as their JSON lists)."""
        sql, args = listing_sql("?", state, receiver)
        return [dict(zip(LISTED, r, strict=True))
                for r in self.db.conn.execute(sql, (*args, limit)).fetchall()]

    def gc(self, before: float) -> int:
        with self.db.tx() as conn:
            return conn.execute("DELETE FROM outbox WHERE state != 'pending' AND done_at < ?",
                                (before,)).rowcount


def _row(r: sqlite3.Row) -> Row:
    note = Notification(r["receiver"], r["channel"], r["group_key"], r["title"], r["body"],
                        r["body_format"], r["notify_type"],
                        frozenset(json.loads(r["firing"])),
                        frozenset(json.loads(r["resolved"])))
    return Row(r["id"], r["key"], note, r["created_at"], r["deadline"], r["attempts"])
