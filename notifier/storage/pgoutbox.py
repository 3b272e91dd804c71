"""The delivery worker's outbox on PostgreSQL: rows claimed by this replica, held in memory.

A claim (`claimed_by`, `claim_until`) is taken when this replica's flush queues the row
(`adopt`), or else with `FOR UPDATE SKIP LOCKED`; it is renewed every
third of the lease and handed back with the outcome, so a dead replica's rows go to another
one once their claims expire. The delivery worker (notifier/delivery.py) reads and marks
synchronously: `due` hands it only rows whose claim outlives an attempt, and the marks it
writes are queued here and written, batched, by `run` (retried with backoff while the database
is away; the rows are not delivered again meanwhile). A row a newer notification superseded
while claimed drops out at the next renewal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import psycopg

from inferwatch.notifier.outbox import LISTED, Notification, Row, listing_sql
from inferwatch.notifier.storage.pgsql import Rows

if TYPE_CHECKING:
    from inferwatch.notifier.storage.postgres import PostgresStorage

log = logging.getLogger(__name__)
STATS_EVERY = 1.0
# outcomes are written in batches: once this many are queued, else this long after the first
# (a row is not delivered again meanwhile; written one by one, they cost the database twice)
MARK_BATCH, MARK_WAIT = 256, 0.1

CLAIM = """
WITH c AS (SELECT id, claimed_by AS prev FROM outbox
           WHERE state = 'pending' AND next_attempt <= %(now)s
           AND (claim_until IS NULL OR claim_until < now() OR claimed_by = %(me)s)
           AND NOT (id = ANY(%(mine)s))
           ORDER BY next_attempt, id LIMIT %(n)s FOR UPDATE SKIP LOCKED)
UPDATE outbox o SET claimed_by = %(me)s, claim_until = now() + %(ttl)s * interval '1 second'
FROM c WHERE o.id = c.id
RETURNING o.id, o.key, o.receiver, o.channel, o.group_key, o.title, o.body, o.body_format,
          o.notify_type, o.firing, o.resolved, o.created_at, o.deadline, o.attempts, c.prev
"""


NFLOG = Rows(("receiver", "text"), ("channel", "int"), ("group_key", "text"),
             ("outbox_id", "bigint"), ("firing", "text"), ("resolved", "text"),
             ("at", "float8"), ("sent_at", "float8"))


def upsert_nflog(alias: str = "v") -> str:
    """nflog.log_confirmed's upsert, for a batch of rows (one statement, `NFLOG.param`): an
    older decision never overwrites a newer one."""
    return (f"INSERT INTO nflog ({NFLOG.names_sql}) SELECT {NFLOG.names_sql} FROM "
            f"{NFLOG.source(alias)} ON CONFLICT (receiver, channel, group_key) DO UPDATE SET "
            "outbox_id = excluded.outbox_id, firing = excluded.firing, resolved = "
            "excluded.resolved, at = excluded.at, sent_at = excluded.sent_at WHERE "
            "excluded.at >= nflog.at")


# the delivery worker's outcomes (delivered, retry, failed) and the delivered ones' log rows,
# in one statement; a retry or failure is not written over another replica's claim
MARK = Rows(("id", "bigint"), ("op", "text"), ("at", "float8"), ("attempts", "int"),
            ("error", "text"))
MARKS = f"""
WITH m AS (UPDATE outbox o SET state = CASE v.op WHEN 'retry' THEN 'pending' ELSE v.op END,
    attempts = v.attempts,
    next_attempt = CASE v.op WHEN 'retry' THEN v.at ELSE o.next_attempt END,
    done_at = CASE v.op WHEN 'retry' THEN o.done_at ELSE v.at END,
    last_error = CASE v.op WHEN 'delivered' THEN o.last_error ELSE v.error END,
    claimed_by = NULL, claim_until = NULL
  FROM {MARK.source()} WHERE o.id = v.id AND (v.op = 'delivered' OR (o.state = 'pending'
    AND (o.claimed_by IS NULL OR o.claimed_by = %s))) RETURNING 1)
{upsert_nflog("n")}
"""


def columns(rows: list[tuple]) -> list[list]:
    """Rows as one array per column, for `unnest` (one statement, whatever the row count)."""
    return [list(c) for c in zip(*rows, strict=True)] if rows else []


def newest_per_group(rows: list[tuple]) -> list[tuple]:
    """nflog rows, the newest (by `at`) of each group only: one upsert cannot touch a row
    twice."""
    best: dict[tuple, tuple] = {}
    for row in rows:
        key = row[:3]
        if key not in best or row[6] >= best[key][6]:
            best[key] = row
    return list(best.values())


def nflog_rows(notes: Iterable[Notification], at: float, outbox_id: int,
               sent_at: float | None = None) -> list[tuple]:
    return [(n.receiver, n.channel, n.group_key, outbox_id, json.dumps(sorted(n.firing)),
             json.dumps(sorted(n.resolved)), at, at if sent_at is None else sent_at)
            for n in notes]


class ClaimedOutbox:
    def __init__(self, storage: PostgresStorage):
        self.db = self.storage = storage  # `db.health`, as the delivery worker reads it
        self.rows: dict[int, Row] = {}  # claimed, to deliver (or being delivered)
        self.confirmed: dict[int, float] = {}  # row id -> when its claim was last extended
        self.marks: list[tuple[str, Row, float, str]] = []  # (op, row, at, error) to write
        self.marking: set[int] = set()
        self._kick: asyncio.Event | None = None
        self._mark_timer: asyncio.TimerHandle | None = None
        self._more = False  # the last claim filled every free slot: more rows may wait
        self._pending, self._oldest = 0, None

    @property
    def ttl(self) -> float:
        return self.storage.cluster.lease + self.storage.send_timeout

    def free(self, times: int = 1) -> int:
        """Slots for rows to claim."""
        return max(0, times * self.storage.slots - len(self.rows))

    def adopt(self, rows: list[Row], at: float, superseded: Iterable[int] = ()) -> None:
        """After a flush's commit: the rows it queued claimed (`at`: time.monotonic() before
        their claims began), and the pending rows it superseded (not to be sent now)."""
        for rid in superseded:
            self.rows.pop(rid, None)
        for row in rows:  # unless the claim loop got one first (claimed_by = me)
            if row.id not in self.rows and row.id not in self.marking:
                self.rows[row.id] = row
                self.confirmed[row.id] = at

    # what notifier/delivery.py calls
    def due(self, now: float, limit: int, busy: set[int]) -> list[Row]:
        # a row whose claim would run out before an attempt could end stays here (another
        # replica may take it over then); renewals every third of the lease keep it fresh
        margin = min(1.0, self.storage.cluster.lease / 4)
        safe = time.monotonic() - self.ttl + self.storage.send_timeout + margin
        rows = [r for r in self.rows.values() if r.id not in busy
                and self.confirmed.get(r.id, 0.0) > safe]
        return sorted(rows, key=lambda r: r.id)[:limit]

    def next_attempt(self, busy: set[int]) -> float | None:
        return None  # the claim loop wakes the worker when it claims rows

    def delivered(self, done: Iterable[tuple[Row, float]]) -> None:
        for row, at in done:
            self._mark("delivered", row, at, "")

    def retry(self, row: Row, at: float, error: str) -> None:
        self._mark("retry", row, at, error)

    def failed(self, row: Row, now: float, error: str) -> None:
        self._mark("failed", row, now, error)

    def depth(self) -> int:
        return self._pending

    def oldest_pending(self) -> float | None:
        return self._oldest

    def counts(self) -> dict[str, int]:
        rows = self.storage.sync_run("read", "SELECT state, COUNT(*) FROM outbox GROUP BY state")
        return {state: n for state, n in rows}

    def listing(self, limit: int, state: str | None = None,
                receiver: str | None = None) -> list[dict]:
        """Outbox.listing's rows, read on the synchronous connection."""
        sql, args = listing_sql("%s", state, receiver)
        return [dict(zip(LISTED, r, strict=True))
                for r in self.storage.sync_run("read", sql, (*args, limit))]

    def _mark(self, op: str, row: Row, at: float, error: str) -> None:
        self.rows.pop(row.id, None)
        self.marking.add(row.id)
        self.marks.append((op, row, at, error))
        if len(self.marks) >= MARK_BATCH or (self._more and self.free() > 0):  # a row waits
            self.kick()
        else:
            self._arm()

    def _arm(self) -> None:
        """A turn MARK_WAIT from now, unless one is set already."""
        if self._mark_timer is None and self._kick is not None:
            self._mark_timer = asyncio.get_running_loop().call_later(MARK_WAIT, self._marks_due)

    def _marks_due(self) -> None:
        self._mark_timer = None
        self.kick()

    def kick(self) -> None:
        if self._kick is not None:
            self._kick.set()

    # the claim loop
    async def run(self) -> None:
        self._kick = asyncio.Event()
        wait, stats = 0.0, 0.0
        s = self.storage
        while True:
            self._kick.clear()
            try:
                if time.monotonic() - s._renewed > s.cluster.lease / 3:
                    await s.renew()
                    if await self._renew() and s.deliverer_wake is not None:
                        s.deliverer_wake.set()  # rows `due` held back may be safe again
                if await self._turn() and s.deliverer_wake is not None:
                    s.deliverer_wake.set()
                if time.monotonic() - stats > STATS_EVERY:
                    await self._stats()
                    stats = time.monotonic()
                wait = 0.0
            except psycopg.Error as err:
                s.health.error("claim", err)
                wait = min(2.0, max(0.1, wait * 2))
                await asyncio.sleep(wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), s.cluster.poll)

    async def _turn(self) -> int:
        """Write the queued outcomes and claim due rows for the free slots: one transaction,
        one round trip (pipeline mode). Nothing of it happened when it raises."""
        s = self.storage
        marks, free = list(self.marks), self.free()
        if not marks and free <= 0:
            return 0
        started, before, got = time.perf_counter(), time.monotonic(), []
        async with s.conn() as conn, conn.pipeline(), conn.transaction():
            if marks:
                await conn.execute(MARKS, self._mark_params(marks))
            if free > 0:
                cur = await conn.execute(CLAIM, {
                    "now": time.time(), "me": s.cluster.replica, "n": free, "ttl": self.ttl,
                    "mine": sorted(self.rows.keys() | self.marking)})
                got = await cur.fetchall()
        if marks:
            self._written(marks)
            if self.marks:  # queued meanwhile
                self._arm()
        self._more = free > 0 and len(got) == free
        if free > 0:
            s._observe("outbox", started)
            self._claimed(got, before)
        return len(got)

    def _claimed(self, got: list[tuple], before: float) -> None:
        """`before`: time.monotonic() before the claims' transaction began."""
        s = self.storage
        for (rid, key, receiver, channel, group, title, body, fmt, kind, firing, resolved,
             created, deadline, attempts, _prev) in got:
            note = Notification(receiver, channel, group, title, body, fmt, kind,
                                frozenset(json.loads(firing)), frozenset(json.loads(resolved)))
            self.rows[rid] = Row(rid, key, note, created, deadline, attempts)
            self.confirmed[rid] = before
        taken = sum(1 for row in got if row[-1] not in (None, s.cluster.replica))
        if taken:
            log.info("replica %s: took over %d notifications whose claims expired",
                     s.cluster.replica, taken)
            s._count_takeover("notification", taken)

    async def _renew(self) -> int:
        """Extend the claims held; how many of the rows to deliver still are."""
        ids = sorted(self.rows.keys() | self.marking)
        if not ids:
            return 0
        s, before = self.storage, time.monotonic()  # the claims run from after this
        async with s.conn() as conn:
            cur = await conn.execute(
                "UPDATE outbox SET claim_until = now() + %s * interval '1 second' WHERE "
                "claimed_by = %s AND state = 'pending' AND id = ANY(%s) RETURNING id",
                (self.ttl, s.cluster.replica, ids))
            kept = {r[0] for r in await cur.fetchall()}
        for rid in ids:
            if rid in kept:
                self.confirmed[rid] = before
            elif rid in self.rows:  # superseded, or claimed elsewhere after it expired
                del self.rows[rid]
        for rid in list(self.confirmed):
            if rid not in self.rows and rid not in self.marking:
                del self.confirmed[rid]
        return sum(1 for rid in kept if rid in self.rows)

    async def _stats(self) -> None:
        async with self.storage.conn() as conn:
            cur = await conn.execute("SELECT COUNT(*), MIN(created_at) FROM outbox "
                                     "WHERE state = 'pending'")
            self._pending, self._oldest = await cur.fetchone()

    async def write_marks(self) -> None:
        """The queued outcomes in one statement; kept for the next turn when it fails."""
        marks = list(self.marks)
        if marks:
            async with self.storage.conn() as conn:
                await conn.execute(MARKS, self._mark_params(marks))
            self._written(marks)

    def _mark_params(self, marks: list[tuple[str, Row, float, str]]) -> tuple[str, str, str]:
        logged = [r for op, row, at, _ in marks if op == "delivered"
                  for r in nflog_rows([row.note], row.created_at, row.id, sent_at=at)]
        outcomes = [(row.id, op, at, row.attempts + 1, err) for op, row, at, err in marks]
        return (MARK.param(outcomes), self.storage.cluster.replica,
                NFLOG.param(newest_per_group(logged)))

    def _written(self, marks: list[tuple[str, Row, float, str]]) -> None:
        del self.marks[:len(marks)]
        for _, row, _, _ in marks:
            self.marking.discard(row.id)
            self.confirmed.pop(row.id, None)
        log.debug("replica %s: %d outcomes written", self.storage.cluster.replica, len(marks))
        if self.storage.deliverer_wake is not None and any(m[0] == "retry" for m in marks):
            self.storage.deliverer_wake.set()
