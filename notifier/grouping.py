"""Aggregation groups with Alertmanager's timing, as a pure structure driven by `now`.

A group flushes first after group_wait (at once if an alert is already older than that, and
not yet flushed), then on every group_interval tick. Resolved alerts that went out in a flush
are dropped unless they changed meanwhile. A group left empty lingers, its ticks still running,
until the dispatcher's next cleanup (every 30 s from the start, as Alertmanager's): an alert that
comes back before that waits for the group's next tick, not for a fresh group_wait.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from inferwatch.notifier.alerts import StoredAlert
from inferwatch.notifier.routing import Route, group_key, group_labels

CLEANUP_EVERY = 30.0  # Alertmanager's dispatcher cleanup ticker


@dataclass
class AggrGroup:
    key: str
    route: Route
    labels: dict[str, str]
    next_flush: float
    alerts: dict[str, StoredAlert] = field(default_factory=dict)
    has_flushed: bool = False
    emptied_at: float | None = None  # set while the group lingers empty


class Groups:
    """Every aggregation group, keyed by group key; len() and iteration see non-empty ones."""

    def __init__(self, started: float = 0.0) -> None:
        self._groups: dict[str, AggrGroup] = {}
        self._empty: dict[str, AggrGroup] = {}  # lingering until a cleanup tick
        self.started = started

    def __len__(self) -> int:
        return len(self._groups)

    def __iter__(self) -> Iterator[AggrGroup]:
        return iter(list(self._groups.values()))

    def insert(self, route: Route, alert: StoredAlert, now: float,
               later: float = 0.0) -> AggrGroup:
        """`later`: a group this makes flushes that much after its group_wait (the alert of
        another replica, which flushes it; this one looks once that one's lease would have
        run out)."""
        key = group_key(route, alert.labels)
        group = self._groups.get(key) or self._revive(key, now)
        if group is None:
            group = AggrGroup(key, route, group_labels(route, alert.labels),
                              now + route.group_wait + later)
            self._groups[key] = group
        group.alerts[alert.fingerprint] = alert
        if not group.has_flushed and alert.starts_at + route.group_wait < now:
            group.next_flush = min(group.next_flush, now + later)
        return group

    def _revive(self, key: str, now: float) -> AggrGroup | None:
        """A lingering group not yet cleaned up, back on its tick schedule; else None."""
        group = self._empty.pop(key, None)
        if group is None or self._cleaned(group, now):
            return None
        # its ticks ran on while it was empty (flushing nothing): the next one is due at
        # the first tick from now
        interval = group.route.group_interval
        if group.next_flush < now:
            group.next_flush += interval * math.ceil((now - group.next_flush) / interval)
        group.emptied_at = None
        self._groups[key] = group
        return group

    def _cleaned(self, group: AggrGroup, now: float) -> bool:
        """Whether a cleanup tick fell between the group emptying and now."""
        assert group.emptied_at is not None
        def ticks(t: float) -> int:
            return math.floor((t - self.started) / CLEANUP_EVERY)
        return ticks(now) > ticks(group.emptied_at)

    def due(self, now: float) -> list[AggrGroup]:
        return [g for g in self._groups.values() if g.next_flush <= now]

    def next_flush(self) -> float | None:
        return min((g.next_flush for g in self._groups.values()), default=None)

    def flushed(self, group: AggrGroup, now: float, sent: Iterable[StoredAlert]) -> None:
        """Schedule the next tick; drop resolved alerts that were sent and not updated since."""
        group.has_flushed = True
        group.next_flush = now + group.route.group_interval
        for alert in sent:
            if alert.resolved(now) and group.alerts.get(alert.fingerprint) is alert:
                del group.alerts[alert.fingerprint]
        if not group.alerts:
            group.emptied_at = now
            del self._groups[group.key]
            self._empty[group.key] = group

    def defer(self, group: AggrGroup, at: float) -> None:
        """Not flushed here now (another replica owns it, or owns its schedule): look again at
        `at`. Its alerts stay, ready for a takeover; a first flush is no longer pending."""
        group.has_flushed = True
        group.next_flush = at

    def cleanup(self, now: float) -> int:
        """Forget lingering groups that a cleanup tick has passed; how many."""
        gone = [k for k, g in self._empty.items() if self._cleaned(g, now)]
        for key in gone:
            del self._empty[key]
        return len(gone)
