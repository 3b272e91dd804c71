"""Push the exporter's metrics over OTLP (HTTP/protobuf or gRPC) with opentelemetry-sdk.

Nothing is measured twice: every `interval` the loop's latest snapshot, the very families
/metrics serves, is converted to OTel metric data and handed to the SDK's
`OTLPMetricExporter.export()` in a worker thread, so a slow or dead receiver never blocks a
scrape or a collector. A failed push is counted (`OtlpPusher.failures`) and logged; the next
one carries the then-latest values, nothing is queued.

Names: `naming` "prometheus" (the default) sends every family under its Prometheus name
(otlp_convert); "semconv" sends the families of otlp_table's one table under the OpenTelemetry
semantic conventions' names, units and attributes, the rest as before (otlp_semconv), with
the table's pinned schema URL on the scope (the resource carries it in both namings: its
attributes are the conventions'). The Prometheus names stay the default: every `hw.gpu.*`
and `gen_ai.*` convention is still "Development" (gen_ai moved to its own repository in
1.43.0), and under the Prometheus names a Prometheus-compatible OTLP backend stores the very
series the generated dashboards and alert rules query; semconv is for OTel-native backends.

Protocol: "http/protobuf" (POST to the full URL, .../v1/metrics) or "grpc" (the
MetricsService/Export call to scheme://host:port; http is plaintext, https TLS), both with
the SDK's OTLP exporters.

Resource: service.name=inferwatch-exporter, service.version, host.name, k8s.node.name
(NODE_NAME or --kubernetes.node-name), k8s.pod.name (POD_NAME) and k8s.namespace.name
(POD_NAMESPACE), set from the downward API in deploy/, when known; OTEL_RESOURCE_ATTRIBUTES
over these, and --otlp.resource-attributes over everything. Header values are passed to the
SDK only and never logged.

This module imports opentelemetry at the top: the exporter imports it only when
--otlp.endpoint is set, so a plain exporter process never loads the SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator

import psutil
from aiohttp import web
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from prometheus_client.core import Metric as ClientFamily

from inferwatch import catalog
from inferwatch.core.redact import redact
from inferwatch.core.version import __version__
from inferwatch.exporter.config import Otlp
from inferwatch.exporter.loop import CollectorLoop
from inferwatch.exporter.otlp_convert import to_metric
from inferwatch.exporter.otlp_semconv import to_semconv_metrics
from inferwatch.exporter.otlp_table import SCHEMA_URL
from inferwatch.exporter.snapshot import Snapshot

log = logging.getLogger(__name__)

SERVICE_NAME = "inferwatch-exporter"
SCOPE = InstrumentationScope("inferwatch.exporter", __version__)
# the SDK's encoder takes a scope's schema URL from the scope itself, not from ScopeMetrics
SEMCONV_SCOPE = InstrumentationScope("inferwatch.exporter", __version__, SCHEMA_URL)
# downward-API variable -> resource attribute (deploy/base/exporter-daemonset.yaml sets them)
K8S_ENV = {"POD_NAMESPACE": "k8s.namespace.name", "POD_NAME": "k8s.pod.name"}


def to_metrics_data(snapshot: Snapshot, resource: Resource, start_ns: int,
                    naming: str = "prometheus") -> MetricsData:
    """The whole snapshot as one OTLP request's worth of data, stamped with its render time;
    a family without samples is left out."""
    now_ns = int(snapshot.created * 1e9)
    start_ns = min(start_ns, now_ns)
    if naming == "semconv":
        metrics = to_semconv_metrics(snapshot.families, start_ns, now_ns)
    else:
        metrics = [m for f in snapshot.families if (m := to_metric(f, start_ns, now_ns))]
    metrics = [m for m in metrics if m.data.data_points]
    semconv = naming == "semconv"
    scope = ScopeMetrics(scope=SEMCONV_SCOPE if semconv else SCOPE, metrics=metrics,
                         schema_url=SCHEMA_URL if semconv else "")
    return MetricsData([ResourceMetrics(resource=resource, scope_metrics=[scope],
                                        schema_url=resource.schema_url)])


def build_resource(attributes: dict[str, str], node_name: str = "") -> Resource:
    """The node's resource: defaults < OTEL_RESOURCE_ATTRIBUTES / OTEL_SERVICE_NAME < flags.
    Its attribute names are the conventions' (service.*, host.*, k8s.*): the pinned schema."""
    defaults = {"service.name": SERVICE_NAME, "service.version": __version__,
                "host.name": socket.gethostname()}
    if node_name:
        defaults["k8s.node.name"] = node_name
    defaults |= {attr: os.environ[env] for env, attr in K8S_ENV.items() if os.environ.get(env)}
    from_env = OTELResourceDetector().detect().attributes
    return Resource.create({**defaults, **from_env, **attributes}, schema_url=SCHEMA_URL)


class OtlpPusher:
    """Pushes the loop's latest snapshot every interval; never raises, never blocks the loop."""

    def __init__(self, loop: CollectorLoop, exporter: MetricExporter, resource: Resource,
                 interval: float, timeout: float, endpoint: str = "",
                 naming: str = "prometheus"):
        self.loop, self.exporter, self.resource = loop, exporter, resource
        self.naming = naming
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
        data = to_metrics_data(snapshot, self.resource, self.start_ns, self.naming)
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
        log.info("pushing OTLP metrics to %s every %gs (%s names)", self.endpoint,
                 self.interval, self.naming)
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self.exporter.shutdown()


def _metric_exporter(config: Otlp, timeout: float) -> MetricExporter:
    """The SDK's exporter for the protocol; only the chosen one's module is imported."""
    headers = {k: v.get_secret_value() for k, v in config.headers.items()}
    if config.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        metadata = {k.lower(): v for k, v in headers.items()}  # gRPC metadata keys: lower case
        return OTLPMetricExporter(endpoint=config.endpoint, headers=metadata or None,
                                  timeout=timeout,
                                  insecure=config.endpoint.startswith("http://"))
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter(endpoint=config.endpoint, headers=headers or None, timeout=timeout)


def build_pusher(config: Otlp, loop: CollectorLoop, node_name: str = "") -> OtlpPusher:
    """The pusher for `config`, which must have an endpoint."""
    if not config.endpoint:
        raise ValueError("otlp.endpoint is not set")
    timeout = config.timeout or config.interval
    return OtlpPusher(loop, _metric_exporter(config, timeout),
                      build_resource(config.resource_attributes, node_name), config.interval,
                      timeout, config.endpoint, config.naming)
