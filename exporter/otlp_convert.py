"""Prometheus families as OpenTelemetry metric data, under their Prometheus names
(`--otlp.naming prometheus`, and every family the semantic-convention table does not map).

Mapping (Prometheus → OTLP):
- counter → Sum, cumulative, monotonic; start time the exporter's process start.
- gauge (and untyped) → Gauge.
- histogram → Histogram, cumulative, explicit bounds from the finite `le` values and the
  per-bucket counts un-accumulated from the `_bucket` series (the last one is +Inf).
- units (UCUM, as OTel writes them) from the catalogue spec: seconds → s, bytes → By,
  ratio → 1, celsius → Cel, watts → W, joules → J, hertz → Hz; a family without a declared
  unit gets the unit its name's suffix states (prometheus_client's process_*), `{token}` when
  its name ends in `_tokens`, `{request}` when it counts `_requests`.
- names are the Prometheus family names, without the `_total` a counter's sample carries:
  what the OpenTelemetry Collector's prometheus receiver produces for the same scrape, so
  dashboards and rules written against the scrape names work on the pushed data unchanged.
- labels become data point attributes under the same names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
    Sum,
)
from prometheus_client.core import Metric as ClientFamily

UNITS = {"seconds": "s", "bytes": "By", "ratio": "1", "celsius": "Cel", "watts": "W",
         "joules": "J", "hertz": "Hz"}
CUMULATIVE = AggregationTemporality.CUMULATIVE


def otel_unit(family: ClientFamily) -> str:
    """The UCUM unit of a family: its declared unit, else the unit its name ends with, else
    the UCUM annotation of what it counts (tokens, requests)."""
    unit = family.unit or next((u for u in UNITS if family.name.endswith("_" + u)), "")
    if not unit and family.name.endswith("_tokens"):
        return "{token}"
    if not unit and "_requests" in family.name:
        return "{request}"
    return UNITS.get(unit, unit)


def numbers(family: ClientFamily, sample_name: str, start_ns: int,
            now_ns: int) -> list[NumberDataPoint]:
    return [NumberDataPoint(attributes=dict(s.labels), start_time_unix_nano=start_ns,
                            time_unix_nano=now_ns, value=float(s.value))
            for s in family.samples if s.name == sample_name]


@dataclass
class _Series:
    """One histogram series being gathered from its `_bucket`, `_sum` and `_count` samples."""

    labels: dict[str, str]
    buckets: list[tuple[float, float]] = field(default_factory=list)  # (le, cumulative count)
    sum: float = 0.0
    count: float | None = None


def histogram_points(family: ClientFamily, start_ns: int, now_ns: int) -> list[HistogramDataPoint]:
    series: dict[tuple, _Series] = {}
    for s in family.samples:
        labels = {k: v for k, v in s.labels.items() if k != "le"}
        one = series.setdefault(tuple(sorted(labels.items())), _Series(labels))
        suffix = s.name[len(family.name):]
        if suffix == "_bucket":
            one.buckets.append((float(s.labels["le"]), float(s.value)))
        elif suffix == "_sum":
            one.sum = float(s.value)
        elif suffix == "_count":
            one.count = float(s.value)
    points = []
    for one in series.values():
        one.buckets.sort()
        bounds = [le for le, _ in one.buckets if le != float("inf")]
        total = one.count if one.count is not None else max((c for _, c in one.buckets), default=0)
        cumulative = [c for le, c in one.buckets if le != float("inf")] + [total]
        counts = [max(round(c - prev), 0)
                  for c, prev in zip(cumulative, [0.0, *cumulative], strict=False)]
        points.append(HistogramDataPoint(
            attributes=one.labels, start_time_unix_nano=start_ns, time_unix_nano=now_ns,
            count=round(total), sum=one.sum, bucket_counts=counts, explicit_bounds=bounds,
            min=None, max=None))
    return points


def to_metric(family: ClientFamily, start_ns: int, now_ns: int) -> Metric | None:
    """One Prometheus family as OTel metric data; None for types OTLP cannot carry as is
    (summary, stateset, gaugehistogram: the exporter publishes none of them)."""
    if family.type == "counter":
        data = Sum(numbers(family, family.name + "_total", start_ns, now_ns), CUMULATIVE, True)
    elif family.type in ("gauge", "unknown"):
        data = Gauge(numbers(family, family.name, 0, now_ns))
    elif family.type == "info":
        data = Gauge(numbers(family, family.name + "_info", 0, now_ns))
    elif family.type == "histogram":
        data = Histogram(histogram_points(family, start_ns, now_ns), CUMULATIVE)
    else:
        return None
    return Metric(name=family.name, description=family.documentation, unit=otel_unit(family),
                  data=data)
