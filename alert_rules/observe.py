"""What the rules engine says about itself: a log line per change (an alert's state, a rule's
health, grouped by error text so that one outage is one line) and the `inferwatch_rules_*`
metrics that `rules run` serves on its own /metrics.

Counters live as plain numbers on the parts that count them (the manager, the embedded
source, the Alertmanager sinks) and are read at scrape time; only the cycle duration is a
prometheus_client histogram.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from inferwatch.alert_rules.evaluate import INACTIVE, RuleState

if TYPE_CHECKING:
    from inferwatch.alert_rules.manager import RuleManager

log = logging.getLogger(__name__)
PREFIX = "inferwatch_rules_"
STATES = ("pending", "firing", "inactive")
HEALTHS = ("unknown", "ok", "nodata", "error")
Snapshot = tuple[dict[tuple[str, ...], str], str, str]  # alert states, health, last error


def snapshot(state: RuleState) -> Snapshot:
    return ({tuple(f"{k}={v}" for k, v in key): a.state for key, a in state.active.items()},
            state.health, state.last_error)


def log_alert_changes(state: RuleState, before: Snapshot) -> None:
    """One line per alert whose state changed since `before` (an alert dropped while
    pending reads as inactive)."""
    old, _health, _error = before
    new, _, _ = snapshot(state)
    for key in sorted(old.keys() | new.keys()):
        was, now = old.get(key, INACTIVE), new.get(key, INACTIVE)
        if was != now:
            labels = dict(item.split("=", 1) for item in key)
            log.info("alert %s", now, extra={
                "rule": state.rule.rule_id, "alertname": labels.get("alertname", ""),
                "labels": ",".join(k for k in key if not k.startswith("alertname=")),
                "previous": was})


def log_health_changes(changes: Iterable[tuple[str, Snapshot, RuleState]]) -> None:
    """Rules whose health or error text changed, one line per new error text (an outage of
    the source fails every rule with one message), per recovery, per loss of data."""
    failed: dict[str, list[str]] = {}
    recovered: list[str] = []
    nodata: list[str] = []
    for rule_id, (_alerts, health, error), state in changes:
        if state.health == "error" and (health != "error" or error != state.last_error):
            failed.setdefault(state.last_error, []).append(rule_id)
        elif health == "error" and state.health != "error":
            recovered.append(rule_id)
        if state.health == "nodata" and health != "nodata":
            nodata.append(rule_id)
    for error, rules in failed.items():
        log.warning("rule evaluation failed", extra={"error": error, "count": len(rules),
                                                     "rules": _names(rules)})
    if recovered:
        log.info("rule evaluation works again", extra={"count": len(recovered),
                                                      "rules": _names(recovered)})
    if nodata:
        log.info("rule returned no data", extra={"count": len(nodata), "rules": _names(nodata)})


def _names(rules: list[str], most: int = 10) -> str:
    more = f" and {len(rules) - most} more" if len(rules) > most else ""
    return ",".join(rules[:most]) + more


class _Collector(Collector):
    def __init__(self, manager: RuleManager, parts: list[object]):
        self.manager, self.parts = manager, parts

    def collect(self) -> Iterator[Metric]:
        states = {s: 0 for s in STATES}
        healths = {h: 0 for h in HEALTHS}
        for st in self.manager.states.values():
            healths[st.health] = healths.get(st.health, 0) + 1
            for alert in st.active.values():
                states[alert.state] += 1
        alerts = GaugeMetricFamily(PREFIX + "alerts", "Alerts held by the rules engine, by "
                                   "state (inactive: resolved, kept to resend the resolve).",
                                   labels=["state"])
        for state, n in states.items():
            alerts.add_metric([state], n)
        yield alerts
        rules = GaugeMetricFamily(PREFIX + "rules", "Alerting rules by the health of their "
                                  "last evaluation.", labels=["health"])
        for health, n in healths.items():
            rules.add_metric([health], n)
        yield rules
        failures = CounterMetricFamily(PREFIX + "source_failures", "Failed queries (kind "
                                       "query) and scrapes (kind scrape, embedded source) and "
                                       "failed sends to an Alertmanager (kind alertmanager).",
                                       labels=["kind", "source"])
        counts: dict[tuple[str, str], int] = dict(self.manager.failure_counts())
        for part in self.parts:
            counted = getattr(part, "failure_counts", None)
            if counted is not None:
                counts.update(counted())
        for (kind, source), n in sorted(counts.items()):
            failures.add_metric([kind, source], n)
        yield failures
        last = GaugeMetricFamily(PREFIX + "last_cycle_timestamp_seconds", "When each group "
                                 "was last evaluated (Unix time).", labels=["group"])
        for group, ts in sorted(self.manager.last_cycle.items()):
            last.add_metric([group], ts)
        yield last
        window = getattr(self.manager.source, "window", None)
        if window is not None:
            yield GaugeMetricFamily(PREFIX + "window_series", "Series in the embedded "
                                    "source's window.", value=window.series_count())


class Metrics:
    """The engine's registry: the cycle histogram, and a collector over the manager, its
    source and its sinks (each part with a `failure_counts()`, {(kind, source): count},
    adds to inferwatch_rules_source_failures_total)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.cycle = Histogram(PREFIX + "cycle_duration_seconds", "Time to evaluate one "
                               "rule group (every rule's queries and state).", ["group"],
                               buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1,
                                        2.5, 5, 10, 30), registry=self.registry)

    def watch(self, manager: RuleManager, parts: list[object]) -> None:
        self.registry.register(_Collector(manager, parts))
