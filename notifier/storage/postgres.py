"""PostgreSQL: the state several notifier replicas share (psycopg 3, asyncio, a pool).

Alerts are stored in one transaction per request, merged with the stored copy under a row lock,
and numbered from one sequence so that every replica picks up the others' (`changes`, between
flushes and at each flush, with the silences). Each group's flushes belong to the replica that
holds its lease (notifier/storage/pgleases.py, with the group schedule); a flush reads the
last notifications, decides, queues and records the group's next flush in one transaction that
first locks its leases (`FOR UPDATE`, still this replica's, unexpired), so a replica that lost
a lease queues nothing for that group. The flush claims the rows it queues for this replica
(up to OWN_CLAIMS times its delivery slots), so the owner delivers its groups' notifications
as an Alertmanager does; rows beyond, and those of a replica that died, are claimed by any
replica (notifier/storage/pgoutbox.py). Picking up reads only rows not yet read
(notifier/storage/pgchanges.py). NOTIFY wakes the other replicas (notifier/storage/pglisten.py).
The DSN's password never reaches a log line or an error text: they name the URL through `redact`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
import weakref
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool

from inferwatch.core.redact import redact
from inferwatch.notifier.alerts import StoredAlert, merge
from inferwatch.notifier.alertstore import _encode
from inferwatch.notifier.nflog import Entry
from inferwatch.notifier.outbox import Row
from inferwatch.notifier.silences import Silences
from inferwatch.notifier.storage.base import (
    Cluster,
    Planner,
    Storage,
    StorageError,
    StorageHealth,
    reason,
)
from inferwatch.notifier.storage.migrations import MIGRATION_LOCK, POSTGRES_LATEST, POSTGRES_STEPS
from inferwatch.notifier.storage.pgchanges import PickUp
from inferwatch.notifier.storage.pgleases import Leases
from inferwatch.notifier.storage.pglisten import CHANGES, KEEPALIVES, NOTIFY, OUTBOX, listen
from inferwatch.notifier.storage.pgoutbox import (
    NFLOG,
    ClaimedOutbox,
    newest_per_group,
    nflog_rows,
    upsert_nflog,
)
from inferwatch.notifier.storage.pgsql import Rows, text_array

log = logging.getLogger(__name__)
SETTLED = 2.0  # seconds after which no alert write older than it can still commit
OWN_CLAIMS = 16  # times `slots`: the notifications a replica claims as it queues them
RECHECK = 1.0  # seconds: a pooled connection idle longer is checked before it is handed out
CONNECT = {"autocommit": True, "connect_timeout": 3, "options": "-c statement_timeout=10000"}

class PostgresStorage(Leases, Storage):
    errors = (psycopg.Error,)  # psycopg_pool's PoolTimeout is one of them
    shared = True

    def __init__(self, dsn: str, cluster: Cluster):
        self.dsn, self.cluster = dsn, cluster
        self.health = StorageHealth(redact(dsn))
        self.pool: AsyncConnectionPool | None = None
        self._sync: psycopg.Connection | None = None  # the API's silence writes, counts()
        self.silences = Silences(self, rows=[])
        self.outbox = ClaimedOutbox(self)
        self.up = False  # the last database access succeeded (readiness)
        self._pickup = PickUp(SETTLED)  # which alert rows are still to be read
        self._picking = asyncio.Lock()
        self._seen: dict[str, int] = {}  # fingerprint -> sequence number last picked up
        self.changed = asyncio.Event()  # another replica stored alerts or silences (NOTIFY)
        self.listening = False
        self.listens = 0  # LISTEN connections made so far
        self._silence_writes = 0  # the API's silence writes (changes() must not undo one)
        try:
            given = set(conninfo_to_dict(dsn))
        except psycopg.Error:  # open() names the problem
            given = set()
        self._keepalives = {k: v for k, v in KEEPALIVES.items() if k not in given}
        self._answered: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._init_leases()

    # connection, migrations, health
    def connect_kwargs(self, role: str = "") -> dict:
        name = f"inferwatch-notifier {self.cluster.replica}" + (f" {role}" if role else "")
        return {**CONNECT, **self._keepalives, "application_name": name}

    async def open(self) -> None:
        self.pool = AsyncConnectionPool(self.dsn, min_size=1, max_size=8, open=False,
                                        kwargs=self.connect_kwargs(), timeout=2.0, name="notifier",
                                        check=self._check)
        try:
            await self.pool.open(wait=True, timeout=10.0)
            before, after = await self.migrate()
            async with self.conn() as conn:
                cur = await conn.execute("SELECT body FROM silences")
                self.silences.reload([r[0] for r in await cur.fetchall()])
        except (psycopg.Error, OSError) as err:
            await self.pool.close()
            raise StorageError(f"storage {self.label}: cannot open: {reason(err)}") from None
        if before != after:
            log.info("storage %s: schema migrated from version %d to %d", self.label, before,
                     after)
        self.up = True

    async def migrate(self) -> tuple[int, int]:
        """Run the steps past the recorded version, one replica at a time."""
        async with self.conn() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_version "
                               "(version INTEGER NOT NULL)")
            cur = await conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            before = (await cur.fetchone())[0]
            for step in range(before + 1, POSTGRES_LATEST + 1):
                await conn.execute(POSTGRES_STEPS[step])
                await conn.execute("INSERT INTO schema_version VALUES (%s)", (step,))
        return before, max(before, POSTGRES_LATEST)

    @contextlib.asynccontextmanager
    async def conn(self) -> AsyncIterator[psycopg.AsyncConnection]:
        """A pooled connection; readiness and the error log follow each access."""
        assert self.pool is not None, "open() first"
        try:
            async with self.pool.connection() as conn:
                yield conn
                self._answered[conn] = time.monotonic()
        except psycopg.Error:
            self.down()
            raise
        self.up = True
        self.health.ok()

    async def _check(self, conn: psycopg.AsyncConnection) -> None:
        """The pool's check of a connection it hands out (a round trip), skipped while the
        connection answered less than RECHECK ago: one broken since fails its statement, and
        the pool drops it."""
        if time.monotonic() - self._answered.get(conn, -RECHECK) >= RECHECK:
            await AsyncConnectionPool.check_connection(conn)

    def down(self) -> None:
        if self.up:
            log.warning("storage %s: database unreachable; not ready until it answers",
                        self.label)
        self.up = False
        if self.metrics is not None:
            self.metrics.database_up.set(0)

    def connected(self) -> bool:
        if self.metrics is not None and self.up:
            self.metrics.database_up.set(1)
        return self.up

    async def close(self) -> None:
        """Write the outstanding marks, hand back claims and leases (a rolling update need not
        wait for them to expire), close the connections."""
        with contextlib.suppress(psycopg.Error, AssertionError):
            await self.outbox.write_marks()
            async with self.conn() as conn:
                await conn.execute("UPDATE outbox SET claimed_by = NULL, claim_until = NULL "
                                   "WHERE claimed_by = %s AND state = 'pending'",
                                   (self.cluster.replica,))
                await conn.execute("DELETE FROM leases WHERE owner = %s",
                                   (self.cluster.replica,))
        if self.pool is not None:
            await self.pool.close()
        if self._sync is not None:
            self._sync.close()

    # the synchronous connection: silences written from the API's handlers, counts()
    def sync(self) -> psycopg.Connection:
        if self._sync is None or self._sync.closed or self._sync.broken:
            self._sync = psycopg.connect(self.dsn, **self.connect_kwargs())
        return self._sync

    def sync_run(self, op: str, sql: str, params: Sequence | Mapping = ()) -> list[tuple]:
        try:
            cur = self.sync().execute(sql, params)
            return cur.fetchall() if cur.description else []
        except psycopg.Error as err:
            self._sync = None
            raise self.health.error(op, err) from None

    def silence_rows(self) -> list[str]:
        return [r[0] for r in self.sync_run("silences", "SELECT body FROM silences")]

    def save_silence(self, silence_id: str, body: str, ends_at: float) -> None:
        self._silence_writes += 1
        self.sync_run("silences", "WITH s AS (INSERT INTO silences VALUES (%s, %s, %s) ON "
                      "CONFLICT (id) DO UPDATE SET body = excluded.body, ends_at = "
                      "excluded.ends_at RETURNING 1) SELECT pg_notify(%s, %s) FROM s",
                      (silence_id, body, ends_at, CHANGES, self.cluster.replica))

    def delete_silences(self, ids: Sequence[str]) -> None:
        if ids:
            self._silence_writes += 1
            self.sync_run("silences", "WITH s AS (DELETE FROM silences WHERE id = ANY(%s) "
                          "RETURNING 1) SELECT pg_notify(%s, %s) FROM (SELECT 1 FROM s "
                          "LIMIT 1) AS one", (list(ids), CHANGES, self.cluster.replica))

    async def wait_changes(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.changed.wait(), timeout)
        self.changed.clear()

    # alerts
    async def put_alerts(self, batch: Mapping[str, StoredAlert]) -> Sequence[StoredAlert]:
        fps = sorted(batch)
        async with self.conn() as conn, conn.pipeline(), conn.transaction():
            cur = await conn.execute("SELECT fingerprint, body FROM alerts WHERE fingerprint = "
                                     "ANY(%s::text[]) ORDER BY fingerprint FOR UPDATE",
                                     (text_array(fps),))
            stored = {fp: _decode(body) for fp, body in await cur.fetchall()}
            out = [merge(stored[fp], batch[fp]) if fp in stored else batch[fp] for fp in fps]
            cur = await conn.execute(PUT_ALERTS, (ALERTS.param(
                (a.fingerprint, _encode(a), a.updated_at, a.ends_at) for a in out),))
            await conn.execute(NOTIFY, (CHANGES, self.cluster.replica))
            # this replica has these versions: `changes` need not read them back (recorded
            # before the commit, which a pick-up may otherwise see first)
            self._seen.update(await cur.fetchall())
        return out

    async def load_alerts(self) -> list[StoredAlert]:
        return await self.changes()

    async def changes(self) -> list[StoredAlert]:
        # one at a time (the flush loop's and the pick-up loop's): two at once would both
        # read and decode the same new rows
        async with self._picking:
            return await self._changes()

    async def _changes(self) -> list[StoredAlert]:
        writes = self._silence_writes  # before the silences are read
        async with self.conn() as conn:
            async with conn.pipeline():
                silences = await conn.execute("SELECT body FROM silences")
                where, args = self._pickup.where()
                asked = self._pickup.clock()
                cur = await conn.execute(
                    "SELECT seq, fingerprint, written_at < now() - %s * interval '1 second' "
                    f"FROM alerts WHERE {where} ORDER BY seq", (SETTLED, *args))
                stored = [r[0] for r in await silences.fetchall()]
                rows = await cur.fetchall()
            if writes == self._silence_writes:  # else the rows may predate a write of ours
                self.silences.reload(stored)
            new = [seq for seq, fp, _ in rows if self._seen.get(fp) != seq]
            bodies = []
            if new:
                cur = await conn.execute("SELECT seq, fingerprint, body FROM alerts WHERE seq = "
                                         "ANY(%s) ORDER BY seq", (new,))
                bodies = await cur.fetchall()
        self._pickup.read([(seq, settled) for seq, _, settled in rows], asked)
        if len(self._seen) > 100_000:
            self._seen.clear()
        self._seen.update((fp, seq) for seq, fp, _ in bodies)
        return [_decode(body) for _, _, body in bodies]

    # the flush
    async def flush(self, keys: Sequence[str], plan: Planner, now: float, deadline: float,
                    schedule: Mapping[str, float] | None = None) -> set[str]:
        """One transaction in two round trips (pipeline mode): lock the leases still ours and
        read the groups' last notifications; then plan and write."""
        me, listed = self.cluster.replica, text_array(sorted(keys))
        began, adopted, superseded = 0.0, [], []
        async with self.conn() as conn, conn.pipeline(), conn.transaction():
            cur = await conn.execute(
                "SELECT group_key FROM leases WHERE group_key = ANY(%s::text[]) AND owner = %s "
                "AND expires_at > now() ORDER BY group_key FOR UPDATE", (listed, me))
            last = await conn.execute(LAST_ENTRIES, (listed, listed))  # after the locks
            ok = {r[0] for r in await cur.fetchall()}
            entries = _last_entries(await last.fetchall(), ok)
            if not ok:
                return set()
            notes, quiet = plan(lambda r, c, k: entries.get((r, c, k)))
            notes = [n for n in notes if n.group_key in ok]
            quiet = [n for n in quiet if n.group_key in ok]
            if notes:
                replaced = await conn.execute(SUPERSEDE, (now, GROUPS.param(
                    (n.receiver, n.channel, n.group_key) for n in notes)))
                # this replica claims what it queues, in the same statement, while it holds
                # fewer than OWN_CLAIMS times its slots: it delivers them without a claim
                free = self.outbox.free(OWN_CLAIMS)
                rows = [_outbox_row(n, now, deadline, me if i < free else None)
                        for i, n in enumerate(notes)]
                began = time.monotonic()  # before the claims' clock_timestamp()
                queued = await conn.execute(QUEUE, (self.outbox.ttl, OUTBOX_ROWS.param(rows)))
                if len(notes) > free:  # the rest is for any replica's claim loop
                    await conn.execute(NOTIFY, (OUTBOX, me))
                superseded = [r[0] for r in await replaced.fetchall()]
                if free:
                    ids = dict(await queued.fetchall())
                    adopted = [Row(ids[r[0]], r[0], n, now, now + deadline, 0)
                               for r, n in zip(rows[:free], notes, strict=False)]
            await self.record(conn, {k: v for k, v in (schedule or {}).items() if k in ok}, now)
            if quiet:
                await conn.execute(upsert_nflog(),
                                   (NFLOG.param(newest_per_group(nflog_rows(quiet, now, 0))),))
        self.outbox.adopt(adopted, began, superseded)  # committed
        return ok

    async def gc(self, now: float, alerts: Iterable[str], before: float) -> None:
        async with self.conn() as conn, conn.transaction():
            await conn.execute("DELETE FROM alerts WHERE fingerprint = ANY(%s::text[]) AND "
                               "ends_at < %s", (text_array(alerts), now))
            await conn.execute("DELETE FROM nflog WHERE at < %s", (before,))
            await conn.execute("DELETE FROM outbox WHERE state <> 'pending' AND done_at < %s",
                               (before,))
            await conn.execute("DELETE FROM leases WHERE expires_at < now() - interval '1 hour'")
            await conn.execute("DELETE FROM group_schedule WHERE last_flush < %s", (before,))
        self.silences.gc(before)

    def background(self) -> list:
        return [self.outbox.run(), listen(self)]


# the newest pending notification of each (receiver, channel, group), else the logged one: one
# statement, so one snapshot (read apart, a row marked delivered and logged between the two
# reads would be in neither, and its group notified a second time)
LAST_ENTRIES = """
SELECT * FROM (SELECT DISTINCT ON (receiver, channel, group_key) receiver, channel, group_key,
    firing, resolved, created_at, true FROM outbox WHERE state = 'pending' AND group_key =
    ANY(%s::text[]) ORDER BY receiver, channel, group_key, id DESC) AS pending
UNION ALL SELECT receiver, channel, group_key, firing, resolved, COALESCE(sent_at, at), false
FROM nflog WHERE group_key = ANY(%s::text[])
"""
ALERTS = Rows(("fingerprint", "text"), ("body", "text"), ("updated_at", "float8"),
              ("ends_at", "float8"))
PUT_ALERTS = f"""
INSERT INTO alerts (fingerprint, body, updated_at, ends_at, seq)
SELECT {ALERTS.names_sql}, nextval('change_seq') FROM {ALERTS.source()} ORDER BY fingerprint
ON CONFLICT (fingerprint) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at,
    ends_at = excluded.ends_at, seq = excluded.seq, written_at = clock_timestamp()
RETURNING fingerprint, seq
"""
GROUPS = Rows(("receiver", "text"), ("channel", "int"), ("group_key", "text"))
SUPERSEDE = f"""
UPDATE outbox o SET state = 'superseded', done_at = %s FROM {GROUPS.source()}
WHERE o.state = 'pending' AND o.receiver = v.receiver AND o.channel = v.channel
AND o.group_key = v.group_key RETURNING o.id
"""
OUTBOX_ROWS = Rows(("key", "text"), ("receiver", "text"), ("channel", "int"),
                   ("group_key", "text"), ("title", "text"), ("body", "text"),
                   ("body_format", "text"), ("notify_type", "text"), ("firing", "text"),
                   ("resolved", "text"), ("created_at", "float8"), ("deadline", "float8"),
                   ("next_attempt", "float8"), ("claimed_by", "text"))
QUEUE = f"""
INSERT INTO outbox ({OUTBOX_ROWS.names_sql}, state, claim_until)
SELECT {OUTBOX_ROWS.names_sql}, 'pending', CASE WHEN claimed_by IS NOT NULL
    THEN clock_timestamp() + %s * interval '1 second' END FROM {OUTBOX_ROWS.source()}
RETURNING key, id
"""


def _last_entries(rows: list[tuple], keys: set[str]) -> dict[tuple[str, int, str], Entry]:
    """LAST_ENTRIES' rows of the groups in `keys`: a pending notification wins."""
    out: dict[tuple[str, int, str], Entry] = {}
    for r, c, k, firing, resolved, at, pending in rows:
        if k in keys and (pending or (r, c, k) not in out):
            out[(r, c, k)] = Entry(frozenset(json.loads(firing)),
                                   frozenset(json.loads(resolved)), at)
    return out


def _outbox_row(n, now: float, deadline: float, claimed_by: str | None) -> tuple:
    return (secrets.token_hex(12), n.receiver, n.channel, n.group_key, n.title, n.body,
            n.body_format, n.notify_type, json.dumps(sorted(n.firing)),
            json.dumps(sorted(n.resolved)), now, now + deadline, now, claimed_by)


def _decode(body: str) -> StoredAlert:
    return StoredAlert(**json.loads(body))
