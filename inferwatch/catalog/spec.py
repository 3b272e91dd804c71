"""MetricSpec, the type of every catalogue entry, and the label sets the sections share."""


from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

GAUGE, COUNTER, HISTOGRAM = "gauge", "counter", "histogram"


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its exposed name, type, unit, help text and label names."""

    name: str
    type: str
    help: str
    labels: tuple[str, ...] = ()
    unit: str = ""
    buckets: tuple[float, ...] = ()  # canonical upper bounds (histograms only, no +Inf)

    def family(self, labels: Iterable[str] | None = None) -> Metric:
        """A fresh, empty prometheus_client family for this metric."""
        names = list(self.labels if labels is None else labels)
        if self.type == COUNTER:
            return CounterMetricFamily(self.name, self.help, labels=names, unit=self.unit)
        if self.type == HISTOGRAM:
            return HistogramMetricFamily(self.name, self.help, labels=names, unit=self.unit)
        return GaugeMetricFamily(self.name, self.help, labels=names, unit=self.unit)

    @property
    def series_names(self) -> tuple[str, ...]:
        """The sample names a query may use (`_bucket`/`_sum`/`_count` for histograms)."""
        if self.type == HISTOGRAM:
            return tuple(self.name + s for s in ("_bucket", "_sum", "_count"))
        return (self.name,)


GPU = ("gpu", "uuid")
ENGINE = ("engine", "model", "target")
COLLECTOR = ("collector",)
FS = ("device", "fstype", "mountpoint")


def _g(name, help, labels=(), unit=""):
    return MetricSpec(name, GAUGE, help, tuple(labels), unit)


def _c(name, help, labels=(), unit=""):
    return MetricSpec(name, COUNTER, help, tuple(labels), unit)


def _h(name, help, buckets, labels=ENGINE):
    return MetricSpec(name, HISTOGRAM, help, tuple(labels), "seconds", tuple(buckets))
