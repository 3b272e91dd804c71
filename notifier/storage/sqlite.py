"""SQLite, the embedded default: one file (WAL), one replica; today's storage behind the interface.

WAL with synchronous=NORMAL: a commit is in the WAL file (the OS page cache) when it returns, so
it survives the process dying, kill -9 included; only an OS crash or power loss can lose the
last commits before a checkpoint syncs them. FULL fsynced every commit on the event loop's
thread, a few ms each, which capped delivery throughput.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from inferwatch.notifier.storage.base import Planner, Storage, StorageError, StorageHealth, reason
from inferwatch.notifier.storage.migrations import SQLITE_COLUMNS, SQLITE_LATEST, SQLITE_STEPS


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
        self.migrate()
        with self.tx():  # a read-only file opens without complaint: try a write now
            pass

    def version(self) -> int:
        self.conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = self.conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return row[0] or 0

    def migrate(self) -> tuple[int, int]:
        """Run the steps past the recorded version; (version before, version after)."""
        before = self.version()
        for step in range(before + 1, SQLITE_LATEST + 1):
            if step in SQLITE_STEPS:
                self.conn.executescript(SQLITE_STEPS[step])
            with self.tx() as conn:
                if step in SQLITE_COLUMNS:
                    table, column, decl = SQLITE_COLUMNS[step]
                    have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
                    if column not in have:
                        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
                conn.execute("INSERT INTO schema_version VALUES (?)", (step,))
        return before, max(before, SQLITE_LATEST)

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

    # the silences' rows (notifier/silences.py keeps them in memory)
    def silence_rows(self) -> list[str]:
        return [r["body"] for r in self.conn.execute("SELECT body FROM silences")]

    def save_silence(self, silence_id: str, body: str, ends_at: float) -> None:
        with self.tx() as conn:
            conn.execute("INSERT OR REPLACE INTO silences VALUES (?,?,?)",
                         (silence_id, body, ends_at))

    def delete_silences(self, ids: Sequence[str]) -> None:
        with self.tx() as conn:
            conn.executemany("DELETE FROM silences WHERE id=?", [(sid,) for sid in ids])

    def close(self) -> None:
        self.conn.close()


class SqliteStorage(Storage):
    """The Database and its tables' classes; every method runs on the event loop's thread."""

    errors = (sqlite3.Error,)

    def __init__(self, directory: str | Path):
        from inferwatch.notifier.alertstore import AlertStore
        from inferwatch.notifier.nflog import NotificationLog
        from inferwatch.notifier.outbox import Outbox
        from inferwatch.notifier.silences import Silences

        self.db = Database(directory)
        self.health = self.db.health
        self.store, self.silences = AlertStore(self.db), Silences(self.db)
        self.outbox, self.nflog = Outbox(self.db), NotificationLog(self.db)

    async def close(self) -> None:
        self.db.close()

    async def put_alerts(self, batch: Mapping[str, object]) -> Sequence:
        self.store.put(batch.values())
        return list(batch.values())

    async def load_alerts(self) -> list:
        return self.store.load()

    async def flush(self, keys: Sequence[str], plan: Planner, now: float, deadline: float,
                    schedule: Mapping[str, float] | None = None) -> set[str]:
        return self.flush_now(keys, plan, now, deadline)

    def flush_now(self, keys: Sequence[str], plan: Planner, now: float,
                  deadline: float) -> set[str]:
        notes, quiet = plan(self.nflog.last)
        if notes or quiet:
            self.outbox.enqueue(notes, now, deadline, quiet)
        return set(keys)

    async def gc(self, now: float, alerts: Iterable[str], before: float) -> None:
        self.gc_now(alerts, before)

    def gc_now(self, alerts: Iterable[str], before: float) -> None:
        self.store.delete(alerts)
        if self.nflog.gc(before) + self.outbox.gc(before):
            self.db.reload_notified()  # else it grows with every group ever notified
        self.silences.gc(before)
