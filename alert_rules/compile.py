"""Rules → PromQL trees → Prometheus rule files and PrometheusRule manifests.

Threshold rules become one alerting rule. SLOs become one recording rule per burn window
(`inferwatch:slo_errors:ratio_rate<window>{slo=...}`) and a page and a ticket alert from the
multiwindow multi-burn-rate table, as Sloth generates them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from inferwatch import catalog
from inferwatch.alert_rules import promql
from inferwatch.alert_rules.links import Bases, rebase
from inferwatch.alert_rules.promql import Agg, Binary, Call, Node, Number, Recorded, Selector
from inferwatch.alert_rules.rulefile import LoadedGroup
from inferwatch.alert_rules.slo import burn_condition, recordings
from inferwatch.alert_rules.spec import RawRule, RecordRule, SLORule, ThresholdRule, parse_matcher
from inferwatch.core.durations import format_duration


@dataclass(frozen=True)
class CompiledAlert:
    """One alerting rule, ready for either source."""

    rule_id: str
    name: str
    expr: Node | None  # None for a raw PromQL rule
    raw: str | None
    data: Node | None  # empty result ⇒ no data; None ⇒ never "no data"
    for_: float
    keep_firing_for: float
    labels: tuple[tuple[str, str], ...]
    annotations: tuple[tuple[str, str], ...]
    no_data: str
    on_error: str
    group: str = ""

    def promql(self, inline: bool = False) -> str:
        return self.raw if self.expr is None else promql.render(self.expr, inline)


@dataclass(frozen=True)
class RecordingRule:
    """A Prometheus recording rule (from a plain rule file): its PromQL and labels."""

    name: str
    expr: str
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class CompiledGroup:
    name: str
    interval: float
    source: str
    recordings: tuple[Recorded, ...]
    alerts: tuple[CompiledAlert, ...]
    # a plain Prometheus group: its recording and alerting rules in file order (the embedded
    # source records each result into its window before the next rule runs); empty otherwise
    steps: tuple[RecordingRule | CompiledAlert, ...] = ()


def matchers(raw: dict[str, str]) -> tuple[promql.Matcher, ...]:
    return tuple(parse_matcher(label, text) for label, text in sorted(raw.items()))


def threshold_expr(rule: ThresholdRule) -> Node:
    """The rule's value, before the comparison."""
    spec = catalog.by_name()[rule.metric]
    if rule.function == "quantile":
        buckets = Selector(spec.name + "_bucket", matchers(rule.matchers), rule.window)
        summed = Agg("sum", (*rule.by, "le"), Call("rate", (buckets,)))
        return Call("histogram_quantile", (Number(rule.quantile), summed))
    inner: Node = Selector(spec.name, matchers(rule.matchers))
    if rule.function != "last":
        inner = Call(rule.function, (Selector(spec.name, matchers(rule.matchers), rule.window),))
    return Agg(rule.aggregate, rule.by, inner) if rule.aggregate else inner


def _alert(group: LoadedGroup, rule: ThresholdRule | RawRule) -> CompiledAlert:
    labels = {**group.labels, **rule.labels, "severity": rule.severity}
    base = threshold_expr(rule) if isinstance(rule, ThresholdRule) else None
    expr = Binary(rule.op, base, Number(rule.threshold)) if base is not None else None
    return CompiledAlert(
        rule_id=f"{group.name}/{rule.alert}", name=rule.alert, expr=expr,
        raw=rule.expr if isinstance(rule, RawRule) else None, data=base, for_=rule.for_,
        keep_firing_for=rule.keep_firing_for, labels=tuple(sorted(labels.items())),
        annotations=tuple(sorted(rule.annotations.items())), no_data=rule.no_data,
        on_error=rule.on_error, group=group.name)


def compile_slo(group: LoadedGroup, rule: SLORule) -> tuple[list[Recorded], list[CompiledAlert]]:
    """The SLO's recorded error ratios and its page and ticket burn-rate alerts."""
    records = recordings(rule)
    alerts = []
    for kind, burn in (("page", rule.page), ("ticket", rule.ticket)):
        if burn.disable:
            continue
        labels = {**group.labels, **rule.labels, "slo": rule.slo, "slo_alert": kind,
                  "severity": burn.severity}
        alerts.append(CompiledAlert(
            rule_id=f"{group.name}/{rule.slo}/{kind}", name=rule.alert,
            expr=burn_condition(rule, kind, records), raw=None, data=records[min(records)],
            for_=0.0, keep_firing_for=0.0, labels=tuple(sorted(labels.items())),
            annotations=tuple(sorted(rule.annotations.items())), no_data=rule.no_data,
            on_error=rule.on_error, group=group.name))
    return list(records.values()), alerts


def compile_group(group: LoadedGroup) -> CompiledGroup:
    recordings: list[Recorded] = []
    alerts: list[CompiledAlert] = []
    order: list[RecordingRule | int] = []  # recording rules and alert indexes, in file order
    for rule in group.rules:
        if isinstance(rule, RecordRule):
            order.append(RecordingRule(rule.record, rule.expr, tuple(sorted(rule.labels.items()))))
            continue
        before = len(alerts)
        if isinstance(rule, SLORule):
            records, burn_alerts = compile_slo(group, rule)
            recordings += records
            alerts += burn_alerts
        else:
            alerts.append(_alert(group, rule))
        order += range(before, len(alerts))
    seen: dict[str, int] = {}
    for i, alert in enumerate(alerts):  # two rules with one alert name: `g/Name#2`
        seen[alert.rule_id] = seen.get(alert.rule_id, 0) + 1
        if seen[alert.rule_id] > 1:
            alerts[i] = replace(alert, rule_id=f"{alert.rule_id}#{seen[alert.rule_id]}")
    records_too = any(isinstance(s, RecordingRule) for s in order)
    steps = [alerts[s] if isinstance(s, int) else s for s in order] if records_too else []
    return CompiledGroup(group.name, group.interval, group.source, tuple(recordings),
                         tuple(alerts), tuple(steps))


def alert_rule_dict(alert: CompiledAlert) -> dict[str, Any]:
    out: dict[str, Any] = {"alert": alert.name, "expr": alert.promql()}
    if alert.for_:
        out["for"] = format_duration(alert.for_)
    if alert.keep_firing_for:
        out["keep_firing_for"] = format_duration(alert.keep_firing_for)
    out["labels"] = dict(alert.labels)
    if alert.annotations:
        out["annotations"] = dict(alert.annotations)
    return out


def recording_rule_dict(rule: RecordingRule) -> dict[str, Any]:
    out: dict[str, Any] = {"record": rule.name, "expr": rule.expr}
    if rule.labels:
        out["labels"] = dict(rule.labels)
    return out


def group_dict(group: CompiledGroup) -> dict[str, Any]:
    """A Prometheus rule group: each SLO's recording rules ahead of the alerts that read them."""
    rules: list[dict[str, Any]] = [
        {"record": r.name, "expr": promql.render(r.expr), "labels": dict(r.labels)}
        for r in group.recordings]
    rules += [recording_rule_dict(s) if isinstance(s, RecordingRule) else alert_rule_dict(s)
              for s in group.steps or group.alerts]
    return {"name": group.name, "interval": format_duration(group.interval), "rules": rules}


def prometheus_rule(name: str, groups: list[dict[str, Any]]) -> dict[str, Any]:
    """The same groups wrapped in a prometheus-operator PrometheusRule resource."""
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": name, "labels": {
                "app.kubernetes.io/name": "inferwatch",
                "app.kubernetes.io/component": "alert-rules",
                "app.kubernetes.io/managed-by": "inferwatch"}},
            "spec": {"groups": groups}}


def dump(data: dict[str, Any]) -> str:
    header = "# Generated by `inferwatch rules compile`; edit the source rule file instead.\n"
    return header + yaml.safe_dump(data, sort_keys=False, width=100_000, allow_unicode=True)


def write_outputs(groups: list[LoadedGroup], out: Path, bases: Bases | None = None) -> list[Path]:
    """For each source file: STEM.rules.yml and STEM.prometheusrule.yaml in `out`, the link
    annotations on `bases` (alert_rules.links)."""
    out.mkdir(parents=True, exist_ok=True)
    by_source: dict[str, list[dict[str, Any]]] = {}
    for group in groups:
        compiled = rebase(compile_group(group), bases or Bases())
        by_source.setdefault(group.source, []).append(group_dict(compiled))
    written = []
    for source, dicts in by_source.items():
        stem = Path(source).name.removesuffix(".yaml").removesuffix(".yml")
        rules_path = out / f"{stem}.rules.yml"
        rules_path.write_text(dump({"groups": dicts}), encoding="utf-8")
        manifest = out / f"{stem}.prometheusrule.yaml"
        manifest.write_text(dump(prometheus_rule(f"inferwatch-{stem}", dicts)), "utf-8")
        written += [rules_path, manifest]
    return written
