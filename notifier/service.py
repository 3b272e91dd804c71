"""The Notifier: takes alerts, groups them on their routes, flushes groups into the outbox.

Alerts are written to the database before `receive` returns; group state lives in memory and
is rebuilt from the stored alerts on start, while the nflog and the pending outbox rows keep a
rebuilt group from notifying again what was already queued or delivered. On shared storage
(PostgreSQL) every replica holds every group, picks up the alerts and silences other replicas
stored, and flushes only the groups whose lease it holds, on the schedule the group's owners
recorded in the database (a replica taking a group over keeps to its next flush time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from inferwatch.core.config import ConfigError
from inferwatch.core.redact import install
from inferwatch.notifier.alerts import Alert, StoredAlert, merge, to_stored
from inferwatch.notifier.channels import Channel, make_channel
from inferwatch.notifier.config import Loaded, template_for
from inferwatch.notifier.delivery import Deliverer
from inferwatch.notifier.grouping import AggrGroup, Groups
from inferwatch.notifier.inhibit import Inhibition, Rule
from inferwatch.notifier.metrics import Metrics, StateReading
from inferwatch.notifier.outbox import Notification
from inferwatch.notifier.pipeline import plan_flush
from inferwatch.notifier.routing import RouteCache, build_routes
from inferwatch.notifier.storage import Cluster, Storage, open_storage
from inferwatch.notifier.storage.base import LastEntry, Planner

log = logging.getLogger(__name__)
RETENTION = 120 * 3600.0  # Alertmanager's --data.retention default
RESOLVED_KEEP = 900.0  # keep a resolved alert this long once no group holds it
GC_EVERY = 60.0
SHARED_FLUSH_PART = 100  # due groups per flush transaction on shared storage


def build_channels(loaded: Loaded) -> dict[tuple[str, int], Channel]:
    """A channel per receiver URL; ConfigError naming each URL apprise cannot use."""
    cfg, out, problems = loaded.config, {}, []
    for r, receiver in enumerate(cfg.receivers):
        for i, ch in enumerate(receiver.urls):
            send_resolved = ch.send_resolved if ch.send_resolved is not None \
                else receiver.send_resolved
            try:
                out[(receiver.name, i)] = make_channel(
                    receiver.name, i, loaded.urls[(receiver.name, i)], send_resolved,
                    lambda kind, name=ch.template: template_for(cfg.templates, name, kind))
            except ValueError as err:
                problems.append(f"{loaded.source}: receivers.{r}.urls.{i}: {err}")
    if problems:
        raise ConfigError(problems)
    return out


class Notifier:
    """Alertmanager's dispatcher and notification pipeline over a durable outbox."""

    def __init__(self, loaded: Loaded, storage: str | Path | Storage, *,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None,
                 cluster: Cluster | None = None):
        install(loaded.secrets)
        self.loaded, self.cfg, self.clock = loaded, loaded.config, clock
        self.channels = build_channels(loaded)
        self.storage = storage if isinstance(storage, Storage) else open_storage(storage,
                                                                                  cluster)
        # SQLite's Database and table objects (tests and tools read them); PostgreSQL has
        # the outbox and silences only
        self.db = getattr(self.storage, "db", self.storage)
        self.store, self.nflog = getattr(self.storage, "store", None), \
            getattr(self.storage, "nflog", None)
        self.silences, self.outbox = self.storage.silences, self.storage.outbox
        self.route = build_routes(self.cfg.route)
        self.routes_for = RouteCache(self.route)  # an alert's routes, by its labels
        self.rules = [Rule.from_config(r) for r in self.cfg.inhibit_rules]
        self.by_receiver: dict[str, list[Channel]] = {r.name: [] for r in self.cfg.receivers}
        for channel in self.channels.values():
            self.by_receiver[channel.receiver].append(channel)
        self.groups = Groups(started=clock())
        self.active: dict[str, StoredAlert] = {}
        self.metrics = Metrics(self.snapshot)
        self.storage.health.count = lambda op: self.metrics.storage_errors.labels(op).inc()
        self.storage.metrics = self.metrics
        self.deliverer = Deliverer(self.outbox, self.channels, self.cfg.delivery, self.metrics,
                                   clock, rng or random.Random())
        self.storage.deliverer_wake = self.deliverer.wake
        self.storage.slots = 2 * self.cfg.delivery.concurrency
        self.storage.send_timeout = self.cfg.delivery.timeout
        self.wake = asyncio.Event()
        self._started = False
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def ready(self) -> bool:
        """Started, and the database reachable (PostgreSQL: the last access succeeded)."""
        return self._started and self.storage.connected()

    async def start(self) -> None:
        await self.storage.open()
        now = self.clock()
        for alert in await self.storage.load_alerts():
            self._ingest(alert, now)
        loops = [self._flush_loop(), self.deliverer.run(), self._gc_loop(),
                 *self.storage.background()]
        if self.storage.shared:
            loops.append(self._sync_loop())
        self._tasks = [asyncio.create_task(coro) for coro in loops]
        self._started = True
        log.info("notifier started: %d alerts, %d pending notifications%s",
                 len(self.active), self.outbox.depth(),
                 f", replica {self.storage.cluster.replica} on {self.storage.label}"
                 if self.storage.shared else "")

    async def stop(self) -> None:
        self._started = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            while not task.done():  # 3.11's wait_for swallows a cancel racing its wake-up
                await asyncio.wait({task}, timeout=0.5)
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.deliverer.stop()
        for channel in self.channels.values():
            await channel.close()
        await self.storage.close()

    async def receive(self, alerts: Sequence[Alert], source: str = "rules") -> None:
        """Accept alerts (the rules engine's entry point); durable when this returns."""
        await self._accept(alerts, source, self.cfg.global_.resolve_timeout)

    async def receive_webhook(self, alerts: Sequence[Alert]) -> None:
        """Alerts relayed by an Alertmanager: firing until it says resolved (no timeout)."""
        await self._accept(alerts, "webhook", None)

    async def _accept(self, alerts: Sequence[Alert], source: str, timeout: float | None) -> None:
        now = self.clock()
        batch: dict[str, StoredAlert] = {}
        for alert in alerts:
            new = to_stored(alert, now, timeout)
            old = batch.get(new.fingerprint) or self.active.get(new.fingerprint)
            batch[new.fingerprint] = merge(old, new) if old else new
        try:
            stored = await self.storage.put_alerts(batch)
        except self.storage.errors as err:  # refused, so that the sender retries
            raise self.storage.health.error("alerts", err) from None
        for alert in stored:
            self._ingest(alert, now)
        self.metrics.received.labels(source).inc(len(alerts))
        self.wake.set()

    def _ingest(self, alert: StoredAlert, now: float, later: float = 0.0) -> None:
        self.active[alert.fingerprint] = alert
        for route in self.routes_for(alert.labels):
            self.groups.insert(route, alert, now, later)

    def _take(self, alerts: Sequence[StoredAlert], now: float) -> int:
        """Alerts another replica stored: ingest those that differ from ours. A group they
        make is that replica's to flush first: this one looks at it a lease later."""
        new = [a for a in alerts if self.active.get(a.fingerprint) != a]
        for alert in new:
            self._ingest(alert, now, self.storage.cluster.lease)
        return len(new)

    async def _sync_loop(self) -> None:
        """Shared storage: pick up other replicas' alerts (and silences) between flushes."""
        while True:
            await self.storage.wait_changes(self.storage.cluster.poll)
            try:
                if self._take(await self.storage.changes(), self.clock()):
                    self.wake.set()
            except self.storage.errors as err:
                self.storage.health.error("read", err)

    async def _flush_loop(self) -> None:
        while True:
            self.wake.clear()
            now = self.clock()
            due = self.groups.due(now)
            if due:
                try:
                    await self._flush_due(due, now)
                except self.storage.errors as err:  # unreadable: decide at the next tick
                    self.storage.health.error("read", err)
                    for group in due:
                        self.groups.flushed(group, now, ())
            nxt = self.groups.next_flush()
            timeout = None if nxt is None else max(0.0, nxt - self.clock()) + 0.001
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)

    async def _flush_due(self, due: list[AggrGroup], now: float) -> None:
        """Flush the due groups this replica owns (all of them on SQLite); the others keep
        their alerts and tick on, ready for a takeover."""
        if self.storage.shared:
            self._take(await self.storage.changes(), now)  # silences reloaded as well
            owned, later = await self.storage.own([g.key for g in due], now)
            for group in due:  # another's, or ours on a schedule taken over: not yet
                if group.key not in owned or group.key in later:
                    self.groups.defer(group, later.get(group.key,
                                                       now + group.route.group_interval))
            due = [g for g in due if g.key in owned and g.key not in later]
        # shared storage: in parts, so that the first notifications are queued (and claimed by
        # every replica) while the rest are still being planned
        step = SHARED_FLUSH_PART if self.storage.shared else max(1, len(due))
        for part in (due[i:i + step] for i in range(0, len(due), step)):
            sent = [(group, list(group.alerts.values())) for group in part]
            plan, queued = self._planner(part, now)
            schedule = {g.key: now + g.route.group_interval for g in part}
            try:
                done = await self.storage.flush([g.key for g in part], plan, now,
                                                self.cfg.delivery.retry_deadline, schedule)
            except self.storage.errors as err:
                done = self._not_queued(err)
            self._flushed(sent, done, queued, now)

    def flush(self, due: list[AggrGroup], now: float) -> None:
        """SQLite: run the pipeline for each due group; queue what it decides in one
        transaction (what the flush loop does, synchronously, for tests driving a clock)."""
        sent = [(group, list(group.alerts.values())) for group in due]
        plan, queued = self._planner(due, now)
        try:
            done = self.storage.flush_now([g.key for g in due], plan, now,
                                          self.cfg.delivery.retry_deadline)
        except self.storage.errors as err:
            done = self._not_queued(err)
        self._flushed(sent, done, queued, now)

    def _planner(self, due: list[AggrGroup], now: float) -> tuple[Planner, list[int]]:
        """The pipeline over `due`, to run once the storage has the last notifications; the
        list gets how many notes it queued."""
        queued: list[int] = []

        def plan(last: LastEntry) -> tuple[list[Notification], list[Notification]]:
            inhibition = Inhibition(self.rules, self.active.values(), now)
            notes: list[Notification] = []
            quiet: list[Notification] = []
            for group in due:
                p = plan_flush(group, self.by_receiver[group.route.receiver], inhibition,
                               self.silences, last, now, self.cfg.global_.external_url)
                notes += p.notes
                quiet += p.quiet
                self.metrics.silenced.inc(p.silenced)
                self.metrics.inhibited.inc(p.inhibited)
            queued.append(len(notes))
            return notes, quiet
        return plan, queued

    def _not_queued(self, err: BaseException) -> set[str]:
        # nothing queued or logged: as after a failed notify in Alertmanager, the groups keep
        # their alerts and decide again at their next tick
        self.storage.health.error("enqueue", err)
        return set()

    def _flushed(self, sent: list[tuple[AggrGroup, list[StoredAlert]]], done: set[str],
                 queued: list[int], now: float) -> None:
        if done and sum(queued):
            self.deliverer.wake.set()
        for group, alerts in sent:
            self.groups.flushed(group, now, alerts if group.key in done else ())

    async def _gc_loop(self) -> None:
        while True:
            await asyncio.sleep(GC_EVERY)
            now = self.clock()
            try:
                await self.storage.gc(now, self._collect(now), now - RETENTION)
                if self.storage.shared:
                    live = {g.key for g in self.groups}
                    await self.storage.release(self.storage.held() - live)
            except self.storage.errors as err:
                self.storage.health.error("gc", err)

    def _collect(self, now: float) -> list[str]:
        """Forget long-resolved alerts no group holds; their fingerprints."""
        held = {fp for g in self.groups for fp in g.alerts}
        old = [fp for fp, a in self.active.items() if fp not in held
               and a.ends_at is not None and a.ends_at < now - RESOLVED_KEEP]
        self.groups.cleanup(now)
        for fp in old:
            del self.active[fp]
        return old

    def gc(self, now: float) -> None:
        """SQLite: forget long-resolved alerts no group holds, and old log, outbox and silence
        rows (what the gc loop does, synchronously)."""
        self.storage.gc_now(self._collect(now), now - RETENTION)

    def status_of(self, alert: StoredAlert, inhibition: Inhibition, now: float) -> dict:
        """Alertmanager 0.25's alert status object (its alertStatus has no mutedBy)."""
        silenced = self.silences.muted_by(alert.labels, now, alert.fingerprint)
        by = inhibition.inhibited_by(alert.labels)
        inhibited = [by] if by else []
        state = "suppressed" if silenced or inhibited else "active"
        return {"state": state, "silencedBy": silenced, "inhibitedBy": inhibited}  # no mutedBy

    def snapshot(self) -> StateReading:
        now = self.clock()
        firing = [a for a in self.active.values() if not a.resolved(now)]
        inhibition = Inhibition(self.rules, firing, now)
        counts = {"firing": len(firing), "resolved": len(self.active) - len(firing),
                  "silenced": sum(1 for a in firing
                                  if self.silences.muted_by(a.labels, now, a.fingerprint)),
                  "inhibited": sum(1 for a in firing if inhibition.inhibited_by(a.labels))}
        oldest = self.outbox.oldest_pending()
        return StateReading(self.outbox.depth(), max(0.0, now - oldest) if oldest else 0.0,
                        counts, len(self.groups))
