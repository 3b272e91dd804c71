"""Push the exporter's metrics over OTLP/HTTP (protobuf) with opentelemetry-sdk.

Nothing is measured twice: every `interval` the loop's latest snapshot, the very families
/metrics serves, is converted to OTel metric data and handed to the SDK's
`OTLPMetricExporter.export()` in a worker thread, so a slow or dead receiver never blocks a
scrape or a collector. A failed push is counted (`OtlpPusher.failures`) and logged; the next
one carries the then-latest values, nothing is queued.

Mapping (Prometheus → OTLP):
- counter → Sum, cumulative, monotonic; start time the exporter's process start.
- gauge (and untyped) → Gauge.
- histogram → Histogram, cumulative, explicit bounds from the finite `le` values and the
  per-bucket counts un-accumulated from the `_bucket` series (the last one is +Inf).
- units from the catalogue spec (UCUM, as OTel writes them): seconds → s, bytes → By,
  ratio → 1, celsius → Cel, watts → W, joules → J, hertz → Hz; a family without a declared
  unit (prometheus_client's process_*) gets the unit its name's suffix states.
- names are the Prometheus family names, without the `_total` a counter's sample carries.
  That is what the OpenTelemetry Collector's prometheus receiver produces for the same
  scrape, and a Prometheus-compatible OTLP backend adds the unit and `_total` suffixes back
  only where missing, so dashboards and alert rules written against the scrape names work
  on the pushed data unchanged. Renaming to the OTel semantic conventions (`hw.gpu.*`,
  `hw.power`, `hw.temperature`, reference gpu-exporters.md §6.1 and §10.11) is future work:
  that group is still "Development" and would need a pinned schema URL and attribute renames
  (uuid → hw.id).
- labels become data point attributes under the same names.

Resource: service.name=inferwatch-exporter, service.version, host.name, k8s.node.name
(NODE_NAME or --kubernetes.node-name) when known; OTEL_RESOURCE_ATTRIBUTES over these, and
--otlp.resource-attributes over everything. Header values are passed to the SDK only and
never logged.

This module imports opentelemetry at the top: the exporter imports it only when
--otlp.endpoint is set, so a plain exporter process never loads the SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import psutil
from aiohttp import web
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from prometheus_client.core import Metric as ClientFamily

from inferwatch import catalog
from inferwatch.core.redact import redact
from inferwatch.core.version import __version__
from inferwatch.exporter.config import Otlp
from inferwatch.exporter.loop import CollectorLoop
from inferwatch.exporter.snapshot import Snapshot

log = logging.getLogger(__name__)

SERVICE_NAME = "inferwatch-exporter"
UNITS = {"seconds": "s", "bytes": "By", "ratio": "1", "celsius": "Cel", "watts": "W",
         "joules": "J", "hertz": "Hz"}
CUMULATIVE = AggregationTemporality.CUMULATIVE
SCOPE = InstrumentationScope("inferwatch.exporter", __version__)


def otel_unit(family: ClientFamily) -> str:
    """The UCUM unit of a family: its declared unit, else the unit its name ends with."""
    unit = family.unit or next((u for u in UNITS if family.name.endswith("_" + u)), "")
    return UNITS.get(unit, unit)


def _numbers(family: ClientFamily, sample_name: str, start_ns: int,
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


def _histogram_points(family: ClientFamily, start_ns: int, now_ns: int) -> list[HistogramDataPoint]:
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
        data = Sum(_numbers(family, family.name + "_total", start_ns, now_ns), CUMULATIVE, True)
    elif family.type in ("gauge", "unknown"):
        data = Gauge(_numbers(family, family.name, 0, now_ns))
    elif family.type == "info":
        data = Gauge(_numbers(family, family.name + "_info", 0, now_ns))
    elif family.type == "histogram":
        data = Histogram(_histogram_points(family, start_ns, now_ns), CUMULATIVE)
    else:
        return None
    return Metric(name=family.name, description=family.documentation, unit=otel_unit(family),
                  data=data)


def to_metrics_data(snapshot: Snapshot, resource: Resource, start_ns: int) -> MetricsData:
    """The whole snapshot as one OTLP request's worth of data, stamped with its render time;
    a family without samples is left out."""
    now_ns = int(snapshot.created * 1e9)
    start_ns = min(start_ns, now_ns)
    metrics = [m for f in snapshot.families
               if (m := to_metric(f, start_ns, now_ns)) is not None and m.data.data_points]
    scope = ScopeMetrics(scope=SCOPE, metrics=metrics, schema_url="")
    return MetricsData([ResourceMetrics(resource=resource, scope_metrics=[scope], schema_url="")])


def build_resource(attributes: dict[str, str], node_name: str = "") -> Resource:
    """The node's resource: defaults < OTEL_RESOURCE_ATTRIBUTES / OTEL_SERVICE_NAME < flags."""
    defaults = {"service.name": SERVICE_NAME, "service.version": __version__,
                "host.name": socket.gethostname()}
    if node_name:
        defaults["k8s.node.name"] = node_name
    from_env = OTELResourceDetector().detect().attributes
    return Resource.create({**defaults, **from_env, **attributes})


class OtlpPusher:
    """Pushes the loop's latest snapshot every interval; never raises, never blocks the loop."""

    def __init__(self, loop: CollectorLoop, exporter: MetricExporter, resource: Resource,
                 interval: float, timeout: float, endpoint: str = ""):
        self.loop, self.exporter, self.resource = loop, exporter, resource
        self.interval, self.timeout = interval, timeout
        self.endpoint = redact(endpoint)
        self.start_ns = int(psutil.Process().create_time() * 1e9)
        self.pushes = 0
        self.failures = 0
        loop.reporters.append(self.families)

    def families(self) -> list[ClientFamily]:
        """The push counts, rendered with the loop's own metrics."""
        exports = catalog.OTLP_EXPORTS.family()
        exports.add_metric(["success"], self.pushes)
        exports.add_metric(["failure"], self.failures)
        return [exports]

    def _export(self, snapshot: Snapshot) -> MetricExportResult:
        data = to_metrics_data(snapshot, self.resource, self.start_ns)
        return self.exporter.export(data, timeout_millis=self.timeout * 1000)

    async def push_once(self) -> bool:
        """One push of the latest snapshot; True when the receiver accepted it."""
        try:
            result = await asyncio.to_thread(self._export, self.loop.snapshot)
            reason = "" if result is MetricExportResult.SUCCESS else \
                "refused or unanswered (the OTLP exporter's log line has the status)"
        except Exception as err:  # a conversion bug must not stop later pushes
            reason = f"crashed: {type(err).__name__}: {err}"
            log.debug("otlp push crashed", exc_info=True)
        if reason:
            self.failures += 1
            log.warning("otlp push to %s failed (%d failures so far): %s", self.endpoint,
                        self.failures, reason)
        else:
            self.pushes += 1
        return not reason

    async def run(self) -> None:
        """After the collectors' first round (or one interval), push on a fixed beat; a push
        that overruns skips the ticks it missed."""
        first_round = asyncio.ensure_future(self.loop.first_round.wait())
        try:  # not wait_for: on Python 3.11 it can swallow the cancel that stops this task
            await asyncio.wait({first_round}, timeout=self.interval)
        finally:
            first_round.cancel()
        clock = asyncio.get_running_loop()
        next_run = clock.time()
        while True:
            await self.push_once()
            next_run += self.interval
            now = clock.time()
            if next_run < now:
                next_run = now + self.interval - ((now - next_run) % self.interval)
            await asyncio.sleep(next_run - now)

    async def lifespan(self, _app: web.Application) -> AsyncIterator[None]:
        """aiohttp cleanup_ctx: push while the app runs; stop retries on the way out."""
        task = asyncio.create_task(self.run(), name="otlp-push")
        log.info("pushing OTLP metrics to %s every %gs", self.endpoint, self.interval)
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self.exporter.shutdown()


def build_pusher(config: Otlp, loop: CollectorLoop, node_name: str = "") -> OtlpPusher:
    """The pusher for `config`, which must have an endpoint."""
    if not config.endpoint:
        raise ValueError("otlp.endpoint is not set")
    headers = {k: v.get_secret_value() for k, v in config.headers.items()}
    timeout = config.timeout or config.interval
    exporter = OTLPMetricExporter(endpoint=config.endpoint, headers=headers or None,
                                  timeout=timeout)
    return OtlpPusher(loop, exporter, build_resource(config.resource_attributes, node_name),
                      config.interval, timeout, config.endpoint)
