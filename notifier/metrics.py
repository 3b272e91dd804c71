"""The notifier's own metrics, in a registry of its own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

PREFIX = "inferwatch_notifier_"
# what a storage access was doing: alerts received, notifications queued, marks, collection,
# and the reads that decide and deliver
# (PostgreSQL: silences written, and the claim loop's leases, claims and marks)
STORAGE_OPS = ("alerts", "enqueue", "mark_delivered", "mark_retry", "mark_failed", "gc", "read",
               "silences", "claim")


@dataclass(frozen=True)
class StateReading:
    """Point-in-time values read at scrape time."""

    outbox_pending: int
    oldest_pending_age: float
    alerts: dict[str, int]  # by state: firing, resolved, silenced, inhibited
    groups: int


class _StateCollector(Collector):
    def __init__(self, read: Callable[[], StateReading]):
        self._read = read

    def collect(self) -> Iterator[Metric]:
        snap = self._read()
        yield GaugeMetricFamily(PREFIX + "outbox_pending", "Notifications recorded and not yet "
                                "delivered, failed or superseded.", value=snap.outbox_pending)
        yield GaugeMetricFamily(PREFIX + "outbox_oldest_pending_age_seconds", "Age of the "
                                "oldest pending notification (0 when none).",
                                value=snap.oldest_pending_age)
        alerts = GaugeMetricFamily(PREFIX + "alerts", "Alerts held, by state (silenced and "
                                   "inhibited count firing alerts muted now).", labels=["state"])
        for state, n in sorted(snap.alerts.items()):
            alerts.add_metric([state], n)
        yield alerts
        yield GaugeMetricFamily(PREFIX + "aggregation_groups", "Live aggregation groups.",
                                value=snap.groups)


class Metrics:
    def __init__(self, read: Callable[[], StateReading]):
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.sent = Counter(PREFIX + "notifications", "Notifications delivered.",
                            ["receiver", "channel"], registry=r)
        self.failed = Counter(PREFIX + "notification_attempts_failed",
                              "Delivery attempts that failed.", ["receiver", "channel"],
                              registry=r)
        self.dropped = Counter(PREFIX + "notifications_failed", "Notifications given up on: "
                               "an unrecoverable error or the retry deadline passed.",
                               ["receiver", "channel"], registry=r)
        self.latency = Histogram(PREFIX + "notification_latency_seconds", "From the group flush "
                                 "that queued a notification to its delivery.",
                                 ["receiver", "channel"], registry=r,
                                 buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
        self.received = Counter(PREFIX + "alerts_received", "Alerts received, by source.",
                                ["source"], registry=r)
        self.invalid = Counter(PREFIX + "alerts_invalid", "Request bodies rejected as "
                               "malformed, by endpoint.", ["endpoint"], registry=r)
        self.silenced = Counter(PREFIX + "alerts_silenced", "Alerts left out of a group flush "
                                "because a silence matched them.", registry=r)
        self.inhibited = Counter(PREFIX + "alerts_inhibited", "Alerts left out of a group flush "
                                 "because an inhibition rule muted them.", registry=r)
        self.storage_errors = Counter(PREFIX + "storage_errors", "Storage accesses that failed "
                                      "(disk full, read-only, I/O), by operation; each is "
                                      "retried with backoff.", ["op"], registry=r)
        # several replicas on PostgreSQL
        self.leases_held = Gauge(PREFIX + "leases_held", "Groups whose flushes this replica "
                                 "owns (their leases held).", registry=r)
        self.takeovers = Counter(PREFIX + "lease_takeovers", "Group leases and notification "
                                 "claims taken over from another replica after they expired.",
                                 ["kind"], registry=r)
        self.claim_latency = Histogram(PREFIX + "claim_latency_seconds", "Time to acquire "
                                       "group leases or claim outbox rows, per statement.",
                                       ["kind"], registry=r,
                                       buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                0.25, 0.5, 1, 2.5))
        self.database_up = Gauge(PREFIX + "database_up", "1 when the last access to the "
                                 "shared database succeeded (always 1 on SQLite).", registry=r)
        self.database_up.set(1)
        for kind in ("group", "notification"):
            self.takeovers.labels(kind)
        for op in STORAGE_OPS:
            self.storage_errors.labels(op)
        r.register(_StateCollector(read))
