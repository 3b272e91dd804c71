"""Aggregation groups with Alertmanager's timing, as a pure structure driven by `now`.

A group flushes first after group_wait (at once if an alert is already older than that, and
not yet flushed), then every group_interval. Resolved alerts that went out in a flush are
dropped unless they changed meanwhile; an empty group disappears.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from inferwatch.notifier.alerts import StoredAlert
from inferwatch.notifier.routing import Route, group_key, group_labels


@dataclass
class AggrGroup:
    key: str
    route: Route
    labels: dict[str, str]
    next_flush: float
    alerts: dict[str, StoredAlert] = field(default_factory=dict)
    has_flushed: bool = False


class Groups:
    """Every live aggregation group, keyed by group key."""

    def __init__(self) -> None:
        self._groups: dict[str, AggrGroup] = {}

    def __len__(self) -> int:
        return len(self._groups)

    def __iter__(self) -> Iterator[AggrGroup]:
        return iter(list(self._groups.values()))

    def insert(self, route: Route, alert: StoredAlert, now: float) -> AggrGroup:
        key = group_key(route, alert.labels)
        group = self._groups.get(key)
        if group is None:
            group = AggrGroup(key, route, group_labels(route, alert.labels), now + route.group_wait)
            self._groups[key] = group
        group.alerts[alert.fingerprint] = alert
        if not group.has_flushed and alert.starts_at + route.group_wait < now:
            group.next_flush = min(group.next_flush, now)
        return group

    def due(self, now: float) -> list[AggrGroup]:
        return [g for g in self._groups.values() if g.next_flush <= now]

    def next_flush(self) -> float | None:
        return min((g.next_flush for g in self._groups.values()), default=None)

    def flushed(self, group: AggrGroup, now: float, sent: Iterable[StoredAlert]) -> None:
        """Schedule the next flush; drop resolved alerts that were sent and not updated since."""
        group.has_flushed = True
        group.next_flush = now + group.route.group_interval
        for alert in sent:
            if alert.resolved(now) and group.alerts.get(alert.fingerprint) is alert:
                del group.alerts[alert.fingerprint]
        if not group.alerts:
            del self._groups[group.key]
