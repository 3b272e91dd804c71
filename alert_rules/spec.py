"""Rule files: the YAML shape (threshold rules, SLOs, raw PromQL) and their validation.

Shape errors come from pydantic; meaning errors (a metric the catalogue lacks, a label the
metric lacks, a ratio threshold outside 0..1, a latency threshold that is no bucket bound) from
`check_rule`. alert_rules.rulefile reports both as `FILE: group/rule: field: message`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from inferwatch import catalog
from inferwatch.alert_rules.templates import template_problems
from inferwatch.core.config import Duration, Strict
from inferwatch.core.regex import RegexError, anchored

NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
RECORD_NAME = r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"
TARGET_LABELS = ("job", "instance")  # added by every scrape (Prometheus's and the embedded one)
MATCH_OPS = ("=~", "!~", "!=", "=")
RANGE_FUNCTIONS = ("avg_over_time", "min_over_time", "max_over_time", "rate", "increase")
NoData = Literal["ok", "nodata", "alerting", "keep_last"]
OnError = Literal["error", "alerting", "ok", "keep_last"]
Labels = dict[Annotated[str, Field(pattern=NAME)], str]


def parse_matcher(label: str, text: str) -> tuple[str, str, str]:
    """`value`, `=~regex`, `!=value`, `!~regex` → (label, op, value)."""
    for op in MATCH_OPS:
        if text.startswith(op):
            return label, op, text[len(op):]
    return label, "=", text


class Selector(Strict):
    """A catalogue metric and label matchers (`{reason: "=~error|rejected"}`)."""

    metric: str
    matchers: dict[str, str] = {}


class AlertFields(Strict):
    """What every alerting rule carries."""

    for_: Duration = Field(0.0, alias="for")
    keep_firing_for: Duration = 0.0
    severity: Literal["critical", "warning", "info"] = "warning"
    labels: Labels = {}
    annotations: Labels = {}
    no_data: NoData = "ok"
    on_error: OnError = "error"


class ThresholdRule(AlertFields, Selector):
    """`FUNCTION(metric{matchers}[window])`, aggregated by labels, compared with a threshold."""

    alert: Annotated[str, Field(pattern=NAME)]
    function: Literal["last", "quantile", *RANGE_FUNCTIONS] = "last"
    window: Duration | None = None
    quantile: float | None = Field(None, gt=0, lt=1)
    aggregate: Literal["sum", "avg", "min", "max", "count"] | None = None
    by: tuple[str, ...] = ()
    op: Literal[">", ">=", "<", "<=", "==", "!="]
    threshold: float = Field(allow_inf_nan=False)  # a comparison with NaN never fires


class RawRule(AlertFields):
    """A raw PromQL expression: the Prometheus source and compiled files only."""

    alert: Annotated[str, Field(pattern=NAME)]
    expr: str


class RecordRule(Strict):
    """A recording rule: a PromQL expression saved as a new series on every evaluation
    (compiled as it is; on the embedded source recorded into the window before the group's
    next rule runs)."""

    record: Annotated[str, Field(pattern=RECORD_NAME)]
    expr: Annotated[str, Field(min_length=1)]
    labels: Labels = {}


class LatencySLI(Strict):
    """Good events: observations at or under `threshold` (a canonical bucket bound)."""

    metric: str
    threshold: float
    matchers: dict[str, str] = {}


class EventsSLI(Strict):
    """Good/total or bad/total events from counters; exactly one of good and bad."""

    total: Selector
    good: Selector | None = None
    bad: Selector | None = None


class SLI(Strict):
    latency: LatencySLI | None = None
    events: EventsSLI | None = None


class BurnAlert(Strict):
    severity: Literal["critical", "warning", "info"]
    disable: bool = False


class SLORule(Strict):
    """An objective over a period; alerts from the multiwindow multi-burn-rate table."""

    slo: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    alert: Annotated[str, Field(pattern=NAME)]
    objective: float
    period: Duration = 30 * 86400.0
    sli: SLI
    by: tuple[str, ...] = ()
    page: BurnAlert = BurnAlert(severity="critical")
    ticket: BurnAlert = BurnAlert(severity="warning")
    labels: Labels = {}
    annotations: Labels = {}
    no_data: NoData = "ok"
    on_error: OnError = "error"


Rule = ThresholdRule | RawRule | SLORule | RecordRule


class RuleGroup(Strict):
    name: Annotated[str, Field(min_length=1)]
    interval: Duration = 30.0
    labels: Labels = {}
    rules: list[Any]  # each checked by alert_rules.rulefile, named by group and rule

    @field_validator("interval")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("interval must be above 0")
        return value


class RuleFile(Strict):
    groups: list[Any]  # each validated on its own, so that its problems name it


def check_rule(rule: Rule) -> list[tuple[str, str]]:
    """(field, message) for every meaning error in a parsed rule."""
    if isinstance(rule, RecordRule):
        return []  # its PromQL: by promtool, and on the embedded source by its evaluator
    problems = _check_templates(rule)
    if isinstance(rule, ThresholdRule):
        problems += check_threshold(rule)
    elif isinstance(rule, SLORule):
        problems += check_slo(rule)
    return problems


def _check_templates(rule: Rule) -> list[tuple[str, str]]:
    fields = {f"annotations.{k}": v for k, v in rule.annotations.items()}
    fields.update({f"labels.{k}": v for k, v in rule.labels.items()})
    return [(field, msg) for field, text in fields.items() for msg in template_problems(text)]


def check_selector(metric: str, matchers: dict[str, str], field: str,
                   types: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """The metric is in the catalogue (of one of `types`), the matchers name its labels."""
    spec = catalog.by_name().get(metric)
    if spec is None:
        return [(f"{field}metric", f"{metric!r} is not in the metric catalogue")]
    problems = []
    if types and spec.type not in types:
        problems.append((f"{field}metric", f"{metric} is a {spec.type}; a "
                         f"{' or '.join(types)} is needed here"))
    for label, text in matchers.items():
        problems += _check_label(spec, label, f"{field}matchers.{label}")
        _l, op, value = parse_matcher(label, text)
        if op in ("=~", "!~") and not _valid_regex(value):
            problems.append((f"{field}matchers.{label}", f"{value!r} is not a valid regex"))
    return problems


def _check_label(spec: catalog.MetricSpec, label: str, field: str) -> list[tuple[str, str]]:
    if label in spec.labels or label in TARGET_LABELS:
        return []
    known = ", ".join(spec.labels + TARGET_LABELS)
    return [(field, f"{spec.name} has no label {label!r} (it has {known})")]


def _valid_regex(text: str) -> bool:
    """Whether RE2 (Prometheus's regex engine, which the embedded source uses too) takes it."""
    try:
        anchored(text)
    except RegexError:
        return False
    return True


def check_threshold(rule: ThresholdRule) -> list[tuple[str, str]]:
    """Function, window, aggregation and threshold fit the metric."""
    spec = catalog.by_name().get(rule.metric)
    problems = check_selector(rule.metric, rule.matchers, "")
    if spec is None:
        return problems
    problems += _check_function(rule, spec)
    for label in rule.by:
        problems += _check_label(spec, label, "by")
    if rule.by and rule.aggregate is None and rule.function != "quantile":
        problems.append(("aggregate", "`by` needs an aggregation (sum, avg, min, max, count)"))
    value_is_ratio = spec.unit == "ratio" and rule.function not in ("rate", "increase")
    if value_is_ratio and rule.aggregate not in ("sum", "count") and not 0 <= rule.threshold <= 1:
        problems.append(("threshold", f"{rule.metric} is a ratio: the threshold "
                         f"{rule.threshold} is outside 0..1"))
    if rule.function == "quantile":
        problems += check_bucket(spec, rule.threshold, "threshold")
    return problems


def _check_function(rule: ThresholdRule, spec: catalog.MetricSpec) -> list[tuple[str, str]]:
    problems = []
    if rule.function == "last" and rule.window is not None:
        problems.append(("window", "`last` reads the newest sample; choose a range function "
                         "to use a window"))
    if rule.function != "last" and not rule.window:
        problems.append(("window", f"{rule.function} needs a window (e.g. 5m)"))
    if (rule.function == "quantile") != (spec.type == catalog.HISTOGRAM):
        problems.append(("function", "quantile is for histograms, and a histogram needs "
                         f"quantile; {spec.name} is a {spec.type}"))
    if rule.function == "quantile" and rule.quantile is None:
        problems.append(("quantile", "quantile needs `quantile:` (e.g. 0.95)"))
    if rule.function in ("rate", "increase") and spec.type != catalog.COUNTER:
        problems.append(("function", f"{rule.function} is for counters; {spec.name} is a "
                         f"{spec.type}"))
    if rule.function == "quantile" and rule.aggregate not in (None, "sum"):
        problems.append(("aggregate", "a histogram quantile sums buckets: aggregate must be sum"))
    return problems


def check_bucket(spec: catalog.MetricSpec, threshold: float, field: str) -> list[tuple[str, str]]:
    """A latency threshold must be one of the metric's canonical bucket bounds."""
    if threshold in spec.buckets:
        return []
    bounds = ", ".join(f"{b:g}" for b in spec.buckets)
    return [(field, f"{threshold:g} is not a bucket bound of {spec.name} ({bounds})")]


def check_slo(rule: SLORule) -> list[tuple[str, str]]:
    """Objective in (0, 1), one SLI kind, metrics and labels from the catalogue."""
    problems = []
    if not 0 < rule.objective < 1:
        problems.append(("objective", f"{rule.objective} is outside 0..1 (write 0.999 for "
                         "99.9%)"))
    if rule.period < 3 * 86400:
        problems.append(("period", "the period must be at least 3d (the longest burn window)"))
    if (rule.sli.latency is None) == (rule.sli.events is None):
        return problems + [("sli", "give exactly one of latency and events")]
    if rule.sli.latency is not None:
        return problems + _check_latency(rule.sli.latency, rule.by)
    return problems + _check_events(rule.sli.events, rule.by)


def _check_latency(sli: LatencySLI, by: tuple[str, ...]) -> list[tuple[str, str]]:
    problems = check_selector(sli.metric, sli.matchers, "sli.latency.", (catalog.HISTOGRAM,))
    spec = catalog.by_name().get(sli.metric)
    if spec is None or spec.type != catalog.HISTOGRAM:
        return problems
    problems += check_bucket(spec, sli.threshold, "sli.latency.threshold")
    for label in by:
        problems += _check_label(spec, label, "by")
    return problems


def _check_events(sli: EventsSLI, by: tuple[str, ...]) -> list[tuple[str, str]]:
    if (sli.good is None) == (sli.bad is None):
        return [("sli.events", "give exactly one of good and bad")]
    part = "good" if sli.good is not None else "bad"
    problems = []
    for name, sel in (("total", sli.total), (part, sli.good or sli.bad)):
        field = f"sli.events.{name}."
        problems += check_selector(sel.metric, sel.matchers, field, (catalog.COUNTER,))
        spec = catalog.by_name().get(sel.metric)
        for label in by if spec else ():
            problems += _check_label(spec, label, "by")
    return list(dict.fromkeys(problems))
