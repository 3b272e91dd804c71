"""PromQL built from catalogue specs: selectors, rates, quantiles and ratios, never name literals.

Every query in the dashboards goes through `sel`, which takes a `MetricSpec` and adds the
dashboard's variable filters for the labels that metric actually carries. A label the spec does
not declare is refused at build time, so a renamed label breaks the build, not a panel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from inferwatch.catalog import HISTOGRAM, MetricSpec

# Labels Prometheus adds from the scrape target (relabelling), not the exporter: every series has
# them. The deploy manifests and the proof test's scrape config set both.
TARGET_LABELS: tuple[str, ...] = ("cluster", "node")
# Labels engine series carry when the target was found through Kubernetes discovery.
KUBERNETES_LABELS: tuple[str, ...] = ("namespace", "pod")
# Labels every engine series carries beside its spec's (exporter publish.Identity): the
# target's part in a disaggregated deployment (prefill, decode, both).
ENGINE_LABELS: tuple[str, ...] = ("role",)
# What an engine says of the model it serves (inferwatch_engine_model_info's labels) that the
# dashboards group and filter by.
FACTS: tuple[str, ...] = ("dtype", "quantization", "tensor_parallel_size")
# Label -> dashboard variable that filters it, in the order the filters are written.
FILTERS: tuple[str, ...] = ("cluster", "node", "namespace", "engine", "model", "role", "target",
                            *FACTS)

RATE = "$__rate_interval"


@dataclass(frozen=True)
class Query:
    """One panel query: a PromQL expression and how Grafana should run and name it."""

    expr: str
    legend: str = ""
    instant: bool = False


def allowed_labels(spec: MetricSpec) -> tuple[str, ...]:
    """Every label a selector on this spec may match."""
    extra = KUBERNETES_LABELS + ENGINE_LABELS if "engine" in spec.labels else ()
    hist = ("le",) if spec.type == HISTOGRAM else ()
    return TARGET_LABELS + spec.labels + extra + hist


def _matcher(label: str, op: str, value: str, spec: MetricSpec) -> str:
    if label not in allowed_labels(spec):
        raise ValueError(f"{spec.name} has no label {label!r}")
    return f'{label}{op}"{value}"'


def sel(spec: MetricSpec, series: str = "", eq: Mapping[str, str] | None = None,
        regex: Mapping[str, str] | None = None, filters: Sequence[str] = FILTERS,
        ne: Mapping[str, str] | None = None) -> str:
    """`name{...}` for one of the spec's series, with variable filters on the labels it has."""
    name = spec.name + series
    if name not in spec.series_names:
        raise ValueError(f"{name} is not a series of {spec.name}")
    allowed = allowed_labels(spec)
    parts = [f'{label}=~"${label}"' for label in filters if label in allowed]
    parts += [_matcher(k, "=", v, spec) for k, v in (eq or {}).items()]
    parts += [_matcher(k, "=~", v, spec) for k, v in (regex or {}).items()]
    parts += [_matcher(k, "!=", v, spec) for k, v in (ne or {}).items()]
    return f"{name}{{{', '.join(parts)}}}" if parts else name


def agg(op: str, inner: str, by: Sequence[str] = ()) -> str:
    """`op by (labels) (inner)`, or `op(inner)` without grouping."""
    return f"{op} by ({', '.join(by)}) ({inner})" if by else f"{op}({inner})"


def rate(spec: MetricSpec, series: str = "", window: str = RATE, fn: str = "rate",
         **match: Mapping[str, str]) -> str:
    """`rate(selector[window])` (or `increase`, with fn)."""
    return f"{fn}({sel(spec, series, **match)}[{window}])"


def sum_rate(spec: MetricSpec, by: Sequence[str] = (), series: str = "", window: str = RATE,
             fn: str = "rate", **match: Mapping[str, str]) -> str:
    """`sum by (...) (rate(...))`: a per-second rate of a counter (or increase), aggregated."""
    return agg("sum", rate(spec, series, window, fn, **match), by)


def ratio(numerator: str, denominator: str) -> str:
    """numerator / denominator, dropping points where the denominator is zero (no NaN series)."""
    return f"({numerator}) / ({denominator} > 0)"


def quantile(q: float, spec: MetricSpec, by: Sequence[str] = (), window: str = RATE) -> str:
    """`histogram_quantile` over the spec's buckets, aggregated across targets first."""
    inner = sum_rate(spec, ("le", *by), "_bucket", window)
    return f"histogram_quantile({q}, {inner})"


def mean(spec: MetricSpec, by: Sequence[str] = (), window: str = RATE) -> str:
    """Mean of a histogram: sum(rate(_sum)) / sum(rate(_count)), never a mean of ratios."""
    return ratio(sum_rate(spec, by, "_sum", window), sum_rate(spec, by, "_count", window))


def or_zero(expr: str) -> str:
    """`expr or vector(0)`: a count that is zero, not absent, when nothing matches."""
    return f"({expr}) or vector(0)"


def count_where(spec: MetricSpec, condition: str) -> str:
    """How many of the spec's series meet `condition` (e.g. `== 0`): 0, not absent, for none."""
    return or_zero(agg("count", f"{sel(spec)} {condition}"))


def label_values(spec: MetricSpec, label: str, filters: Sequence[str] = ()) -> str:
    """A Grafana variable query listing the values of one label of a spec."""
    if label not in allowed_labels(spec):
        raise ValueError(f"{spec.name} has no label {label!r}")
    return f"label_values({sel(spec, filters=filters)}, {label})"


def bucket_bound(value: float) -> str:
    """An `le` value as the exporter writes it (Python/Go float text: 1 -> "1.0")."""
    return repr(float(value))
