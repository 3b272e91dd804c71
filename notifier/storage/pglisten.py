"""Prompt pick-up across replicas on PostgreSQL: LISTEN/NOTIFY on top of polling.

A replica that queues notifications notifies `inferwatch_outbox`; one that stores alerts or
writes a silence notifies `inferwatch_changes` (in the writing transaction, so the
notification arrives once the rows are visible). Each replica listens on its own connection
(outside the pool): an outbox notification wakes its claim loop, a change its alert and
silence pick-up. The payload is the sender's replica name, so a replica skips its own. The
polls stay as the fallback: a notification sent while the listener was reconnecting is not
replayed, and the next poll finds the rows.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import psycopg

if TYPE_CHECKING:
    from inferwatch.notifier.storage.postgres import PostgresStorage

log = logging.getLogger(__name__)
OUTBOX, CHANGES = "inferwatch_outbox", "inferwatch_changes"
NOTIFY = "SELECT pg_notify(%s, %s)"


async def listen(storage: PostgresStorage) -> None:
    """Listen until cancelled; reconnect with backoff while the database is away."""
    me, wait = storage.cluster.replica, 0.0
    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(
                storage.dsn, **storage.connect_kwargs("listen"))
            async with conn:
                await conn.execute(f"LISTEN {OUTBOX}")
                await conn.execute(f"LISTEN {CHANGES}")
                storage.listening = True
                wait = 0.0
                # rows written before LISTEN took effect: look now rather than at the poll
                storage.outbox.kick()
                storage.changed.set()
                async for note in conn.notifies():
                    if note.payload == me:
                        continue
                    if note.channel == OUTBOX:
                        storage.outbox.kick()
                    else:
                        storage.changed.set()
        except (psycopg.Error, OSError) as err:
            log.debug("replica %s: listener connection lost (%s); polling meanwhile", me,
                      type(err).__name__)
        finally:
            storage.listening = False
        wait = min(2.0, max(0.1, wait * 2))
        await asyncio.sleep(wait)
