"""EngineCollector with model facts: simulated SGLang engines whose /get_server_info answers,
hangs or answers garbage. The metrics of every target are in the first run and never wait for
an info endpoint; the facts follow once fetched; the bad ones are `info_up 0`."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from inferwatch import catalog as c
from inferwatch.exporter.collectors.engines.collector import EngineCollector
from inferwatch.exporter.collectors.engines.targets import Target
from inferwatch.simulate.engines.sim import Simulation


async def engine(info) -> tuple[web.AppRunner, str]:
    sim = Simulation("sglang")

    async def metrics(_req: web.Request) -> web.Response:
        return web.Response(body=sim.body(1.0), content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/get_server_info", info(sim))
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/metrics"


def answers(sim):
    async def handler(_req):
        return web.json_response({**sim.extra(1.0)["/get_server_info"], "tp_size": 4,
                                  "dtype": "bfloat16", "quantization": None})
    return handler


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
    servers = {k: await engine(h) for k, h in
               (("ok", answers), ("hang", hangs), ("garbage", garbage))}
    urls = {k: u for k, (_r, u) in servers.items()}
    collector = EngineCollector([Target("sglang", u) for u in urls.values()], interval=0.01,
                                timeout=1.0)
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
            if len(samples(families, c.ENGINE_INFO_UP.name, urls["hang"])) == 1:
                break
        info = samples(families, c.ENGINE_MODEL_INFO.name, urls["ok"])[0].labels
        assert (info["tensor_parallel_size"], info["dtype"], info["quantization"]) == \
            ("4", "bfloat16", "")
        assert samples(families, c.ENGINE_INFO.name, urls["ok"])[0].labels["version"] == "0.5.4"
        assert samples(families, c.ENGINE_INFO_UP.name, urls["ok"])[0].value == 1
        for bad in ("hang", "garbage"):
            assert samples(families, c.ENGINE_INFO_UP.name, urls[bad])[0].value == 0, bad
            assert samples(families, c.ENGINE_INFO_ERRORS.name, urls[bad])[0].value >= 1
            assert samples(families, c.ENGINE_UP.name, urls[bad])[0].value == 1, bad
    finally:
        await collector.aclose()
        for runner, _u in servers.values():
            await runner.cleanup()
