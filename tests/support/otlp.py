"""Loopback OTLP metrics receivers, every request decoded with opentelemetry-proto and kept:
OTLP/HTTP (aiohttp, POST /v1/metrics) and OTLP/gRPC (grpc.aio, MetricsService/Export on
127.0.0.1). `mode` makes them answer OK, fail (HTTP 500, gRPC INTERNAL) or never."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import grpc
from aiohttp import web
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2_grpc import (
    MetricsServiceServicer,
    add_MetricsServiceServicer_to_server,
)
from opentelemetry.proto.metrics.v1 import metrics_pb2

OK, FAIL, HANG = "ok", "fail", "hang"
SampleKey = tuple[str, frozenset[tuple[str, str]]]


def _fmt(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


def _attrs(point) -> dict[str, str]:
    return {a.key: a.value.string_value for a in point.attributes}


def as_prometheus(metrics: dict[str, metrics_pb2.Metric]) -> dict[SampleKey, float]:
    """The Prometheus samples the pushed metrics stand for: counters as `_total`, histograms
    re-accumulated into `_bucket{le}`, `_sum` and `_count` (le normalised as floats)."""
    out: dict[SampleKey, float] = {}
    for name, m in metrics.items():
        kind = m.WhichOneof("data")
        if kind in ("sum", "gauge"):
            suffix = "_total" if kind == "sum" else ""
            for p in getattr(m, kind).data_points:
                out[name + suffix, frozenset(_attrs(p).items())] = p.as_double
            continue
        for p in m.histogram.data_points:
            labels = _attrs(p)
            running = 0
            for bound, n in zip([*p.explicit_bounds, float("inf")], p.bucket_counts, strict=True):
                running += n
                out[name + "_bucket", frozenset({**labels, "le": _fmt(bound)}.items())] = running
            out[name + "_sum", frozenset(labels.items())] = p.sum
            out[name + "_count", frozenset(labels.items())] = p.count
    return out


@dataclass
class Received:
    headers: dict[str, str]
    request: ExportMetricsServiceRequest

    def resource(self) -> dict[str, str]:
        attrs = self.request.resource_metrics[0].resource.attributes
        return {a.key: a.value.string_value for a in attrs}

    def schema_urls(self) -> set[str]:
        """The schema URLs of every resource and scope in the request."""
        return {url for rm in self.request.resource_metrics
                for url in (rm.schema_url, *(sm.schema_url for sm in rm.scope_metrics))}

    def metrics(self) -> dict[str, metrics_pb2.Metric]:
        return {m.name: m for rm in self.request.resource_metrics
                for sm in rm.scope_metrics for m in sm.metrics}


@dataclass
class Receiver:
    mode: str = OK
    received: list[Received] = field(default_factory=list)
    attempts: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        body = await request.read()
        if self.mode == HANG:
            await asyncio.sleep(3600)
        if self.mode == FAIL:
            return web.Response(status=500, text="receiver is broken")
        message = ExportMetricsServiceRequest()
        message.ParseFromString(body)
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.received.append(Received(headers, message))
        self.arrived.set()
        return web.Response(body=b"", content_type="application/x-protobuf")

    async def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """The first `count` requests, once they have arrived."""
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.received

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/metrics", self.handle)
        return app


class GrpcReceiver(MetricsServiceServicer):
    """The same receiver over gRPC: `async with GrpcReceiver() as rx`, then push to rx.url.
    `received`, `attempts`, `mode` and wait_for() are a Receiver's, metadata as headers."""

    def __init__(self, mode: str = OK):
        self.rx = Receiver(mode=mode)
        self.server = grpc.aio.server()
        add_MetricsServiceServicer_to_server(self, self.server)
        self.url = ""

    def __getattr__(self, name: str):
        return getattr(self.rx, name)

    def __setattr__(self, name: str, value) -> None:
        if name == "mode":
            self.rx.mode = value
        else:
            super().__setattr__(name, value)

    async def Export(self, request: ExportMetricsServiceRequest,  # noqa: N802 (the RPC's name)
                     context: grpc.aio.ServicerContext) -> ExportMetricsServiceResponse:
        self.rx.attempts += 1
        if self.rx.mode == HANG:
            await asyncio.sleep(3600)
        if self.rx.mode == FAIL:
            await context.abort(grpc.StatusCode.INTERNAL, "receiver is broken")
        headers = {k.lower(): v for k, v in context.invocation_metadata()}
        self.rx.received.append(Received(headers, request))
        self.rx.arrived.set()
        return ExportMetricsServiceResponse()

    async def __aenter__(self) -> GrpcReceiver:
        port = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_exc) -> None:
        await self.server.stop(grace=None)
