"""The outbox worker: deliver due notifications, retry with backoff and jitter, mark the result."""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from inferwatch.notifier.channels import Channel, ChannelError
from inferwatch.notifier.config import DeliveryConfig
from inferwatch.notifier.metrics import Metrics
from inferwatch.notifier.outbox import Outbox, Row

log = logging.getLogger(__name__)


def backoff(attempt: int, cfg: DeliveryConfig, rng: random.Random) -> float:
    """Exponential backoff with jitter: between half and all of initial * 2**attempt (capped)."""
    base = min(cfg.max_backoff, cfg.initial_backoff * 2 ** min(attempt, 32))
    return base * (0.5 + rng.random() / 2)


MARK_BACKOFF = (0.5, 30.0)  # first and longest wait before writing a failed mark again


@dataclass
class _Mark:
    """The outcome of an attempt, to be written; the row is not tried again before it is."""

    op: str  # mark_delivered, mark_retry, mark_failed (the storage_errors label)
    row: Row
    at: float
    error: str = ""


class Deliverer:
    """Sends pending outbox rows, at most `concurrency` at once, longest due first.

    Outcomes are written in batches, one transaction per loop tick. When the storage refuses
    them (disk full, read-only), the rows stay out of delivery (not sent again: the receiver
    has them) and the writes are retried with backoff until they land."""

    def __init__(self, outbox: Outbox, channels: dict[tuple[str, int], Channel],
                 cfg: DeliveryConfig, metrics: Metrics, clock: Callable[[], float],
                 rng: random.Random):
        self.outbox, self.channels, self.cfg = outbox, channels, cfg
        self.metrics, self.clock, self.rng = metrics, clock, rng
        self.wake = asyncio.Event()
        self.busy: set[int] = set()  # being attempted
        self.tasks: set[asyncio.Task[None]] = set()
        self.marks: list[_Mark] = []  # outcomes not yet written
        self.unmarked: set[int] = set()  # rows of those outcomes
        self._mark_timer: asyncio.TimerHandle | asyncio.Handle | None = None
        self._mark_wait = MARK_BACKOFF[0]

    def _held(self) -> set[int]:
        return self.busy | self.unmarked

    async def run(self) -> None:
        wait = MARK_BACKOFF[0]
        while True:
            self.wake.clear()
            now = self.clock()
            free = self.cfg.concurrency - len(self.busy)
            try:
                for row in self.outbox.due(now, free, self._held()) if free > 0 else []:
                    self.busy.add(row.id)
                    task = asyncio.create_task(self._deliver(row))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
                await self._sleep(free > 0)
                wait = MARK_BACKOFF[0]
            except sqlite3.Error as err:  # the outbox unreadable: back off, then look again
                self.outbox.db.health.error("read", err)
                await asyncio.sleep(wait)
                wait = min(MARK_BACKOFF[1], wait * 2)

    async def _sleep(self, can_start: bool) -> None:
        """Until woken (enqueue, a delivery ended) or the next retry is due."""
        nxt = self.outbox.next_attempt(self._held()) if can_start else None
        timeout = None if nxt is None else max(0.0, nxt - self.clock()) + 0.001
        try:
            await asyncio.wait_for(self.wake.wait(), timeout)
        except TimeoutError:
            return

    async def _deliver(self, row: Row) -> None:
        channel = self.channels.get((row.note.receiver, row.note.channel))
        try:
            mark = await self._attempt(row, channel)
        finally:
            self.busy.discard(row.id)
        if mark is not None:
            self._record(mark)

    async def _attempt(self, row: Row, channel: Channel | None) -> _Mark | None:
        """One delivery attempt and the outcome to write."""
        note = row.note
        try:
            if channel is None:
                raise ChannelError(f"{note.receiver}/{note.channel}: not configured any more",
                                   recoverable=False)
            await channel.send(note.title, note.body, note.body_format, note.notify_type,
                               row.key, self.cfg.timeout)
        except ChannelError as err:
            return self._failed(row, channel, err)
        except Exception as err:  # a bug must not stop delivery: log it, retry the row
            log.exception("delivery of notification %s crashed", row.key)
            return self._failed(row, channel, ChannelError(f"{type(err).__name__}",
                                                           recoverable=True))
        at = self.clock()
        self.metrics.sent.labels(note.receiver, channel.type).inc()
        self.metrics.latency.labels(note.receiver, channel.type).observe(at - row.created_at)
        log.debug("delivered notification %s to %s", row.key, channel.name)
        return _Mark("mark_delivered", row, at)

    def _record(self, mark: _Mark) -> None:
        self.marks.append(mark)
        self.unmarked.add(mark.row.id)
        if self._mark_timer is None:
            self._mark_timer = asyncio.get_running_loop().call_soon(self.mark_done)

    def mark_done(self) -> None:
        """Write the outcomes recorded so far: deliveries in one transaction, then the rest.
        On a storage error, keep them and try again after a backoff."""
        self._mark_timer = None
        marks, self.marks = self.marks, []
        delivered = [m for m in marks if m.op == "mark_delivered"]
        op = "mark_delivered"
        try:
            if delivered:
                self.outbox.delivered((m.row, m.at) for m in delivered)
                self._release(delivered)
            for mark in (m for m in marks if m.op != "mark_delivered"):
                op = mark.op
                if op == "mark_retry":
                    self.outbox.retry(mark.row, mark.at, mark.error)
                else:
                    self.outbox.failed(mark.row, mark.at, mark.error)
                self._release([mark])
        except sqlite3.Error as err:
            self.outbox.db.health.error(op, err)
            self.marks = [m for m in marks if m.row.id in self.unmarked] + self.marks
            self._mark_timer = asyncio.get_running_loop().call_later(self._mark_wait,
                                                                     self.mark_done)
            self._mark_wait = min(MARK_BACKOFF[1], self._mark_wait * 2)
            return
        self._mark_wait = MARK_BACKOFF[0]
        if self.marks and self._mark_timer is None:  # recorded meanwhile
            self._mark_timer = asyncio.get_running_loop().call_soon(self.mark_done)

    def _release(self, marks: list[_Mark]) -> None:
        for mark in marks:
            self.unmarked.discard(mark.row.id)
        self.wake.set()

    def _failed(self, row: Row, channel: Channel | None, err: ChannelError) -> _Mark:
        now = self.clock()
        kind = channel.type if channel else "unknown"
        self.metrics.failed.labels(row.note.receiver, kind).inc()
        at = now + backoff(row.attempts, self.cfg, self.rng)
        if err.recoverable and at < row.deadline:
            log.warning("notification %s attempt %d failed, retrying in %.1fs: %s",
                        row.key, row.attempts + 1, at - now, err)
            return _Mark("mark_retry", row, at, str(err))
        self.metrics.dropped.labels(row.note.receiver, kind).inc()
        why = "retry deadline passed" if err.recoverable else "unrecoverable"
        log.error("notification %s given up (%s): %s", row.key, why, err)
        return _Mark("mark_failed", row, now, str(err))

    async def stop(self, grace: float = 2.0) -> None:
        """Let in-flight deliveries finish for a moment; unfinished ones stay pending, and
        outcomes that cannot be written are sent again after a restart."""
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=grace)
        for task in self.tasks:
            task.cancel()
        if self._mark_timer is not None:
            self._mark_timer.cancel()
        self.mark_done()
        if self._mark_timer is not None:
            self._mark_timer.cancel()
            self._mark_timer = None
