"""The outbox worker: deliver due notifications, retry with backoff and jitter, mark the result."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from inferwatch.notifier.channels import Channel, ChannelError
from inferwatch.notifier.config import DeliveryConfig
from inferwatch.notifier.metrics import Metrics
from inferwatch.notifier.outbox import Outbox, Row

log = logging.getLogger(__name__)


def backoff(attempt: int, cfg: DeliveryConfig, rng: random.Random) -> float:
    """Exponential backoff with jitter: between half and all of initial * 2**attempt (capped)."""
    base = min(cfg.max_backoff, cfg.initial_backoff * 2 ** min(attempt, 32))
    return base * (0.5 + rng.random() / 2)


class Deliverer:
    """Sends pending outbox rows, at most `concurrency` at once, longest due first."""

    def __init__(self, outbox: Outbox, channels: dict[tuple[str, int], Channel],
                 cfg: DeliveryConfig, metrics: Metrics, clock: Callable[[], float],
                 rng: random.Random):
        self.outbox, self.channels, self.cfg = outbox, channels, cfg
        self.metrics, self.clock, self.rng = metrics, clock, rng
        self.wake = asyncio.Event()
        self.busy: set[int] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.done: list[tuple[Row, Channel, float]] = []  # delivered, to be marked

    async def run(self) -> None:
        while True:
            self.wake.clear()
            now = self.clock()
            free = self.cfg.concurrency - len(self.busy)
            for row in self.outbox.due(now, free, self.busy) if free > 0 else []:
                self.busy.add(row.id)
                task = asyncio.create_task(self._deliver(row))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            await self._sleep(free > 0)

    async def _sleep(self, can_start: bool) -> None:
        """Until woken (enqueue, a delivery ended) or the next retry is due."""
        nxt = self.outbox.next_attempt(self.busy) if can_start else None
        timeout = None if nxt is None else max(0.0, nxt - self.clock()) + 0.001
        try:
            await asyncio.wait_for(self.wake.wait(), timeout)
        except TimeoutError:
            return

    async def _deliver(self, row: Row) -> None:
        channel = self.channels.get((row.note.receiver, row.note.channel))
        delivered = False
        try:
            delivered = await self._attempt(row, channel)
        finally:
            if delivered:  # stays busy until marked, so that no one picks the row meanwhile
                self.done.append((row, channel, self.clock()))
                if len(self.done) == 1:
                    asyncio.get_running_loop().call_soon(self.mark_done)
            else:
                self.busy.discard(row.id)
                self.wake.set()

    async def _attempt(self, row: Row, channel: Channel | None) -> bool:
        """One delivery attempt; whether it went through (a failure is handled here)."""
        note = row.note
        try:
            if channel is None:
                raise ChannelError(f"{note.receiver}/{note.channel}: not configured any more",
                                   recoverable=False)
            await channel.send(note.title, note.body, note.body_format, note.notify_type,
                               row.key, self.cfg.timeout)
        except ChannelError as err:
            self._failed(row, channel, err)
        except Exception as err:  # a bug must not stop delivery: log it, retry the row
            log.exception("delivery of notification %s crashed", row.key)
            self._failed(row, channel, ChannelError(f"{type(err).__name__}", recoverable=True))
        else:
            return True
        return False

    def mark_done(self) -> None:
        """Mark the deliveries that ended in this loop tick, in one transaction."""
        done, self.done = self.done, []
        if not done:
            return
        try:
            self.outbox.delivered((row, at) for row, _, at in done)
        finally:
            for row, _, _ in done:
                self.busy.discard(row.id)
            self.wake.set()
        for row, channel, at in done:
            note = row.note
            self.metrics.sent.labels(note.receiver, channel.type).inc()
            self.metrics.latency.labels(note.receiver, channel.type).observe(at - row.created_at)
            log.debug("delivered notification %s to %s", row.key, channel.name)

    def _failed(self, row: Row, channel: Channel | None, err: ChannelError) -> None:
        now = self.clock()
        kind = channel.type if channel else "unknown"
        self.metrics.failed.labels(row.note.receiver, kind).inc()
        at = now + backoff(row.attempts, self.cfg, self.rng)
        if err.recoverable and at < row.deadline:
            self.outbox.retry(row, at, str(err))
            log.warning("notification %s attempt %d failed, retrying in %.1fs: %s",
                        row.key, row.attempts + 1, at - now, err)
            return
        self.outbox.failed(row, now, str(err))
        self.metrics.dropped.labels(row.note.receiver, kind).inc()
        why = "retry deadline passed" if err.recoverable else "unrecoverable"
        log.error("notification %s given up (%s): %s", row.key, why, err)

    async def stop(self, grace: float = 2.0) -> None:
        """Let in-flight deliveries finish for a moment; unfinished ones stay pending."""
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=grace)
        for task in self.tasks:
            task.cancel()
        self.mark_done()
