"""SLOs: error-ratio recording rules per window and multiwindow multi-burn-rate conditions,
on the burn-rate table of inferwatch.slo (shared with the dashboards)."""

from __future__ import annotations

from prometheus_client.utils import floatToGoString

from inferwatch.alert_rules.promql import Agg, Binary, Call, Node, Number, Recorded, Selector
from inferwatch.alert_rules.spec import SLORule, parse_matcher
from inferwatch.core.durations import format_duration
from inferwatch.slo import TABLE, WINDOWS

RECORD = "inferwatch:slo_errors:ratio_rate{window}"


def _rate(metric: str, raw: dict[str, str], window: float, by: tuple[str, ...],
          extra: tuple[tuple[str, str, str], ...] = ()) -> Node:
    matchers = tuple(parse_matcher(k, v) for k, v in sorted(raw.items())) + extra
    return Agg("sum", by, Call("rate", (Selector(metric, matchers, window),)))


def _or_zero(part: Node, total: Node) -> Node:
    """`part or 0 * total`: no matching series yet (no error so far) reads as 0, not as nothing."""
    return Binary("or", part, Binary("*", Number(0), total))


def error_ratio(rule: SLORule, window: float) -> Node:
    """Bad events over all events in the window, per `by` group."""
    by = rule.by
    if rule.sli.latency is not None:
        sli = rule.sli.latency
        le = (("le", "=", floatToGoString(sli.threshold)),)
        total = _rate(sli.metric + "_count", sli.matchers, window, by)
        good = _rate(sli.metric + "_bucket", sli.matchers, window, by, le)
        return Binary("/", Binary("-", total, good), total)
    events = rule.sli.events
    total = _rate(events.total.metric, events.total.matchers, window, by)
    if events.bad is not None:
        bad = _rate(events.bad.metric, events.bad.matchers, window, by)
        return Binary("/", _or_zero(bad, total), total)
    good = _rate(events.good.metric, events.good.matchers, window, by)
    return Binary("/", Binary("-", total, _or_zero(good, total)), total)


def recordings(rule: SLORule) -> dict[float, Recorded]:
    """One recorded error ratio per window the table reads."""
    labels = (("slo", rule.slo),)
    return {w: Recorded(RECORD.format(window=_window_name(w)), labels, error_ratio(rule, w))
            for w in WINDOWS}


def _window_name(seconds: float) -> str:
    return format_duration(seconds)


def burn_condition(rule: SLORule, kind: str, records: dict[float, Recorded]) -> Node:
    """`(short > f·budget and long > f·budget) or (...)` over the table rows of one kind."""
    budget = 1 - rule.objective
    parts: list[Node] = []
    for burn in (b for b in TABLE if b.kind == kind):
        limit = Number(round(burn.factor(rule.period) * budget, 12))
        parts.append(Binary("and", Binary(">", records[burn.short], limit),
                            Binary(">", records[burn.long], limit)))
    condition = parts[0]
    for part in parts[1:]:
        condition = Binary("or", condition, part)
    return condition
