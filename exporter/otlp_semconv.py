"""Snapshot families as OpenTelemetry semantic-convention metrics (`--otlp.naming semconv`),
following the one table of `otlp_table`: the families a row names are sent under the
convention's name, instrument, unit and attributes (and not also under their own names);
every other family is sent as `otlp_convert` sends it.

Per row: a gauge → Gauge, a counter → monotonic cumulative Sum, an updowncounter →
non-monotonic cumulative Sum, a histogram → cumulative Histogram with the catalogue's bounds.
Catalogue labels are renamed by the row's domain (uuid → hw.id, gpu N → hw.name gpuN,
engine → gen_ai.provider.name, model → gen_ai.request.model, namespace/pod → k8s.*; a
sensor's own hw.id, see otlp_table.Source); labels the table does not rename (e.g. `target`)
keep their names. A source with `per` is a ratio of two families' same series, left out
where the divisor is not above 0.
"""

from __future__ import annotations

import dataclasses

from opentelemetry.sdk.metrics.export import Gauge, Histogram, Metric, Sum
from prometheus_client.core import Metric as ClientFamily

from inferwatch import catalog
from inferwatch.exporter.otlp_convert import CUMULATIVE, histogram_points, numbers, to_metric
from inferwatch.exporter.otlp_table import (
    COUNTER,
    GAUGE,
    GPU_INFO_LABELS,
    HISTOGRAM,
    TABLE,
    Row,
    Source,
    mapped_families,
)

MAPPED = mapped_families()


def _key(labels: dict[str, str]) -> tuple:
    return tuple(sorted(labels.items()))


def _gpu_info(families: dict[str, ClientFamily]) -> dict[str, dict[str, str]]:
    """uuid -> the hw.gpu.* identity attributes GPU_INFO carries (empty values left out)."""
    info = families.get(catalog.GPU_INFO.name)
    out: dict[str, dict[str, str]] = {}
    for s in info.samples if info else ():
        out[s.labels.get("uuid", "")] = {attr: s.labels[label] for label, attr in
                                         GPU_INFO_LABELS.items() if s.labels.get(label)}
    return out


class _Renamer:
    """The attributes of one row's points: renamed labels, then constants."""

    def __init__(self, row: Row, source: Source, gpu_info: dict[str, dict[str, str]]):
        self.row, self.source, self.gpu_info = row, source, gpu_info

    def __call__(self, labels: dict[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for label, value in labels.items():
            name = self.row.labels.get(label, label)
            out[name] = f"gpu{value}" if label == "gpu" else value
        if self.row.gpu_info:
            out.update(self.gpu_info.get(labels.get("uuid", ""), {}))
        if sensor := self.source.sensor:
            out |= {"hw.parent": out["hw.id"], "hw.id": f"{out['hw.id']}-{sensor}",
                    "hw.name": f"{out['hw.name']}-{sensor}",
                    "hw.sensor_location": f"GPU{labels['gpu']}_{sensor.upper()}"}
        return {**out, **self.row.attributes, **self.source.attributes}


def _points(row: Row, source: Source, families: dict[str, ClientFamily],
            rename: _Renamer, start_ns: int, now_ns: int) -> list:
    spec = source.spec
    family = families.get(spec.name.removesuffix("_total") if spec.type == "counter"
                          else spec.name)
    if family is None:
        return []
    if row.instrument == HISTOGRAM:
        return [dataclasses.replace(p, attributes=rename(dict(p.attributes)))
                for p in histogram_points(family, start_ns, now_ns)]
    sample = family.name + ("_total" if family.type == "counter" else "")
    start = 0 if row.instrument == GAUGE else start_ns
    points = numbers(family, sample, start, now_ns)
    if source.per is not None:
        divisor = families.get(source.per.name)
        by = {_key(dict(p.attributes)): p.value
              for p in (numbers(divisor, divisor.name, 0, now_ns) if divisor else ())}
        points = [dataclasses.replace(p, value=p.value / by[k]) for p in points
                  if by.get(k := _key(dict(p.attributes)), 0) > 0]
    return [dataclasses.replace(p, attributes=rename(dict(p.attributes)),
                                value=round(p.value) if row.integer else p.value)
            for p in points]


def _row_metric(row: Row, families: dict[str, ClientFamily], gpu_info: dict,
                start_ns: int, now_ns: int) -> Metric | None:
    points = [p for source in row.sources
              for p in _points(row, source, families, _Renamer(row, source, gpu_info),
                               start_ns, now_ns)]
    if not points:
        return None
    if row.instrument == HISTOGRAM:
        data = Histogram(points, CUMULATIVE)
    elif row.instrument == GAUGE:
        data = Gauge(points)
    else:  # counter, updowncounter
        data = Sum(points, CUMULATIVE, row.instrument == COUNTER)
    return Metric(name=row.name, description=row.brief, unit=row.unit, data=data)


def to_semconv_metrics(families: tuple[ClientFamily, ...], start_ns: int,
                       now_ns: int) -> list[Metric]:
    """The convention metrics of the table's rows, then every family no row maps."""
    by_name = {f.name: f for f in families}
    gpu_info = _gpu_info(by_name)
    rows = [m for row in TABLE if (m := _row_metric(row, by_name, gpu_info, start_ns, now_ns))]
    rest = [m for f in families if f.name not in MAPPED
            and (m := to_metric(f, start_ns, now_ns)) is not None]
    return rows + rest
