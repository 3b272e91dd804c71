"""Annotations that query: after a rule's evaluation, the templates that call `query` are
rendered again with the queries answered by the rule's own source at the evaluation time, as
Prometheus expands them (rules/alerting.go) for every alert in the result."""

from __future__ import annotations

from typing import Any

from inferwatch.alert_rules.evaluate import INACTIVE, SYNTHETIC, Alert, RuleState
from inferwatch.alert_rules.sources import Source
from inferwatch.alert_rules.templates import QueryFn, expand_async, render


def queries(state: RuleState) -> bool:
    return any("query" in text for _, text in state.rule.annotations)


def _returned(state: RuleState) -> list[Alert]:
    """The alerts of the rule's last evaluation result (not kept firing, not the engine's)."""
    return [a for a in state.active.values() if a.state != INACTIVE
            and a.keep_firing_since is None and a.labels.get("alertname") not in SYNTHETIC]


def annotate_sync(state: RuleState, query: QueryFn) -> None:
    """`annotate` for a synchronous evaluator (`rules test`, as promtool runs queries)."""
    if queries(state):
        for alert in _returned(state):
            for key, text in state.rule.annotations:
                if "query" in text:
                    alert.annotations[key] = render(text, alert.sample_labels, alert.value,
                                                    query, name=state.rule.name)


async def annotate(state: RuleState, source: Source, ts: float, external_url: str = "") -> int:
    """Re-render the querying annotations of the alerts the evaluation returned; how many
    distinct queries ran (one answer per query text and evaluation)."""
    if not queries(state):
        return 0
    cache: dict[str, Any] = {}

    async def run(text: str) -> list[tuple[dict[str, str], float]]:
        return await source.instant(text, ts)

    for alert in _returned(state):
        for key, text in state.rule.annotations:
            if "query" in text:
                alert.annotations[key] = await expand_async(
                    text, alert.sample_labels, alert.value, run, cache,
                    name=state.rule.name, external_url=external_url)
    return len(cache)
