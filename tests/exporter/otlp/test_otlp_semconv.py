"""`--otlp.naming semconv`: the one table checked against the conventions' own generated
package (opentelemetry-semantic-conventions: names, instruments, units, briefs, attribute
names and values, schema URL), and what a loopback receiver decodes, over OTLP/HTTP and
OTLP/gRPC, checked point by point against the snapshot the exporter pushed."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from types import ModuleType, SimpleNamespace

import pytest
from opentelemetry.semconv._incubating.attributes import (
    gen_ai_attributes,
    hw_attributes,
    k8s_attributes,
    network_attributes,
)
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics, hw_metrics
from opentelemetry.semconv.schemas import Schemas

from inferwatch import catalog as c
from inferwatch.exporter.config import ExporterConfig, Otlp
from inferwatch.exporter.main import build_loop
from inferwatch.exporter.otlp import build_pusher
from inferwatch.exporter.otlp_table import GPU_INFO_LABELS, SCHEMA_URL, TABLE, Row
from inferwatch.exporter.snapshot import Snapshot
from tests.support.otlp import GrpcReceiver, Receiver

CUMULATIVE = 2  # AGGREGATION_TEMPORALITY_CUMULATIVE
# Requirement level "required" in semantic conventions 1.44.0 (model/hardware/common.yaml,
# common-metrics.yaml, gpu-metrics.yaml; gen_ai from the gen-ai metrics it deprecated).
REQUIRED = {"hw.gpu.": {"hw.id"}, "hw.power": {"hw.id", "hw.type"},
            "hw.energy": {"hw.id", "hw.type"}, "hw.temperature": {"hw.id"},
            "gen_ai.": {"gen_ai.provider.name", "gen_ai.operation.name"}}
ENUMS = {"hw.gpu.task": hw_attributes.HwGpuTaskValues, "hw.type": hw_attributes.HwTypeValues,
         "network.io.direction": network_attributes.NetworkIoDirectionValues,
         "gen_ai.token.type": gen_ai_attributes.GenAiTokenTypeValues,
         "gen_ai.operation.name": gen_ai_attributes.GenAiOperationNameValues}
INSTRUMENTS = {"create_gauge": "gauge", "create_observable_gauge": "gauge",
               "create_counter": "counter", "create_up_down_counter": "updowncounter",
               "create_histogram": "histogram"}


class RecordingMeter:
    """Stands in for a Meter: each create_* call returns (instrument, its keyword arguments)."""

    def __getattr__(self, method: str):
        return lambda **kwargs: (INSTRUMENTS[method], kwargs)


def _names(module: ModuleType) -> set[str]:
    return {v for k, v in vars(module).items() if k.isupper() and isinstance(v, str)}


def definition(row: Row) -> tuple[str, dict]:
    module = gen_ai_metrics if row.name.startswith("gen_ai.") else hw_metrics
    create = getattr(module, "create_" + row.name.replace(".", "_"))
    args = {"callbacks": None} if "callbacks" in inspect.signature(create).parameters else {}
    return create(RecordingMeter(), **args)


@pytest.mark.parametrize("row", TABLE, ids=lambda r: r.name)
def test_the_row_is_the_convention(row) -> None:
    instrument, kwargs = definition(row)
    assert (kwargs["name"], instrument, kwargs["unit"]) == (row.name, row.instrument, row.unit)
    assert row.brief == kwargs["description"]
    known = (_names(hw_attributes) | _names(gen_ai_attributes) | _names(network_attributes)
             | _names(k8s_attributes))
    attrs = {**{a: "" for a in row.labels.values()}, **row.attributes,
             **{k: v for s in row.sources for k, v in s.attributes.items()}}
    if any(s.sensor for s in row.sources):
        attrs |= {"hw.parent": "", "hw.sensor_location": ""}
    if row.gpu_info:
        attrs |= {a: "" for a in GPU_INFO_LABELS.values()}
    assert set(attrs) <= known, set(attrs) - known
    for name, value in [*row.attributes.items(),
                        *(kv for s in row.sources for kv in s.attributes.items())]:
        if name in ENUMS:
            assert value in {m.value for m in ENUMS[name]}, (name, value)
    required = next(v for k, v in REQUIRED.items() if row.name.startswith(k))
    assert required <= set(attrs)


def test_the_schema_url_and_the_resource_names_are_the_conventions() -> None:
    assert Schemas.V1_44_0.value == SCHEMA_URL
    assert {"k8s.namespace.name", "k8s.pod.name", "k8s.node.name"} <= _names(k8s_attributes)


GPU_INFO = {"0": ("GPU-0", "NVIDIA H100 80GB HBM3", "1650923004321"),
            "1": ("GPU-1", "NVIDIA L4", "")}  # GPU 1 reports no serial number
VALUES = {c.GPU_UTILIZATION: (0.42, 0.9), c.GPU_ENCODER_UTILIZATION: (0.0, 0.25),
          c.GPU_DECODER_UTILIZATION: (0.125, 0.0), c.GPU_MEMORY_USED: (6e10, 1e9),
          c.GPU_MEMORY_TOTAL: (8e10, 0.0), c.GPU_PCIE_TX: (1.5e9, 2e9),
          c.GPU_PCIE_RX: (3e9, 4e9), c.GPU_POWER_USAGE: (310.25, 72.5),
          c.GPU_ENERGY: (123456.5, 9876.0), c.GPU_TEMPERATURE: (61.0, 44.0),
          c.GPU_MEMORY_TEMPERATURE: (70.0, 51.5),
          c.GPU_CLOCK: (1.98e9, 1.5e9)}


POD = {"namespace": "serving", "pod": "llama-0"}


def gpu_engine_snapshot() -> Snapshot:
    """Two GPUs (every mapped family, one unmapped), and two engine targets' histograms."""
    families = []
    info = c.GPU_INFO.family()
    for gpu, (uuid, name, serial) in GPU_INFO.items():
        info.add_metric([gpu, uuid, name, "0000:01:00.0", gpu, serial, "96.00", "550.54.15",
                         "12.4", "9.0", "Disabled"], 1)
    families.append(info)
    for spec, values in VALUES.items():
        fam = spec.family()
        for gpu, value in zip(GPU_INFO, values, strict=True):
            fam.add_metric([gpu, GPU_INFO[gpu][0]] + (["sm"] if spec is c.GPU_CLOCK else []),
                           value)
        families.append(fam)
    for spec in (c.ENGINE_TTFT, c.ENGINE_TPOT, c.ENGINE_REQUEST_DURATION,
                 c.ENGINE_REQUEST_PROMPT_TOKENS, c.ENGINE_REQUEST_GENERATION_TOKENS):
        for target, scale in (("a", 1), ("b", 3)):  # b's pod labelled as discovery does
            pod = POD if target == "b" else {}
            fam = spec.family([*spec.labels, *pod])
            buckets = [(str(b), float(i * scale)) for i, b in enumerate(spec.buckets)]
            fam.add_metric(["vllm", "llama", target, *pod.values()],
                           buckets + [("+Inf", 50.0 * scale)], sum_value=7.5 * scale)
            families.append(fam)  # the snapshot joins same-named families, as the loop's
    waiting = c.ENGINE_REQUESTS_WAITING.family()
    waiting.add_metric(["vllm", "llama", "a"], 4)
    prompt = c.ENGINE_PROMPT_TOKENS.family()
    prompt.add_metric(["vllm", "llama", "a"], 1234)
    return Snapshot([*families, waiting, prompt])


def hw(gpu: str, **extra: str) -> dict[str, str]:
    return {"hw.id": GPU_INFO[gpu][0], "hw.name": f"gpu{gpu}", "hw.vendor": "NVIDIA", **extra}


def hw_gpu(gpu: str, **extra: str) -> dict[str, str]:
    uuid, model, serial = GPU_INFO[gpu]
    return hw(gpu, **{"hw.model": model, "hw.driver_version": "550.54.15",
                      **({"hw.serial_number": serial} if serial else {}), **extra})


def expected_numbers() -> dict[str, dict[frozenset, float]]:
    """What each number metric must carry, written out from VALUES."""
    out: dict[str, dict[frozenset, float]] = {}

    def put(name: str, attrs: dict, value: float) -> None:
        out.setdefault(name, {})[frozenset(attrs.items())] = value

    for n, gpu in enumerate(GPU_INFO):
        for spec, task in ((c.GPU_UTILIZATION, "general"), (c.GPU_ENCODER_UTILIZATION,
                           "encoder"), (c.GPU_DECODER_UTILIZATION, "decoder")):
            put("hw.gpu.utilization", hw_gpu(gpu, **{"hw.gpu.task": task}), VALUES[spec][n])
        put("hw.gpu.memory.usage", hw_gpu(gpu), VALUES[c.GPU_MEMORY_USED][n])
        put("hw.gpu.memory.limit", hw_gpu(gpu), VALUES[c.GPU_MEMORY_TOTAL][n])
        for spec, direction in ((c.GPU_PCIE_TX, "transmit"), (c.GPU_PCIE_RX, "receive")):
            put("hw.gpu.io", hw_gpu(gpu, **{"network.io.direction": direction}),
                VALUES[spec][n])
        put("hw.power", hw(gpu, **{"hw.type": "gpu"}), VALUES[c.GPU_POWER_USAGE][n])
        put("hw.energy", hw(gpu, **{"hw.type": "gpu"}), VALUES[c.GPU_ENERGY][n])
        for spec, sensor in ((c.GPU_TEMPERATURE, "die"), (c.GPU_MEMORY_TEMPERATURE, "memory")):
            uuid = GPU_INFO[gpu][0]
            put("hw.temperature", hw(gpu, **{
                "hw.id": f"{uuid}-{sensor}", "hw.parent": uuid, "hw.name": f"gpu{gpu}-{sensor}",
                "hw.sensor_location": f"GPU{gpu}_{sensor.upper()}"}), VALUES[spec][n])
    put("hw.gpu.memory.utilization", hw_gpu("0"), 6e10 / 8e10)  # GPU 1: total 0, left out
    return out


def points(metric) -> dict[frozenset, float]:
    kind = metric.WhichOneof("data")
    return {frozenset((a.key, a.value.string_value) for a in p.attributes):
            getattr(p, p.WhichOneof("value")) for p in getattr(metric, kind).data_points}


@pytest.fixture(params=["http/protobuf", "grpc"])
async def receiver(request, aiohttp_server) -> AsyncIterator[tuple[Receiver, str, str]]:
    if request.param == "grpc":
        async with GrpcReceiver() as rx:
            yield rx, rx.url, request.param
        return
    rx = Receiver()
    server = await aiohttp_server(rx.app(), host="127.0.0.1")
    yield rx, str(server.make_url("/v1/metrics")), request.param


async def push(receiver, snapshot: Snapshot, naming: str = "semconv"):
    rx, url, protocol = receiver
    loop = SimpleNamespace(snapshot=snapshot, first_round=asyncio.Event(), reporters=[])
    pusher = build_pusher(Otlp(endpoint=url, protocol=protocol, naming=naming,
                               headers={"X-Org": "lab"}), loop, node_name="gpu-node-7")
    assert await pusher.push_once()
    (got,) = await rx.wait_for(1)
    return got


async def test_names_types_units_attributes_and_values(receiver) -> None:
    snapshot = gpu_engine_snapshot()
    got = await push(receiver, snapshot)
    metrics = got.metrics()
    rows = {row.name: row for row in TABLE}
    assert sorted(metrics) == sorted([*rows, c.GPU_CLOCK.name, c.GPU_INFO.name,
                                      c.ENGINE_REQUESTS_WAITING.name,
                                      c.ENGINE_PROMPT_TOKENS.name.removesuffix("_total")])
    for name, row in rows.items():
        m = metrics[name]
        assert (m.unit, m.description) == (row.unit, row.brief), name
        kind = m.WhichOneof("data")
        assert kind == {"updowncounter": "sum", "counter": "sum"}.get(row.instrument,
                                                                      row.instrument), name
        if kind == "sum":
            assert m.sum.is_monotonic == (row.instrument == "counter"), name
        if kind in ("sum", "histogram"):
            assert getattr(m, kind).aggregation_temporality == CUMULATIVE, name
        for p in getattr(m, kind).data_points:  # a gauge has no start, the others the process'
            assert p.time_unix_nano == int(snapshot.created * 1e9), name
            assert (p.start_time_unix_nano == 0) == (kind == "gauge"), name
            assert p.start_time_unix_nano <= p.time_unix_nano, name
        if kind != "histogram":
            number = {p.WhichOneof("value") for p in getattr(m, kind).data_points}
            assert number == {"as_int" if row.integer else "as_double"}, name
    for name, want in expected_numbers().items():
        assert points(metrics[name]) == want, name
    assert got.schema_urls() == {SCHEMA_URL}
    assert metrics[c.ENGINE_REQUESTS_WAITING.name].unit == "{request}"
    assert metrics[c.ENGINE_PROMPT_TOKENS.name.removesuffix("_total")].unit == "{token}"
    assert c.GPU_UTILIZATION.name not in metrics and c.ENGINE_TTFT.name not in metrics


async def test_the_histograms_keep_bounds_counts_and_sums(receiver) -> None:
    got = await push(receiver, gpu_engine_snapshot())
    metrics = got.metrics()
    sources = {"gen_ai.server.time_to_first_token": [(c.ENGINE_TTFT, {})],
               "gen_ai.server.time_per_output_token": [(c.ENGINE_TPOT, {})],
               "gen_ai.server.request.duration": [(c.ENGINE_REQUEST_DURATION, {})],
               "gen_ai.client.token.usage": [
                   (c.ENGINE_REQUEST_PROMPT_TOKENS, {"gen_ai.token.type": "input"}),
                   (c.ENGINE_REQUEST_GENERATION_TOKENS, {"gen_ai.token.type": "output"})]}
    for name, specs in sources.items():
        want = {}
        for spec, extra in specs:
            for target, scale in (("a", 1), ("b", 3)):
                attrs = {"gen_ai.provider.name": "vllm", "gen_ai.request.model": "llama",
                         "gen_ai.operation.name": "chat", "target": target, **extra}
                if target == "b":
                    attrs |= {"k8s.namespace.name": "serving", "k8s.pod.name": "llama-0"}
                counts = [0] + [scale] * (len(spec.buckets) - 1) + [
                    50 * scale - (len(spec.buckets) - 1) * scale]
                want[frozenset(attrs.items())] = (list(spec.buckets), counts, 50 * scale,
                                                  7.5 * scale)
        got_points = {frozenset((a.key, a.value.string_value) for a in p.attributes):
                      (list(p.explicit_bounds), list(p.bucket_counts), p.count, p.sum)
                      for p in metrics[name].histogram.data_points}
        assert got_points == want, name


async def test_a_real_snapshot_over_simulated_gpus(receiver) -> None:
    loop = build_loop(ExporterConfig(simulate_gpus=2))
    await loop.start()
    await asyncio.wait_for(loop.first_round.wait(), 10)
    await loop.stop()
    snapshot = loop.snapshot
    metrics = (await push(receiver, snapshot)).metrics()
    fams = {f.name: f for f in snapshot.families}
    used = {s.labels["uuid"]: s.value for s in fams[c.GPU_MEMORY_USED.name].samples}
    total = {s.labels["uuid"]: s.value for s in fams[c.GPU_MEMORY_TOTAL.name].samples}
    got = {dict(k)["hw.id"]: v for k, v in points(metrics["hw.gpu.memory.utilization"]).items()}
    assert got == pytest.approx({u: used[u] / total[u] for u in used}) and len(got) == 2
    for spec, name, key in ((c.GPU_POWER_USAGE, "hw.power", "hw.id"),
                            (c.GPU_TEMPERATURE, "hw.temperature", "hw.parent"),
                            (c.GPU_UTILIZATION, "hw.gpu.utilization", "hw.id")):
        want = {s.labels["uuid"]: s.value for s in fams[spec.name].samples}
        got = {dict(k)[key]: v for k, v in points(metrics[name]).items()
               if dict(k).get("hw.gpu.task", "general") == "general"
               and not dict(k)["hw.id"].endswith("-memory")}
        assert got == want, name
    models = {dict(k)["hw.model"] for k in points(metrics["hw.gpu.memory.usage"])}
    assert models == {s.labels["name"] for s in fams[c.GPU_INFO.name].samples}


async def test_the_resource_carries_the_downward_api(receiver, monkeypatch) -> None:
    monkeypatch.setenv("POD_NAME", "inferwatch-exporter-x7k2p")
    monkeypatch.setenv("POD_NAMESPACE", "monitoring")
    monkeypatch.setenv("HOSTNAME", "not-this")
    got = await push(receiver, gpu_engine_snapshot())
    resource = got.resource()
    assert (resource["k8s.pod.name"], resource["k8s.namespace.name"],
            resource["k8s.node.name"]) == ("inferwatch-exporter-x7k2p", "monitoring",
                                           "gpu-node-7")
    assert got.headers["x-org"] == "lab"


async def test_prometheus_naming_pins_only_the_resource_schema(receiver, monkeypatch) -> None:
    monkeypatch.delenv("POD_NAME", raising=False)
    got = await push(receiver, gpu_engine_snapshot(), naming="prometheus")
    rm = got.request.resource_metrics[0]
    assert (rm.schema_url, rm.scope_metrics[0].schema_url) == (SCHEMA_URL, "")
    assert c.GPU_UTILIZATION.name in got.metrics() and "hw.power" not in got.metrics()
    assert "k8s.pod.name" not in got.resource()
