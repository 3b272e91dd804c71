"""The alert state machine: Prometheus's (rules/alerting.go), with Grafana's no-data and error
handling on top. Pure: every function takes the evaluation time; nothing here reads a clock.

Per label set: inactive → pending → firing (after `for`), firing → inactive when the series is
gone for `keep_firing_for`; resolved alerts are kept 15 minutes so that their resolve is resent.
When the query returns no data or fails, the rule's `no_data`/`on_error` policy decides: `ok`
(treat as an empty result), `keep_last` (change nothing), `alerting` (the active alerts stay
active; with none, one alert with the rule's labels), or `nodata`/`error` (keep the alerts as they
are and raise a separate InferwatchRuleNoData/InferwatchRuleQueryFailed alert for the rule).

Those two are the engine's own alerts, never the rule's: their labels are `alertname`, `rule`,
`group` and their own `severity` (warning), so a datasource outage can never route or page
as, say, a critical GPU loss; the error text is in the `error` annotation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from inferwatch.alert_rules.compile import CompiledAlert
from inferwatch.alert_rules.templates import render

PENDING, FIRING, INACTIVE = "pending", "firing", "inactive"
RESOLVED_RETENTION = 15 * 60.0
NO_DATA_ALERT, ERROR_ALERT = "InferwatchRuleNoData", "InferwatchRuleQueryFailed"
SYNTHETIC = (NO_DATA_ALERT, ERROR_ALERT)
SYNTHETIC_SEVERITY = "warning"
IDENTITY_LABELS = ("slo", "slo_alert")  # kept from the rule: which of an SLO's alerts
Key = tuple[tuple[str, str], ...]
Sample = tuple[dict[str, str], float]


@dataclass
class Alert:
    """One label set of one rule."""

    labels: dict[str, str]
    sample_labels: dict[str, str]
    state: str
    value: float
    annotations: dict[str, str]
    active_at: float
    fired_at: float | None = None
    resolved_at: float | None = None
    keep_firing_since: float | None = None
    last_sent_at: float | None = None
    valid_until: float | None = None


@dataclass(frozen=True)
class Outcome:
    """What a source answered for one rule: samples, plus whether any data was there."""

    samples: tuple[Sample, ...] = ()
    has_data: bool = True
    error: str | None = None


@dataclass
class RuleState:
    rule: CompiledAlert
    active: dict[Key, Alert] = field(default_factory=dict)
    health: str = "unknown"  # ok, nodata, error
    last_error: str = ""
    last_evaluation: float | None = None


def key_of(labels: dict[str, str]) -> Key:
    return tuple(sorted(labels.items()))


def alert_labels(rule: CompiledAlert, sample: dict[str, str], value: float,
                 name: str | None = None) -> dict[str, str]:
    """Sample labels without __name__, the rule's (templated) labels over them, alertname."""
    labels = {k: v for k, v in sample.items() if k != "__name__"}
    for k, v in rule.labels:
        text = render(v, sample, value)
        if text:
            labels[k] = text
        else:  # as Prometheus's labels.Builder: a label set to "" is removed
            labels.pop(k, None)
    labels["alertname"] = name or rule.name
    return labels


def step(state: RuleState, outcome: Outcome, ts: float) -> None:
    """Advance the rule's alerts to evaluation time `ts`."""
    state.last_evaluation = ts
    if outcome.error is not None:
        state.health, state.last_error = "error", outcome.error
        _on_trouble(state, state.rule.on_error, ERROR_ALERT, outcome.error, ts)
        return
    if not outcome.samples and not outcome.has_data:
        state.health, state.last_error = "nodata", ""
        _on_trouble(state, state.rule.no_data, NO_DATA_ALERT, "", ts)
        return
    state.health, state.last_error = "ok", ""
    try:
        apply(state, _build(state.rule, outcome.samples), ts)
    except ValueError as err:  # two samples with one label set: the whole evaluation fails
        step(state, Outcome(error=str(err)), ts)


def _on_trouble(state: RuleState, policy: str, name: str, message: str, ts: float) -> None:
    rule = state.rule
    if policy in ("ok", "alerting"):
        samples: list[Sample] = [] if policy == "ok" else [
            (a.sample_labels, a.value) for a in state.active.values()
            if a.state != INACTIVE and a.labels["alertname"] == rule.name] or [({}, math.nan)]
        apply(state, _build(rule, samples), ts)
    elif policy in ("nodata", "error"):
        labels = synthetic_labels(rule, name)
        notes = synthetic_annotations(rule, message)
        synthetic = {k for k, a in state.active.items() if a.labels["alertname"] in SYNTHETIC}
        seen = {key_of(labels): (labels, {}, math.nan, notes)}
        apply(state, seen, ts, scope=synthetic)


def synthetic_labels(rule: CompiledAlert, name: str) -> dict[str, str]:
    """The engine's own alert about a rule: the rule named, none of its routing labels."""
    labels = {"alertname": name, "rule": rule.name, "group": rule.group,
              "severity": SYNTHETIC_SEVERITY}
    labels.update((k, v) for k, v in rule.labels if k in IDENTITY_LABELS)
    return {k: v for k, v in labels.items() if v}  # as Prometheus, no empty label


def synthetic_annotations(rule: CompiledAlert, error: str) -> dict[str, str]:
    what = "could not be evaluated" if error else "returned no data"
    notes = {"summary": f"rule {rule.name} ({rule.rule_id}) {what}",
             "description": f"The query of alert rule {rule.name} in group {rule.group} "
                            + (f"failed: {error}" if error else "returned no data at all: "
                               "its metrics are missing"),
             "rule_id": rule.rule_id}
    if error:
        notes["error"] = error
    return notes


Seen = dict[Key, tuple[dict[str, str], dict[str, str], float, dict[str, str] | None]]


def _build(rule: CompiledAlert, samples: tuple[Sample, ...] | list[Sample]) -> Seen:
    built: Seen = {}
    for sample, value in samples:
        labels = alert_labels(rule, sample, value)
        key = key_of(labels)
        if key in built:
            raise ValueError(f"vector contains metrics with the same labelset after applying "
                             f"alert labels: {dict(key)}")
        built[key] = (labels, sample, value, None)
    return built


def apply(state: RuleState, seen: Seen, ts: float, scope: set[Key] | None = None) -> None:
    """Prometheus's AlertingRule.Eval after the query; `scope` limits which absent alerts may
    resolve (None: all of them)."""
    rule = state.rule
    for key, (labels, sample, value, notes) in seen.items():
        annotations = notes or {k: render(v, sample, value) for k, v in rule.annotations}
        alert = state.active.get(key)
        if alert is not None and alert.state != INACTIVE:
            alert.value, alert.annotations, alert.sample_labels = value, annotations, sample
            continue
        state.active[key] = Alert(labels, sample, PENDING, value, annotations, active_at=ts)
    for key, alert in list(state.active.items()):
        if key not in seen:
            if scope is None or key in scope:
                _absent(state, key, alert, ts)
            continue
        alert.keep_firing_since = None
        if alert.state == PENDING and ts - alert.active_at >= rule.for_:
            alert.state, alert.fired_at = FIRING, ts


def _absent(state: RuleState, key: Key, alert: Alert, ts: float) -> None:
    keep = state.rule.keep_firing_for
    if alert.state == FIRING and keep > 0:
        if alert.keep_firing_since is None:
            alert.keep_firing_since = ts
        if ts - alert.keep_firing_since < keep:
            return
    retention_over = alert.resolved_at is not None and ts - alert.resolved_at > RESOLVED_RETENTION
    if alert.state == PENDING or retention_over:
        del state.active[key]
    if alert.state != INACTIVE:
        alert.state, alert.resolved_at, alert.keep_firing_since = INACTIVE, ts, None


def needs_sending(alert: Alert, ts: float, resend_delay: float) -> bool:
    """Prometheus's Alert.needsSending."""
    if alert.state == PENDING:
        return False
    if alert.resolved_at is not None and (alert.last_sent_at is None
                                          or alert.resolved_at > alert.last_sent_at):
        return True
    return alert.last_sent_at is None or alert.last_sent_at + resend_delay < ts


def due(state: RuleState, ts: float, resend_delay: float, interval: float) -> list[Alert]:
    """The alerts to send now, marked as sent (`valid_until` allows two missed sends)."""
    out = []
    for alert in state.active.values():
        if needs_sending(alert, ts, resend_delay):
            alert.last_sent_at = ts
            alert.valid_until = ts + 4 * max(interval, resend_delay)
            out.append(alert)
    return out
