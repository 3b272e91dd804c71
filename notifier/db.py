"""The notifier's one SQLite database (WAL): alerts, silences, outbox and notification log.

WAL with synchronous=NORMAL: a commit is in the WAL file (the OS page cache) when it returns, so
it survives the process dying, kill -9 included; only an OS crash or power loss can lose the
last commits before a checkpoint syncs them. FULL fsynced every commit on the event loop's
thread, a few ms each, which capped delivery throughput.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

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


class StorageError(Exception):
    """The storage cannot be opened or written; the message names the path."""


def reason(err: BaseException) -> str:
    """SQLite's or the OS's words for an error, without a traceback."""
    if isinstance(err, OSError):
        return err.strerror or type(err).__name__
    return str(err) or type(err).__name__


class StorageHealth:
    """Write failures: counted by operation, logged once per change (failing, other error, ok)."""

    def __init__(self, path: Path):
        self.path = path
        self.failing: str | None = None  # the current error, None while writes succeed
        self.count: Callable[[str], None] = lambda op: None  # set by whoever owns metrics

    def error(self, op: str, err: BaseException) -> StorageError:
        """Count and (on a change) log a failed write; the error to raise, naming the path."""
        self.count(op)
        text = reason(err)
        if text != self.failing:
            log.error("storage %s: cannot write (%s); held in memory and retried with backoff",
                      self.path, text)
            self.failing = text
        return StorageError(f"storage {self.path}: {text}")

    def ok(self) -> None:
        if self.failing is not None:
            log.warning("storage %s: writable again", self.path)
            self.failing = None


class Database:
    """One connection, used from the event loop's thread only."""

    def __init__(self, directory: str | Path):
        path = Path(directory)
        self.path = path / "notifier.db"
        self.health = StorageHealth(self.path)
        try:
            path.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, isolation_level=None)
        except (OSError, sqlite3.Error) as err:
            raise StorageError(f"storage {self.path}: cannot open: {reason(err)}") from None
        try:
            self._prepare()
        except sqlite3.Error as err:
            self.conn.close()
            raise StorageError(f"storage {self.path}: cannot write: {reason(err)}") from None
        # (receiver, channel, group key) of every group with a pending or logged notification;
        # kept by Outbox.enqueue, so that a new group costs no nflog or supersede query
        self.notified: set[tuple[str, int, str]] = set()
        self.reload_notified()

    def _prepare(self) -> None:
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")  # see the module docstring
        self.conn.execute("PRAGMA busy_timeout=5000")
        self.conn.executescript(SCHEMA)
        for table, column, decl in MIGRATIONS:
            have = {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
        with self.tx():  # a read-only file opens without complaint: try a write now
            pass

    def reload_notified(self) -> None:
        """Rebuild `notified` from the tables, dropping groups whose rows were collected."""
        self.notified = {tuple(r) for r in self.conn.execute(
            "SELECT receiver, channel, group_key FROM outbox WHERE state='pending' "
            "UNION SELECT receiver, channel, group_key FROM nflog")}

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed on success and rolled back on any error (a failed
        COMMIT included: a disk-full COMMIT leaves the transaction open otherwise)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
            raise
        self.health.ok()

    def close(self) -> None:
        self.conn.close()
