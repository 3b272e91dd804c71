"""The OTLP pusher (Prometheus names) against a loopback receiver, over OTLP/HTTP and
OTLP/gRPC: what the receiver decodes is the snapshot /metrics serves (names, units, types,
values), with the node's resource and the headers; failures are counted and logged without
the header values, and never stall the event loop."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from prometheus_client import ProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from inferwatch import __version__
from inferwatch import catalog as c
from inferwatch.exporter.app import make_app
from inferwatch.exporter.config import ExporterConfig, Otlp
from inferwatch.exporter.main import build_loop
from inferwatch.exporter.otlp import OtlpPusher, build_pusher
from inferwatch.exporter.snapshot import Snapshot
from tests.support.otlp import (
    FAIL,
    HANG,
    GrpcReceiver,
    Receiver,
    SampleKey,
    as_prometheus,
)

SECRET = "Bearer s3cr3t-token-value"
CUMULATIVE = 2  # AGGREGATION_TEMPORALITY_CUMULATIVE
UNITS = {c.GPU_ENERGY.name[:-len("_total")]: "J", c.GPU_UTILIZATION.name: "1",
         c.GPU_TEMPERATURE.name: "Cel", c.GPU_POWER_USAGE.name: "W", c.GPU_CLOCK.name: "Hz",
         c.GPU_MEMORY_USED.name: "By", c.ENGINE_TTFT.name: "s", "process_resident_memory_bytes":
         "By", "process_cpu_seconds": "s", c.GPU_XID_ERRORS.name[:-len("_total")]: "",
         c.GPUS.name: ""}


def every_type_snapshot() -> Snapshot:
    """Counters, gauges of every unit, a histogram with two series, process_* families."""
    gpu = ["0", "GPU-0"]
    families = []
    for spec, value in ((c.GPU_ENERGY, 123456.5), (c.GPU_UTILIZATION, 0.42),
                        (c.GPU_TEMPERATURE, 61.0), (c.GPU_POWER_USAGE, 310.25),
                        (c.GPU_MEMORY_USED, 8e9), (c.GPU_XID_ERRORS, 3.0)):
        fam = spec.family()
        fam.add_metric(gpu + (["79"] if spec is c.GPU_XID_ERRORS else []), value)
        families.append(fam)
    clock = c.GPU_CLOCK.family()
    clock.add_metric(gpu + ["sm"], 1.98e9)
    gpus = c.GPUS.family()
    gpus.add_metric([], 1)
    ttft = c.ENGINE_TTFT.family()
    for target, scale in (("a", 1), ("b", 5)):
        cumulative = [(str(b), float(i * scale)) for i, b in enumerate(c.TTFT_BUCKETS)]
        ttft.add_metric(["vllm", "llama", target], cumulative + [("+Inf", 99.0 * scale)],
                        sum_value=12.5 * scale)
    process = list(ProcessCollector(registry=None).collect())
    empty = c.COLLECTOR_UP.family()  # no samples: left out of the push
    return Snapshot([*families, clock, gpus, ttft, *process, empty])


async def real_snapshot() -> Snapshot:
    """A frozen snapshot of a real collector loop over two simulated GPUs."""
    loop = build_loop(ExporterConfig(simulate_gpus=2))
    await loop.start()
    await asyncio.wait_for(loop.first_round.wait(), 10)
    await loop.stop()
    return loop.snapshot


def prometheus_samples(snapshot: Snapshot) -> dict[SampleKey, float]:
    """The samples of the text /metrics serves, `le` normalised as the receiver does."""
    out = {}
    for fam in text_string_to_metric_families(snapshot.text.decode()):
        for s in fam.samples:
            labels = dict(s.labels)
            if "le" in labels:
                labels["le"] = "+Inf" if labels["le"] == "+Inf" else repr(float(labels["le"]))
            out[s.name, frozenset(labels.items())] = float(s.value)
    return out


def pusher_for(url: str, snapshot: Snapshot, **otlp) -> OtlpPusher:
    loop = SimpleNamespace(snapshot=snapshot, first_round=asyncio.Event(), reporters=[])
    config = Otlp(endpoint=url, headers={"Authorization": SECRET, "X-Scope-OrgID": "tenant-1"},
                  resource_attributes="k8s.cluster.name=lab, deployment.environment=test",
                  **otlp)
    return build_pusher(config, loop, node_name="gpu-node-7")


@pytest.fixture(params=["http/protobuf", "grpc"])
async def receiver(request, aiohttp_server) -> AsyncIterator[tuple[Receiver, str, str]]:
    """(a loopback receiver, its endpoint, the protocol) for each protocol."""
    if request.param == "grpc":
        async with GrpcReceiver() as rx:
            yield rx, rx.url, request.param
        return
    rx = Receiver()
    server = await aiohttp_server(rx.app(), host="127.0.0.1")
    yield rx, str(server.make_url("/v1/metrics")), request.param


@pytest.mark.parametrize("source", ["every-type", "simulated-gpus"])
async def test_the_receiver_decodes_the_snapshot(receiver, source) -> None:
    rx, url, protocol = receiver
    snapshot = every_type_snapshot() if source == "every-type" else await real_snapshot()
    pusher = pusher_for(url, snapshot, protocol=protocol)
    assert await pusher.push_once()
    (got,) = await rx.wait_for(1)
    assert (pusher.pushes, pusher.failures) == (1, 0)
    assert as_prometheus(got.metrics()) == prometheus_samples(snapshot)
    families = [f for f in snapshot.families if f.samples]
    assert sorted(got.metrics()) == sorted(f.name for f in families)
    for fam in families:
        m = got.metrics()[fam.name]
        assert m.description == fam.documentation
        kind = m.WhichOneof("data")
        assert kind == {"counter": "sum", "gauge": "gauge", "histogram": "histogram"}[fam.type]
        if kind == "sum":
            assert m.sum.is_monotonic and m.sum.aggregation_temporality == CUMULATIVE
        if kind == "histogram":
            assert m.histogram.aggregation_temporality == CUMULATIVE
        if fam.name in UNITS:
            assert m.unit == UNITS[fam.name], fam.name


async def test_units_types_and_bounds(receiver) -> None:
    rx, url, protocol = receiver
    await pusher_for(url, every_type_snapshot(), protocol=protocol).push_once()
    metrics = (await rx.wait_for(1))[0].metrics()
    assert {n: metrics[n].unit for n in UNITS} == UNITS
    assert c.COLLECTOR_UP.name not in metrics  # a family without samples
    ttft = metrics[c.ENGINE_TTFT.name].histogram.data_points
    assert [list(p.explicit_bounds) for p in ttft] == [list(c.TTFT_BUCKETS)] * 2
    a = next(p for p in ttft if any(x.value.string_value == "a" for x in p.attributes))
    assert list(a.bucket_counts) == [0] + [1] * (len(c.TTFT_BUCKETS) - 1) + [99 - 12]
    assert (a.count, a.sum) == (99, 12.5)
    energy = metrics["inferwatch_gpu_energy_joules"].sum.data_points[0]
    assert 0 < energy.start_time_unix_nano <= energy.time_unix_nano <= time.time_ns()


async def test_resource_and_headers(receiver) -> None:
    rx, url, protocol = receiver
    await pusher_for(url, every_type_snapshot(), protocol=protocol).push_once()
    (got,) = await rx.wait_for(1)
    resource = got.resource()
    assert resource["service.name"] == "inferwatch-exporter"
    assert resource["service.version"] == __version__
    assert resource["host.name"] == socket.gethostname()
    assert resource["k8s.node.name"] == "gpu-node-7"
    assert resource["k8s.cluster.name"] == "lab" and resource["deployment.environment"] == "test"
    assert got.headers["authorization"] == SECRET and got.headers["x-scope-orgid"] == "tenant-1"
    if protocol == "http/protobuf":  # gRPC keeps its content-type out of the metadata
        assert got.headers["content-type"] == "application/x-protobuf"


async def test_the_environment_and_the_flags_over_the_defaults(receiver, monkeypatch) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "host.name=from-env,k8s.cluster.name=env")
    rx, url, protocol = receiver
    await pusher_for(url, every_type_snapshot(), protocol=protocol).push_once()
    resource = (await rx.wait_for(1))[0].resource()
    assert (resource["host.name"], resource["k8s.cluster.name"]) == ("from-env", "lab")


async def test_a_500_is_counted_and_logged_without_the_secret(receiver, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    rx, url, protocol = receiver
    rx.mode = FAIL
    pusher = pusher_for(url, every_type_snapshot(), protocol=protocol)
    assert not await pusher.push_once()
    assert not await pusher.push_once()
    assert (pusher.pushes, pusher.failures, rx.attempts) == (0, 2, 2)
    warnings = [r.getMessage() for r in caplog.records if r.name == "inferwatch.exporter.otlp"]
    assert any("failed (2 failures so far)" in w for w in warnings), warnings
    assert all("s3cr3t" not in r.getMessage() for r in caplog.records)
    rx.mode = "ok"
    assert await pusher.push_once() and pusher.pushes == 1
    assert pusher.loop.reporters == [pusher.families]
    [exports] = pusher.families()
    assert exports.name == c.OTLP_EXPORTS.name.removesuffix("_total")
    assert {s.labels["result"]: s.value for s in exports.samples} == {"success": 1, "failure": 2}


async def test_a_hanging_receiver_is_bounded_and_never_stalls_the_loop(receiver) -> None:
    rx, url, protocol = receiver
    rx.mode = HANG
    pusher = pusher_for(url, every_type_snapshot(), protocol=protocol, interval="1s",
                        timeout="500ms")
    gaps = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.02)
            gaps.append(time.monotonic() - last)
            last = time.monotonic()

    tick = asyncio.create_task(ticker())
    start = time.monotonic()
    assert not await pusher.push_once()
    tick.cancel()
    assert time.monotonic() - start < 5
    assert pusher.failures == 1 and max(gaps) < 0.3


async def test_metrics_serve_while_the_pushes_hang(receiver, aiohttp_client) -> None:
    rx, url, protocol = receiver
    rx.mode = HANG
    loop = build_loop(ExporterConfig(simulate_gpus=1))
    pusher = build_pusher(Otlp(endpoint=url, interval="200ms", protocol=protocol), loop)
    app = make_app(loop)
    app.cleanup_ctx.append(pusher.lifespan)
    client = await aiohttp_client(app)
    await asyncio.wait_for(loop.first_round.wait(), 10)
    async with asyncio.timeout(10):
        while rx.attempts < 1:
            await asyncio.sleep(0.05)
    for _ in range(3):
        start = time.monotonic()
        resp = await client.get("/metrics")
        assert resp.status == 200 and b"inferwatch_gpu_up" in await resp.read()
        assert time.monotonic() - start < 0.5


async def test_the_lifespan_pushes_on_a_beat_and_stops(receiver, aiohttp_server) -> None:
    rx, url, protocol = receiver
    loop = build_loop(ExporterConfig(simulate_gpus=1))
    app = make_app(loop)
    # 1s: the first push waits for the first round at most one interval, and a first round
    # took over 200ms on a loaded machine
    config = Otlp(endpoint=url, interval="1s", protocol=protocol)
    app.cleanup_ctx.append(build_pusher(config, loop).lifespan)
    server = await aiohttp_server(app, host="127.0.0.1")
    got = await rx.wait_for(3, timeout=20)
    assert "inferwatch_gpu_up" in got[0].metrics()  # the first push waits for the first round
    await server.close()
    count = len(rx.received)
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "otlp-push"]
    await asyncio.sleep(1.5)  # longer than the interval: a push still running would show
    assert len(rx.received) == count
