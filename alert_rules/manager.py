"""The rule manager (the rules engine): each group evaluated on its interval against one source,
alerts sent to the sinks as Prometheus sends them, state saved after every cycle, every change
of an alert's state or a rule's health logged once (alert_rules.observe). The clock and the
sleep are passed in; `tick(now)` is one step and is what the tests drive."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from inferwatch.alert_rules import state as saved
from inferwatch.alert_rules.annotate import annotate
from inferwatch.alert_rules.compile import CompiledGroup, RecordingRule
from inferwatch.alert_rules.evaluate import INACTIVE, SYNTHETIC, RuleState, due, step
from inferwatch.alert_rules.observe import (
    Metrics,
    Snapshot,
    log_alert_changes,
    log_health_changes,
    snapshot,
)
from inferwatch.alert_rules.sender import Payload, payload
from inferwatch.alert_rules.sources import Source, SourceError, outcome

log = logging.getLogger(__name__)


class Sink(Protocol):
    async def send(self, alerts: list[Payload]) -> bool: ...


class Scraper(Protocol):
    async def scrape(self, now: float) -> None: ...


class RuleManager:
    def __init__(self, groups: list[CompiledGroup], source: Source, sinks: list[Sink],
                 resend_delay: float = 60.0, external_url: str = "http://localhost:9477",
                 state_file: Path | None = None, metrics: Metrics | None = None,
                 state_db: saved.PgState | None = None):
        self.groups, self.source, self.sinks = groups, source, sinks
        self.resend_delay, self.external_url = resend_delay, external_url
        self.state_file, self.state_db = state_file, state_db  # a file, or PostgreSQL
        self.states = {a.rule_id: RuleState(a) for g in groups for a in g.alerts}
        self.next_due = {g.name: 0.0 for g in groups}
        self.metrics = metrics
        self.source_name = str(getattr(source, "name", type(source).__name__))
        self.query_failures = 0  # rule evaluations that ended in an error
        self.last_cycle: dict[str, float] = {}
        self.record_errors: dict[str, str] = {}  # recording rule → its current error
        if metrics is not None:
            metrics.watch(self, [source, *sinks])

    def failure_counts(self) -> dict[tuple[str, str], int]:
        return {("query", self.source_name): self.query_failures}

    def restore(self) -> int:
        if self.state_db is not None:
            return self.state_db.restore(self.states)
        return saved.restore(self.state_file, self.states) if self.state_file else 0

    async def evaluate(self, group: CompiledGroup,
                       ts: float) -> list[tuple[str, Snapshot, RuleState]]:
        """Evaluate every rule of the group at ts; each rule's state before, and after."""
        started = time.perf_counter()
        changes = []
        for item in group.steps or group.alerts:
            if isinstance(item, RecordingRule):
                await self._record(group, item, ts)
                continue
            state = self.states[item.rule_id]
            before = snapshot(state)
            step(state, await outcome(self.source, item, ts), ts)
            await annotate(state, self.source, ts, self.external_url)
            self.query_failures += state.health == "error"
            changes.append((item.rule_id, before, state))
            write = getattr(self.source, "write_alerts", None)
            if write is not None and group.steps:
                write(state, ts)
        self.last_cycle[group.name] = ts
        if self.metrics is not None:
            self.metrics.cycle.labels(group.name).observe(time.perf_counter() - started)
        return changes

    async def _record(self, group: CompiledGroup, rule: RecordingRule, ts: float) -> None:
        """A plain Prometheus group's recording rule, on a source that records (embedded; a
        Prometheus source's server records its own rules). A failure is logged once per
        change of its error text."""
        record = getattr(self.source, "record", None)
        if record is None:
            return
        rule_id = f"{group.name}/{rule.name}"
        try:
            await record(rule, rule_id, ts)
        except SourceError as err:
            self.query_failures += 1
            if self.record_errors.get(rule_id) != str(err):
                log.warning("recording rule failed", extra={"rule": rule_id, "error": str(err)})
            self.record_errors[rule_id] = str(err)
            return
        if self.record_errors.pop(rule_id, None) is not None:
            log.info("recording rule works again", extra={"rule": rule_id})

    def errors(self) -> dict[str, list[str]]:
        """Rules whose last evaluation failed, by error text."""
        out: dict[str, list[str]] = {}
        for rule_id, st in sorted(self.states.items()):
            if st.health == "error":
                out.setdefault(st.last_error, []).append(rule_id)
        for rule_id, error in sorted(self.record_errors.items()):
            out.setdefault(error, []).append(rule_id)
        return out

    async def send(self, group: CompiledGroup, ts: float) -> list[Payload]:
        out = [payload(a, self.states[rule.rule_id].rule, self.external_url)
               for rule in group.alerts
               for a in due(self.states[rule.rule_id], ts, self.resend_delay, group.interval)]
        if out:
            await asyncio.gather(*(sink.send(out) for sink in self.sinks))
        return out

    async def tick(self, now: float) -> list[Payload]:
        """Evaluate and send every group that is due; save the state. What was sent."""
        sent: list[Payload] = []
        for group in self.groups:
            if now >= self.next_due[group.name]:
                self.next_due[group.name] = now + group.interval
                changes = await self.evaluate(group, now)
                for _rule_id, before, state in changes:
                    log_alert_changes(state, before)
                log_health_changes(changes)
                sent += await self.send(group, now)
        if self.state_file is not None:  # serialised here, written and synced off the loop
            await asyncio.to_thread(saved.write_atomic, self.state_file,
                                    saved.dump(self.states, now))
        if self.state_db is not None:
            await asyncio.to_thread(self.state_db.save, self.states, now)
        return sent

    async def run(self, scraper: Scraper | None, scrape_interval: float,
                  clock: Callable[[], float] = time.time,
                  sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                  stop: asyncio.Event | None = None) -> None:
        """Scrape (embedded source) and tick until `stop` is set."""
        next_scrape = -math.inf
        while stop is None or not stop.is_set():
            now = clock()
            if scraper is not None and now >= next_scrape:
                next_scrape = now + scrape_interval
                await scraper.scrape(now)
            await self.tick(now)
            wake = min([*self.next_due.values(), next_scrape if scraper else math.inf])
            await sleep(max(0.0, wake - clock()))

    def table(self) -> str:
        """Every rule's alerts (or its health when it has none), one line each; a rule that
        failed or has no data says so first, with the error, and the engine's own alerts
        about it carry their alert name."""
        rows = [("RULE", "STATE", "VALUE", "SINCE", "LABELS")]
        for rule_id, st in sorted(self.states.items()):
            if st.health in ("nodata", "error"):
                rows.append((rule_id, st.health, "", "", st.last_error))
            alerts = sorted(st.active.values(), key=lambda a: sorted(a.labels.items()))
            for a in alerts:
                since = a.resolved_at if a.state == INACTIVE else a.fired_at or a.active_at
                own = a.labels["alertname"] in SYNTHETIC
                labels = ",".join(f"{k}={v}" for k, v in sorted(a.labels.items())
                                  if own or k != "alertname")
                value = "" if own else f"{a.value:g}"
                rows.append((rule_id, a.state, value, _when(since), labels))
            if not alerts and st.health not in ("nodata", "error"):
                rows.append((rule_id, "inactive", "", "", ""))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)),
                                    r[4]]).rstrip() for r in rows)


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) if ts is not None else ""
