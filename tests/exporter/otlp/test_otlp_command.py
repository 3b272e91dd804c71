"""`inferwatch exporter --otlp.endpoint ...` as a subprocess against a loopback receiver, the
otlp flags and config section, and a plain exporter that never loads opentelemetry."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from inferwatch.cli import build_parser
from inferwatch.core.config import ConfigError
from inferwatch.exporter.cli import EXPORTER_FLAGS, overrides
from inferwatch.exporter.config import load_config
from tests.support.otlp import FAIL, HANG, GrpcReceiver, Receiver
from tests.support.procs import PYTHON, ROOT, free_port

SECRET = "s3cr3t-token-value"
KINDS = {"counter": "sum", "gauge": "gauge", "histogram": "histogram"}


@contextlib.asynccontextmanager
async def exporter(endpoint: str, *flags: str,
                   **env: str) -> AsyncIterator[tuple[str, list[str]]]:
    """The exporter over two simulated GPUs pushing to `endpoint` every second, at debug
    level: (its /metrics URL, a list that gets its stderr lines once it has stopped)."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "inferwatch.cli", "exporter", "--simulate-gpus", "2",
        "--web.listen-address", f"127.0.0.1:{port}", "--no-collector.host", "--log.level",
        "debug", "--otlp.endpoint", endpoint, "--otlp.interval", "1s",
        "--otlp.header", f"Authorization=Bearer {SECRET}", "--otlp.header", "X-Org=lab", *flags,
        cwd=ROOT, env={**os.environ, "NODE_NAME": "gpu-node-3", **env},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    stderr: list[str] = []
    try:
        yield f"http://127.0.0.1:{port}/metrics", stderr
    finally:
        proc.terminate()
        out = await asyncio.wait_for(proc.stderr.read(), 20)
        await proc.wait()
        stderr.extend(out.decode().splitlines())


async def scrape(url: str, timeout: float = 10.0) -> str:
    """The body of `url` once it answers 200."""
    async with aiohttp.ClientSession() as session, asyncio.timeout(timeout):
        while True:
            with contextlib.suppress(aiohttp.ClientConnectionError):
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return await resp.text()
            await asyncio.sleep(0.1)


async def test_the_command_pushes_what_it_serves(aiohttp_server) -> None:
    rx = Receiver()
    server = await aiohttp_server(rx.app(), host="127.0.0.1")
    async with exporter(str(server.make_url("/v1/metrics")), "--otlp.resource-attributes",
                        "k8s.cluster.name=lab,deployment.environment=test") as (url, stderr):
        got = await rx.wait_for(2)
        text = await scrape(url)
    metrics = got[-1].metrics()
    for fam in text_string_to_metric_families(text):
        assert metrics[fam.name].WhichOneof("data") == KINDS[fam.type], fam.name
    assert metrics["inferwatch_gpu_power_usage_watts"].unit == "W"
    assert metrics["inferwatch_gpu_energy_joules"].sum.is_monotonic
    gpus = {a.value.string_value for p in metrics["inferwatch_gpu_up"].gauge.data_points
            for a in p.attributes if a.key == "gpu"}
    assert gpus == {"0", "1"}
    resource = got[-1].resource()
    assert resource["k8s.node.name"] == "gpu-node-3"
    assert resource["service.name"] == "inferwatch-exporter"
    assert resource["k8s.cluster.name"] == "lab"
    assert got[-1].headers["authorization"] == f"Bearer {SECRET}"
    assert got[-1].headers["x-org"] == "lab"
    assert stderr and not [line for line in stderr if SECRET in line]


async def test_the_command_pushes_semconv_over_grpc() -> None:
    async with GrpcReceiver() as rx, exporter(
            rx.url, "--otlp.protocol", "grpc", "--otlp.naming", "semconv", POD_NAME="exp-1",
            POD_NAMESPACE="monitoring", HOSTNAME="not-the-pod") as (url, stderr):
        got = await rx.wait_for(2)
        text = await scrape(url)
    metrics = got[-1].metrics()
    assert {"hw.gpu.utilization", "hw.power", "hw.energy", "hw.gpu.memory.usage"} <= set(metrics)
    assert "inferwatch_gpu_power_usage_watts" not in metrics
    assert "inferwatch_gpu_power_usage_watts" in text  # /metrics keeps its names
    ids = {a.value.string_value for p in metrics["hw.power"].gauge.data_points
           for a in p.attributes if a.key == "hw.id"}
    assert len(ids) == 2 and all(f'uuid="{i}"' in text for i in ids)
    resource = got[-1].resource()
    assert (resource["k8s.pod.name"], resource["k8s.namespace.name"],
            resource["k8s.node.name"]) == ("exp-1", "monitoring", "gpu-node-3")
    assert got[-1].schema_urls() == {"https://opentelemetry.io/schemas/1.44.0"}
    assert got[-1].headers["authorization"] == f"Bearer {SECRET}"
    assert f"pushing OTLP metrics to {rx.url} every 1s (semconv names)" in "\n".join(stderr)
    assert not [line for line in stderr if SECRET in line]


@pytest.mark.parametrize("mode", [FAIL, HANG])
async def test_a_broken_receiver_leaves_metrics_alone(aiohttp_server, mode) -> None:
    rx = Receiver(mode=mode)
    server = await aiohttp_server(rx.app(), host="127.0.0.1")
    endpoint = str(server.make_url("/v1/metrics"))
    async with exporter(endpoint, "--otlp.timeout", "500ms") as (url, stderr):
        await scrape(url.replace("/metrics", "/readyz"))  # the collectors' first round is in
        while rx.attempts < 3:
            start = time.monotonic()
            assert "inferwatch_gpu_up" in await scrape(url)
            assert time.monotonic() - start < 0.5
            await asyncio.sleep(0.1)
    assert not rx.received
    text = "\n".join(stderr)
    assert f"pushing OTLP metrics to {endpoint} every 1s" in text
    assert "failed (2 failures so far)" in text, text
    assert SECRET not in text


def parse(*argv: str):
    args = build_parser(["exporter", *argv]).parse_args(["exporter", *argv])
    return load_config(None, overrides(args, EXPORTER_FLAGS)).exporter.otlp


def test_the_flags() -> None:
    otlp = parse("--otlp.endpoint", "https://otel:4318/v1/metrics", "--otlp.interval", "30s",
                 "--otlp.timeout", "5s", "--otlp.header", "Authorization=Bearer a=b",
                 "--otlp.header", "X-Org=lab", "--otlp.resource-attributes", "a=1, b.c=two")
    assert (otlp.endpoint, otlp.interval, otlp.timeout) == ("https://otel:4318/v1/metrics",
                                                            30.0, 5.0)
    assert {k: v.get_secret_value() for k, v in otlp.headers.items()} == {
        "Authorization": "Bearer a=b", "X-Org": "lab"}
    assert otlp.resource_attributes == {"a": "1", "b.c": "two"}
    assert SECRET not in repr(parse("--otlp.header", f"A={SECRET}"))
    assert parse("--otlp.interval", "2s").timeout == 2.0
    assert parse().timeout == 10.0 and parse().endpoint is None


@pytest.mark.parametrize(("argv", "problem"), [
    (["--otlp.endpoint", "otel:4318"], "--otlp.endpoint: 'otel:4318' is not an http"),
    (["--otlp.interval", "0s"], "--otlp.interval: Input should be greater than 0"),
    (["--otlp.interval", "1s", "--otlp.timeout", "2s"], "timeout must be above 0 and at most"),
    (["--otlp.header", f"Authorization {SECRET}"], "--otlp.header: header #1 is not NAME=VALUE"),
    (["--otlp.header", f"Bad Name: {SECRET}=x"], "header #1: the name is not an HTTP token"),
    (["--otlp.header", "A=1", "--otlp.header", "a=2"], "--otlp.header: header a is given twice"),
    (["--otlp.resource-attributes", "a=1,b"], "--otlp.resource-attributes: 'a=1,b' is not"),
])
def test_bad_flags_are_clear_errors_that_never_echo_a_header(argv, problem) -> None:
    with pytest.raises(ConfigError) as err:
        parse(*argv)
    assert any(problem in p for p in err.value.problems), err.value.problems
    assert all(SECRET not in p for p in err.value.problems)


def test_the_config_file(tmp_path) -> None:
    path = tmp_path / "inferwatch.yaml"
    path.write_text("exporter:\n  otlp:\n    endpoint: http://otel:4318/v1/metrics\n"
                    "    headers: {X-Org: lab, X-Tenant: 42}\n"
                    "    resource_attributes: {k8s.cluster.name: prod}\n")
    otlp = load_config(path).exporter.otlp
    assert {k: v.get_secret_value() for k, v in otlp.headers.items()} == {"X-Org": "lab",
                                                                           "X-Tenant": "42"}
    assert otlp.resource_attributes == {"k8s.cluster.name": "prod"}
    path.write_text("exporter:\n  otlp:\n    endpoint: http://otel\n    compression: gzip\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.problems == [f"{path}: exporter.otlp.compression: unknown field"]


def test_a_plain_exporter_never_imports_opentelemetry() -> None:
    code = ("import sys; from inferwatch.exporter.config import ExporterConfig\n"
            "from inferwatch.exporter.main import build_loop\n"
            "from inferwatch.exporter.app import make_app\n"
            "make_app(build_loop(ExporterConfig(simulate_gpus=1)))\n"
            "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))")
    run = subprocess.run([PYTHON, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True)
    assert run.stdout.strip() == "[]", run.stdout
