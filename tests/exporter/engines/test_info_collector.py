"""EngineCollector with model facts: the engine simulator's SGLang (/get_server_info) and vLLM
(/v1/models, /version) answering, and SGLang engines whose /get_server_info hangs or answers
garbage. The metrics of every target are in the first run and never wait for an info endpoint;
the facts follow once fetched; the bad ones are `info_up 0`."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import web

from inferwatch import catalog as c
from inferwatch.exporter.collectors.engines.collector import EngineCollector
from inferwatch.exporter.collectors.engines.targets import Target
from inferwatch.simulate.engines.app import make_app
from inferwatch.simulate.engines.sim import Simulation


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/metrics"


async def engine(info) -> tuple[web.AppRunner, str]:
    """A simulated SGLang engine's metrics with `info` as its /get_server_info."""
    sim = Simulation("sglang")

    async def metrics(_req: web.Request) -> web.Response:
        return web.Response(body=sim.body(1.0), content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/get_server_info", info(sim))
    return await serve(app)


def hangs(_sim):
    async def handler(_req):
        await asyncio.sleep(3600)
    return handler


def garbage(_sim):
    async def handler(_req):
        return web.Response(body=b"<html>oops", content_type="text/html")
    return handler


def samples(families, name: str, target: str) -> list:
    return [s for f in families for s in f.samples
            if s.name == name and s.labels.get("target") == target]


async def test_info_endpoints_answer_hang_and_fail_without_delaying_metrics() -> None:
    servers = {k: await engine(h) for k, h in (("hang", hangs), ("garbage", garbage))}
    servers["ok"] = await serve(make_app(Simulation("sglang")))
    servers["vllm"] = await serve(make_app(Simulation("vllm", model_name="org/llama-8b")))
    urls = {k: u for k, (_r, u) in servers.items()}
    collector = EngineCollector([Target("vllm" if k == "vllm" else "sglang", u)
                                 for k, u in urls.items()], interval=0.01, timeout=1.0)
    try:
        start = time.monotonic()
        first = await collector.collect()
        assert time.monotonic() - start < 1.0  # no info endpoint was waited for
        for url in urls.values():
            assert samples(first, c.ENGINE_UP.name, url)[0].value == 1
        for _ in range(60):  # bounded: the hanging fetch ends at its 1 s timeout
            await asyncio.sleep(0.05)
            start = time.monotonic()
            families = await collector.collect()
            assert time.monotonic() - start < 1.0
            if all(len(samples(families, c.ENGINE_INFO_UP.name, u)) == 1
                   for u in urls.values()):
                break
        info = samples(families, c.ENGINE_MODEL_INFO.name, urls["ok"])[0].labels
        assert {k: info[k] for k in ("tensor_parallel_size", "pipeline_parallel_size", "dtype",
                                     "quantization", "kv_cache_dtype", "block_size")} == {
            "tensor_parallel_size": "1", "pipeline_parallel_size": "1", "dtype": "bfloat16",
            "quantization": "", "kv_cache_dtype": "auto", "block_size": "1"}
        assert samples(families, c.ENGINE_INFO.name, urls["ok"])[0].labels["version"] == "0.5.4"
        vllm = samples(families, c.ENGINE_MODEL_INFO.name, urls["vllm"])[0].labels
        assert (vllm["model"], vllm["max_model_len"], vllm["block_size"]) == \
            ("org/llama-8b", "8192", "16")  # /v1/models' card; block size from cache_config_info
        assert samples(families, c.ENGINE_INFO.name, urls["vllm"])[0].labels["version"] == \
            "0.11.0"
        for good in ("ok", "vllm"):
            assert samples(families, c.ENGINE_INFO_UP.name, urls[good])[0].value == 1, good
        for bad in ("hang", "garbage"):
            assert samples(families, c.ENGINE_INFO_UP.name, urls[bad])[0].value == 0, bad
            assert samples(families, c.ENGINE_INFO_ERRORS.name, urls[bad])[0].value >= 1
            assert samples(families, c.ENGINE_UP.name, urls[bad])[0].value == 1, bad
    finally:
        await collector.aclose()
        for runner, _u in servers.values():
            await runner.cleanup()


@pytest.mark.parametrize("kind, path", [("tgi", "/info"), ("llamacpp", "/props")])
async def test_a_hanging_info_endpoint_of_an_engine_named_by_it_does_not_delay_metrics(
        kind: str, path: str) -> None:
    sim = Simulation(kind)

    async def metrics(_req: web.Request) -> web.Response:
        return web.Response(body=sim.body(1.0), content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get(path, hangs(sim))
    runner, url = await serve(app)
    collector = EngineCollector([Target(kind, url)], interval=0.01, timeout=0.5)
    try:
        start = time.monotonic()
        first = await collector.collect()
        assert time.monotonic() - start < 0.5
        assert samples(first, c.ENGINE_UP.name, url)[0].value == 1
    finally:
        await collector.aclose()
        await runner.cleanup()


@pytest.mark.parametrize("kind", ["tgi", "llamacpp"])
async def test_an_engine_named_by_its_info_endpoint_carries_the_model_from_its_first_scrape(
        kind: str) -> None:
    sim = Simulation(kind)
    runner, url = await serve(make_app(sim))
    url = url.removesuffix("/metrics") + sim.kind.metrics_path
    collector = EngineCollector([Target(kind, url)], interval=0.01, timeout=2.0)
    try:
        first = await collector.collect()
        running = samples(first, c.ENGINE_REQUESTS_RUNNING.name, url)
        assert running and {s.labels["model"] for s in running} == {sim.model_name}
    finally:
        await collector.aclose()
        await runner.cleanup()


@pytest.mark.parametrize(("kind", "engine", "path", "key"), [
    ("nim", "nim", "/v1/version", "release"),  # NIM's release, not its API version
    ("trtllm-serve", "trtllm", "/version", "version"),  # beside /prometheus/metrics
])
async def test_a_simulated_engine_says_its_version_on_its_metrics_server(
        kind: str, engine: str, path: str, key: str) -> None:
    sim = Simulation(kind)
    runner, url = await serve(make_app(sim))
    url = url.removesuffix("/metrics") + sim.kind.metrics_path
    clock = iter(float(t) for t in range(0, 10_000, 100))
    collector = EngineCollector([Target(engine, url)], timeout=2.0, clock=lambda: next(clock))
    try:
        for _ in range(20):  # the info fetch runs beside the scrapes: until it has answered
            families = await collector.collect()
            if samples(families, c.ENGINE_INFO.name, url):
                break
            await asyncio.sleep(0.05)
    finally:
        await collector.aclose()
        await runner.cleanup()
    (info,) = samples(families, c.ENGINE_INFO.name, url)
    assert info.labels["version"] == sim.extra(0.0)[path][key]
    assert [s.value for s in samples(families, c.ENGINE_INFO_UP.name, url)] == [1.0]
