"""Prompt pick-up across replicas on PostgreSQL: LISTEN/NOTIFY on top of polling.

A replica that queues notifications notifies `inferwatch_outbox`; one that stores alerts or
writes a silence notifies `inferwatch_changes` (in the writing transaction, so the
notification arrives once the rows are visible). Each replica listens on its own connection
(outside the pool): an outbox notification wakes its claim loop, a change its alert and
silence pick-up. The payload is the sender's replica name, so a replica skips its own. The
polls stay as the fallback: a notification sent while the listener was reconnecting is not
replayed, and the next poll finds the rows.

A listening connection only reads, so a dead one (the server gone without a word, a NAT or
proxy dropping the flow) would never raise: TCP keepalives are set on every connection (unless
the URL sets its own), and every `cluster.keepalive` seconds the listener sends a query that
must answer within as long, or the connection is dropped and a new one listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import psycopg

if TYPE_CHECKING:
    from inferwatch.notifier.storage.postgres import PostgresStorage

log = logging.getLogger(__name__)
OUTBOX, CHANGES = "inferwatch_outbox", "inferwatch_changes"
NOTIFY = "SELECT pg_notify(%s, %s)"
# libpq's TCP keepalives: a silent peer is given up after about 5 + 3 * 2 s idle, unsent data
# after 10 s (Linux); the URL's own settings win
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
              "keepalives_count": 3, "tcp_user_timeout": 10000}


async def listen(storage: PostgresStorage) -> None:
    """Listen until cancelled; reconnect with backoff while the database is away."""
    me, wait = storage.cluster.replica, 0.0
    while True:
        conn = None
        try:
            conn = await psycopg.AsyncConnection.connect(
                storage.dsn, **storage.connect_kwargs("listen"))
            await conn.execute(f"LISTEN {OUTBOX}")
            await conn.execute(f"LISTEN {CHANGES}")
            storage.listening = True
            storage.listens += 1
            if storage.listens > 1:
                log.info("replica %s: listening again", me)
            wait = 0.0
            # rows written before LISTEN took effect: look now rather than at the poll
            storage.outbox.kick()
            storage.changed.set()
            await _relay(conn, storage)
        except (psycopg.Error, OSError, TimeoutError) as err:
            log.warning("replica %s: listener connection lost (%s); polling meanwhile", me,
                        type(err).__name__)
        finally:
            storage.listening = False
            if conn is not None:
                with contextlib.suppress(psycopg.Error, OSError):
                    await conn.close()
        wait = min(2.0, max(0.1, wait * 2))
        await asyncio.sleep(wait)


async def _relay(conn: psycopg.AsyncConnection, storage: PostgresStorage) -> None:
    """Hand the notifications on; every `keepalive` seconds, check that the server answers."""
    me, every = storage.cluster.replica, storage.cluster.keepalive
    while True:
        async for note in conn.notifies(timeout=every):
            if note.payload == me:
                continue
            if note.channel == OUTBOX:
                storage.outbox.kick()
            else:
                storage.changed.set()
        # notifications arriving meanwhile wait in the connection's backlog
        ping = asyncio.ensure_future(conn.execute("SELECT 1"))
        if not (await asyncio.wait({ping}, timeout=every))[0]:
            # closed at once: a cancel request (what cancelling the query would send first)
            # would wait on the dead connection as well
            ping.cancel()
            await conn.close()
            raise TimeoutError("no answer to the keepalive query")
        ping.result()
