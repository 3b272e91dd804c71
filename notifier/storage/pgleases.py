"""Group leases and the group schedule on PostgreSQL (a mixin of PostgresStorage).

Each group's flushes belong to the replica holding its lease (`leases`: an owner and an expiry,
renewed every third of it). The owner records, in the transaction of each flush, when the
group flushes next (`group_schedule`), so that the replica taking the lease over continues the
schedule: a next flush still ahead is waited for (no early flush), one already past (its owner
died) happens at once. Replicas that do not own a group follow the owner's schedule too: they
look again at its next flush, or when the owner's lease runs out if that flush is overdue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from inferwatch.notifier.storage.pgsql import Rows, text_array

log = logging.getLogger(__name__)

# the leases of `keys` that are free, expired or already this replica's; a key another
# replica holds (unexpired, as last committed) is left alone without waiting for its row lock,
# which the owner's flush holds. Every key comes back: taken or not, the owner before, the
# owner and seconds left as last committed, and the group's recorded next flush.
ACQUIRE = """
WITH prev AS (SELECT group_key, owner, expires_at FROM leases
              WHERE group_key = ANY(%(keys)s::text[])),
want AS (SELECT k FROM unnest(%(keys)s::text[]) AS k WHERE NOT EXISTS (SELECT 1 FROM prev
         WHERE prev.group_key = k AND prev.owner <> %(me)s AND prev.expires_at > now())
         ORDER BY k),
took AS (INSERT INTO leases AS l (group_key, owner, expires_at, acquired_at)
    SELECT k, %(me)s, now() + %(ttl)s * interval '1 second', now() FROM want
    ON CONFLICT (group_key) DO UPDATE SET owner = excluded.owner,
        expires_at = excluded.expires_at,
        acquired_at = CASE WHEN l.owner = excluded.owner THEN l.acquired_at ELSE now() END
    WHERE l.owner = excluded.owner OR l.expires_at < now()
    RETURNING l.group_key)
SELECT k, took.group_key IS NOT NULL, prev.owner, EXTRACT(EPOCH FROM prev.expires_at - now()),
       s.next_flush
FROM unnest(%(keys)s::text[]) AS k LEFT JOIN took ON took.group_key = k
LEFT JOIN prev ON prev.group_key = k LEFT JOIN group_schedule s ON s.group_key = k
"""
OTHERS = """
SELECT l.group_key, l.owner, EXTRACT(EPOCH FROM l.expires_at - now()), s.next_flush
FROM leases l LEFT JOIN group_schedule s ON s.group_key = l.group_key
WHERE l.group_key = ANY(%s::text[])
"""
RENEW = """
UPDATE leases SET expires_at = now() + %(ttl)s * interval '1 second'
WHERE group_key IN (SELECT group_key FROM leases WHERE owner = %(me)s
                    AND group_key = ANY(%(keys)s::text[]) ORDER BY group_key FOR UPDATE)
RETURNING group_key
"""
SCHEDULE = Rows(("group_key", "text"), ("next_flush", "float8"), ("last_flush", "float8"),
                ("flushed_by", "text"))
RECORD = f"""
INSERT INTO group_schedule ({SCHEDULE.names_sql})
SELECT {SCHEDULE.names_sql} FROM {SCHEDULE.source()}
ON CONFLICT (group_key) DO UPDATE SET next_flush = excluded.next_flush,
    last_flush = excluded.last_flush, flushed_by = excluded.flushed_by
"""
AFTER_EXPIRY = 0.05  # look again this long after another replica's lease runs out


class Leases:
    """Needs `conn()`, `cluster` and `metrics` from the storage it is mixed into."""

    cluster: Any
    metrics: Any

    def _init_leases(self) -> None:
        self._leases: dict[str, float] = {}  # held: group key -> monotonic expiry
        # another replica's: key -> (owner, monotonic expiry, its next flush or None)
        self._others: dict[str, tuple[str, float, float | None]] = {}
        self._renewed = 0.0

    def held(self) -> set[str]:
        return set(self._leases)

    async def own(self, keys: Sequence[str], now: float) -> tuple[set[str], dict[str, float]]:
        """The keys whose flushes this replica owns now, and when to flush (or look) next for
        those the schedule puts later: a lease just taken over whose next flush is ahead, or
        another replica's group (its next flush, else when its lease runs out)."""
        mono = time.monotonic()
        later: dict[str, float] = {}
        want = []
        for key in keys:
            other = self._others.get(key)
            if other is not None and other[1] > mono:
                later[key] = _look_again(other, now, mono)
            else:
                want.append(key)
        if not want:
            return set(), later
        want.sort()
        started = time.perf_counter()
        me, ttl = self.cluster.replica, self.cluster.lease
        got: dict[str, tuple[str | None, float | None]] = {}
        others: list[tuple] = []
        unsure = []  # lost to a replica that took the lease after this statement's snapshot
        async with self.conn() as conn:
            cur = await conn.execute(ACQUIRE, {"keys": text_array(want), "me": me, "ttl": ttl})
            for key, took, prev, left, nxt in await cur.fetchall():
                if took:
                    got[key] = (prev, nxt)
                elif prev is None or prev == me or left <= 0:
                    unsure.append(key)
                else:
                    others.append((key, prev, left, nxt))
            if unsure:
                cur = await conn.execute(OTHERS, (text_array(unsure),))
                others += await cur.fetchall()
        self._observe("lease", started)
        for key, (prev, nxt) in got.items():
            self._others.pop(key, None)
            if key not in self._leases:
                if prev is not None and prev != me:
                    log.info("group %s: flushed by replica %s now, taken over from %s", key,
                             me, prev)
                    self._count_takeover("group")
                else:
                    log.debug("group %s: flushed by replica %s", key, me)
                if nxt is not None and nxt > now:  # another replica's schedule: keep to it
                    later[key] = nxt
            self._leases[key] = mono + ttl
        for key, owner, left, nxt in others:
            if key in self._leases:
                log.info("group %s: flushed by replica %s now, no longer by %s", key, owner,
                         me)
                del self._leases[key]
            self._others[key] = (owner, mono + float(left), nxt)
            later[key] = _look_again(self._others[key], now, mono)
        self._gauge()
        return set(got), later

    async def record(self, conn: Any, schedule: dict[str, float], now: float) -> None:
        """Inside a flush's transaction: the flushed groups' next flush times."""
        if schedule:
            me = self.cluster.replica
            await conn.execute(RECORD, (SCHEDULE.param(
                (k, schedule[k], now, me) for k in sorted(schedule)),))

    async def renew(self) -> None:
        """Extend every lease this replica holds; forget those it lost."""
        now = time.monotonic()
        self._renewed = now
        if not self._leases:
            return
        async with self.conn() as conn:
            cur = await conn.execute(RENEW, {"keys": text_array(sorted(self._leases)), "ttl":
                                             self.cluster.lease, "me": self.cluster.replica})
            kept = {r[0] for r in await cur.fetchall()}
        for key in list(self._leases):
            if key in kept:
                self._leases[key] = now + self.cluster.lease
            else:
                log.info("group %s: lease of replica %s lost", key, self.cluster.replica)
                del self._leases[key]
        self._gauge()

    async def release(self, keys: Iterable[str]) -> None:
        """Give up the leases (and schedules) of groups that are gone."""
        keys = sorted(keys)
        if not keys:
            return
        async with self.conn() as conn, conn.transaction():
            await conn.execute("DELETE FROM group_schedule WHERE flushed_by = %s AND group_key "
                               "= ANY(%s::text[])", (self.cluster.replica, text_array(keys)))
            await conn.execute("DELETE FROM leases WHERE owner = %s AND group_key = "
                               "ANY(%s::text[])", (self.cluster.replica, text_array(keys)))
        for key in keys:
            self._leases.pop(key, None)
        self._gauge()

    # metrics
    def _observe(self, kind: str, started: float) -> None:
        if self.metrics is not None:
            self.metrics.claim_latency.labels(kind).observe(time.perf_counter() - started)

    def _count_takeover(self, kind: str, n: int = 1) -> None:
        if self.metrics is not None:
            self.metrics.takeovers.labels(kind).inc(n)

    def _gauge(self) -> None:
        if self.metrics is not None:
            self.metrics.leases_held.set(len(self._leases))


def _look_again(other: tuple[str, float, float | None], now: float, mono: float) -> float:
    """When a replica that does not own a group checks it again: at the owner's next flush,
    or (that flush overdue: the owner may be gone) just after the owner's lease runs out."""
    _, expiry, nxt = other
    if nxt is not None and nxt > now:
        return nxt
    return now + max(0.0, expiry - mono) + AFTER_EXPIRY
