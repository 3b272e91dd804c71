"""The Notifier: takes alerts, groups them on their routes, flushes groups into the outbox.

Alerts are written to the database before `receive` returns; group state lives in memory and
is rebuilt from the stored alerts on start, while the nflog and the pending outbox rows keep a
rebuilt group from notifying again what was already queued or delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from inferwatch.core.config import ConfigError
from inferwatch.core.redact import install
from inferwatch.notifier.alerts import Alert, StoredAlert, merge, to_stored
from inferwatch.notifier.alertstore import AlertStore
from inferwatch.notifier.channels import Channel, make_channel
from inferwatch.notifier.config import Loaded, template_for
from inferwatch.notifier.db import Database
from inferwatch.notifier.delivery import Deliverer
from inferwatch.notifier.grouping import AggrGroup, Groups
from inferwatch.notifier.inhibit import Inhibition, Rule
from inferwatch.notifier.metrics import Metrics, StateReading
from inferwatch.notifier.nflog import NotificationLog
from inferwatch.notifier.outbox import Outbox
from inferwatch.notifier.pipeline import plan_flush
from inferwatch.notifier.routing import build_routes, match_routes
from inferwatch.notifier.silences import Silences

log = logging.getLogger(__name__)
RETENTION = 120 * 3600.0  # Alertmanager's --data.retention default
RESOLVED_KEEP = 900.0  # keep a resolved alert this long once no group holds it
GC_EVERY = 60.0


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

    def __init__(self, loaded: Loaded, storage: str | Path, *,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None):
        install(loaded.secrets)
        self.loaded, self.cfg, self.clock = loaded, loaded.config, clock
        self.channels = build_channels(loaded)
        self.db = Database(storage)
        self.store, self.silences = AlertStore(self.db), Silences(self.db)
        self.outbox, self.nflog = Outbox(self.db), NotificationLog(self.db)
        self.route = build_routes(self.cfg.route)
        self.rules = [Rule.from_config(r) for r in self.cfg.inhibit_rules]
        self.by_receiver: dict[str, list[Channel]] = {r.name: [] for r in self.cfg.receivers}
        for channel in self.channels.values():
            self.by_receiver[channel.receiver].append(channel)
        self.groups = Groups(started=clock())
        self.active: dict[str, StoredAlert] = {}
        self.metrics = Metrics(self.snapshot)
        self.db.health.count = lambda op: self.metrics.storage_errors.labels(op).inc()
        self.deliverer = Deliverer(self.outbox, self.channels, self.cfg.delivery, self.metrics,
                                   clock, rng or random.Random())
        self.wake = asyncio.Event()
        self.ready = False
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        now = self.clock()
        for alert in self.store.load():
            self._ingest(alert, now)
        self._tasks = [asyncio.create_task(coro) for coro in
                       (self._flush_loop(), self.deliverer.run(), self._gc_loop())]
        self.ready = True
        log.info("notifier started: %d alerts, %d pending notifications",
                 len(self.active), self.outbox.depth())

    async def stop(self) -> None:
        self.ready = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.deliverer.stop()
        for channel in self.channels.values():
            await channel.close()
        self.db.close()

    async def receive(self, alerts: Sequence[Alert], source: str = "rules") -> None:
        """Accept alerts (the rules engine's entry point); durable when this returns."""
        self._accept(alerts, source, self.cfg.global_.resolve_timeout)

    async def receive_webhook(self, alerts: Sequence[Alert]) -> None:
        """Alerts relayed by an Alertmanager: firing until it says resolved (no timeout)."""
        self._accept(alerts, "webhook", None)

    def _accept(self, alerts: Sequence[Alert], source: str, timeout: float | None) -> None:
        now = self.clock()
        batch: dict[str, StoredAlert] = {}
        for alert in alerts:
            new = to_stored(alert, now, timeout)
            old = batch.get(new.fingerprint) or self.active.get(new.fingerprint)
            batch[new.fingerprint] = merge(old, new) if old else new
        try:
            self.store.put(batch.values())
        except sqlite3.Error as err:  # refused, so that the sender retries
            raise self.db.health.error("alerts", err) from None
        for alert in batch.values():
            self._ingest(alert, now)
        self.metrics.received.labels(source).inc(len(alerts))
        self.wake.set()

    def _ingest(self, alert: StoredAlert, now: float) -> None:
        self.active[alert.fingerprint] = alert
        for route in match_routes(self.route, alert.labels):
            self.groups.insert(route, alert, now)

    async def _flush_loop(self) -> None:
        while True:
            self.wake.clear()
            now = self.clock()
            due = self.groups.due(now)
            if due:
                try:
                    self.flush(due, now)
                except sqlite3.Error as err:  # the nflog unreadable: decide at the next tick
                    self.db.health.error("read", err)
                    for group in due:
                        self.groups.flushed(group, now, ())
            nxt = self.groups.next_flush()
            timeout = None if nxt is None else max(0.0, nxt - self.clock()) + 0.001
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)

    def flush(self, due: list[AggrGroup], now: float) -> None:
        """Run the pipeline for each due group; queue what it decides in one transaction."""
        inhibition = Inhibition(self.rules, self.active.values(), now)
        notes, quiet, sent = [], [], []
        for group in due:
            plan = plan_flush(group, self.by_receiver[group.route.receiver], inhibition,
                              self.silences, self.nflog.last, now, self.cfg.global_.external_url)
            notes += plan.notes
            quiet += plan.quiet
            self.metrics.silenced.inc(plan.silenced)
            self.metrics.inhibited.inc(plan.inhibited)
            sent.append((group, list(group.alerts.values())))
        if notes or quiet:
            try:
                self.outbox.enqueue(notes, now, self.cfg.delivery.retry_deadline, quiet)
            except sqlite3.Error as err:
                # nothing queued or logged: as after a failed notify in Alertmanager, the
                # groups keep their alerts and decide again at their next tick
                self.db.health.error("enqueue", err)
                for group, _ in sent:
                    self.groups.flushed(group, now, ())
                return
        if notes:
            self.deliverer.wake.set()
        for group, alerts in sent:
            self.groups.flushed(group, now, alerts)

    async def _gc_loop(self) -> None:
        while True:
            await asyncio.sleep(GC_EVERY)
            try:
                self.gc(self.clock())
            except sqlite3.Error as err:
                self.db.health.error("gc", err)

    def gc(self, now: float) -> None:
        """Forget long-resolved alerts no group holds, and old log, outbox and silence rows."""
        held = {fp for g in self.groups for fp in g.alerts}
        old = [fp for fp, a in self.active.items() if fp not in held
               and a.ends_at is not None and a.ends_at < now - RESOLVED_KEEP]
        self.groups.cleanup(now)
        for fp in old:
            del self.active[fp]
        self.store.delete(old)
        if self.nflog.gc(now - RETENTION) + self.outbox.gc(now - RETENTION):
            self.db.reload_notified()  # else it grows with every group ever notified
        self.silences.gc(now - RETENTION)

    def status_of(self, alert: StoredAlert, inhibition: Inhibition, now: float) -> dict:
        """Alertmanager's alert status object."""
        silenced = self.silences.muted_by(alert.labels, now)
        by = inhibition.inhibited_by(alert.labels)
        inhibited = [by] if by else []
        state = "suppressed" if silenced or inhibited else "active"
        return {"state": state, "silencedBy": silenced, "inhibitedBy": inhibited, "mutedBy": []}

    def snapshot(self) -> StateReading:
        now = self.clock()
        firing = [a for a in self.active.values() if not a.resolved(now)]
        inhibition = Inhibition(self.rules, firing, now)
        counts = {"firing": len(firing), "resolved": len(self.active) - len(firing),
                  "silenced": sum(1 for a in firing if self.silences.muted_by(a.labels, now)),
                  "inhibited": sum(1 for a in firing if inhibition.inhibited_by(a.labels))}
        oldest = self.outbox.oldest_pending()
        return StateReading(self.outbox.depth(), max(0.0, now - oldest) if oldest else 0.0,
                        counts, len(self.groups))
