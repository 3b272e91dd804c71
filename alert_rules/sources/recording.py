"""What a rule group writes back into the window, as Prometheus's rule manager appends it to
its TSDB: a recording rule's samples (the record name and the rule's labels set, a label with
an empty value removed), and each alerting rule's `ALERTS` and `ALERTS_FOR_STATE` series
for its pending and firing alerts. Each rule writes as its own target, so that a series it
no longer returns gets a stale marker, as Prometheus marks it."""

from __future__ import annotations

import math

from inferwatch.alert_rules.compile import RecordingRule
from inferwatch.alert_rules.evaluate import INACTIVE, RuleState
from inferwatch.alert_rules.sources.promql_eval import EvalError

Sample = tuple[dict[str, str], float]


def record_samples(rule: RecordingRule, vector: list[Sample]) -> list[Sample]:
    out, seen = [], set()
    for labels, value in vector:
        new = dict(labels)
        new["__name__"] = rule.name
        for name, text in rule.labels:
            if text:
                new[name] = text
            else:
                new.pop(name, None)
        key = tuple(sorted(new.items()))
        if key in seen:
            raise EvalError("vector contains metrics with the same labelset after applying "
                            "rule labels")
        seen.add(key)
        out.append((new, value))
    return out


def alert_series(state: RuleState) -> list[Sample]:
    """ALERTS{alertstate} 1 and ALERTS_FOR_STATE (the active-since Unix second) per
    pending or firing alert."""
    out: list[Sample] = []
    # as rules/alerting.go's sample(): the rule's own labels first, as written (a label
    # whose template expanded to nothing keeps its template text there), the alert's over them
    rule = dict(state.rule.labels)
    for alert in state.active.values():
        if alert.state == INACTIVE:
            continue
        labels = {**rule, **alert.labels}
        out.append(({**labels, "__name__": "ALERTS", "alertstate": alert.state}, 1.0))
        out.append(({**labels, "__name__": "ALERTS_FOR_STATE"},
                    float(math.floor(alert.active_at))))
    return out
