"""The notifier's one SQLite database (WAL): alerts, silences, outbox and notification log.

WAL with synchronous=NORMAL: a commit is in the WAL file (the OS page cache) when it returns, so
it survives the process dying, kill -9 included; only an OS crash or power loss can lose the
last commits before a checkpoint syncs them. FULL fsynced every commit on the event loop's
thread, a few ms each, which capped delivery throughput.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    fingerprint TEXT PRIMARY KEY, body TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS silences (
    id TEXT PRIMARY KEY, body TEXT NOT NULL, ends_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    receiver TEXT NOT NULL, channel INTEGER NOT NULL, group_key TEXT NOT NULL,
    title TEXT NOT NULL, body TEXT NOT NULL, body_format TEXT NOT NULL,
    notify_type TEXT NOT NULL,
    firing TEXT NOT NULL, resolved TEXT NOT NULL,
    created_at REAL NOT NULL, deadline REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt REAL NOT NULL,
    state TEXT NOT NULL, last_error TEXT NOT NULL DEFAULT '', done_at REAL);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (state, next_attempt);
CREATE INDEX IF NOT EXISTS outbox_group ON outbox (receiver, channel, group_key, state);
CREATE TABLE IF NOT EXISTS nflog (
    receiver TEXT NOT NULL, channel INTEGER NOT NULL, group_key TEXT NOT NULL,
    outbox_id INTEGER NOT NULL, firing TEXT NOT NULL, resolved TEXT NOT NULL,
    at REAL NOT NULL, sent_at REAL, PRIMARY KEY (receiver, channel, group_key));
"""
# columns added since a table was first created: (table, column, declaration)
MIGRATIONS = (("nflog", "sent_at", "REAL"),)


class Database:
    """One connection, used from the event loop's thread only."""

    def __init__(self, directory: str | Path):
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        self.path = path / "notifier.db"
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")  # see the module docstring
        self.conn.execute("PRAGMA busy_timeout=5000")
        self.conn.executescript(SCHEMA)
        for table, column, decl in MIGRATIONS:
            have = {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
        # (receiver, channel, group key) of every group with a pending or logged notification;
        # kept by Outbox.enqueue, so that a new group costs no nflog or supersede query
        self.notified: set[tuple[str, int, str]] = set()
        self.reload_notified()

    def reload_notified(self) -> None:
        """Rebuild `notified` from the tables, dropping groups whose rows were collected."""
        self.notified = {tuple(r) for r in self.conn.execute(
            "SELECT receiver, channel, group_key FROM outbox WHERE state='pending' "
            "UNION SELECT receiver, channel, group_key FROM nflog")}

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed on success and rolled back on error."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()
