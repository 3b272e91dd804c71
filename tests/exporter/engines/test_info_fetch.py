"""The info fetcher over loopback engines: one answering SGLang's /get_server_info from our
fixture, one hanging, one answering garbage; each is marked (up, errors, one log line per
change) and none holds up the caller."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from inferwatch.exporter.collectors.engines.info import InfoFetcher

FIXTURE = Path(__file__).parents[2] / "testdata" / "engines" / "info" / \
    "sglang-get-server-info.json"


async def serve(handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/get_server_info", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}/metrics"


async def good(_req: web.Request) -> web.Response:
    return web.json_response(json.loads(FIXTURE.read_text()))


async def hang(_req: web.Request) -> web.Response:
    await asyncio.sleep(3600)
    return web.Response()


async def garbage(_req: web.Request) -> web.Response:
    return web.Response(body=b"\x00\xffnot json{", content_type="application/json")


@pytest.mark.asyncio
async def test_hanging_and_garbage_info_endpoints_are_marked_and_hold_nobody_up(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    servers = [await serve(h) for h in (good, hang, garbage)]
    fetcher = InfoFetcher(interval=0.0)
    try:
        async with aiohttp.ClientSession() as session:
            for _round in range(2):
                start = time.perf_counter()
                for name, (_r, url) in zip(("good", "hang", "garbage"), servers, strict=True):
                    fetcher.start_due(session, name, "sglang", url, 1.0, name)
                assert time.perf_counter() - start < 0.5  # starting never waits for answers
                for _ in range(100):  # bounded: the 1 s timeout ends the hanging fetch
                    if all(s.up is not None and s.task.done() for s in fetcher.states.values()):
                        break
                    await asyncio.sleep(0.05)
        states = fetcher.states
        assert states["good"].up and states["good"].errors == 0
        assert states["good"].facts.quantization == "awq_marlin"
        assert states["good"].facts.tensor_parallel_size == "2"
        assert states["hang"].up is False and states["hang"].errors == 2
        assert "timed out" in states["hang"].error
        assert states["garbage"].up is False and "invalid JSON" in states["garbage"].error
        lines = [r.getMessage() for r in caplog.records if "info endpoints" in r.getMessage()]
        assert len(lines) == 2, lines  # one per target going wrong, not one per fetch
    finally:
        fetcher.cancel()
        for runner, _url in servers:
            await runner.cleanup()


def test_an_engine_without_info_endpoints_is_not_fetched() -> None:
    fetcher = InfoFetcher()
    fetcher.start_due(None, "t", "triton", "http://127.0.0.1:1/metrics", 1.0, "t")
    assert fetcher.states == {}


async def nested(_req: web.Request) -> web.Response:
    return web.Response(body=b"[" * 20_000, content_type="application/json")


async def endless(_req: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse()
    await resp.prepare(_req)
    for _ in range(64):  # 2 MiB, twice the cap, without a Content-Length
        await resp.write(b" " * 32 * 1024)
    return resp


async def oversized(_req: web.Request) -> web.Response:
    return web.Response(body=b" " * (64 * 1024 + 1), content_type="application/json")


@pytest.mark.asyncio
async def test_json_nested_too_deep_and_bodies_over_the_cap_are_marked() -> None:
    """Each answer is a fetch that fails and is counted, never a task dying unseen."""
    handlers = {"nested": nested, "endless": endless, "oversized": oversized}
    servers = {name: await serve(h) for name, h in handlers.items()}
    fetcher = InfoFetcher(interval=0.0, max_bytes=64 * 1024)
    try:
        async with aiohttp.ClientSession() as session:
            for name, (_r, url) in servers.items():
                fetcher.start_due(session, name, "sglang", url, 2.0, name)
            for _ in range(100):  # bounded: each fetch ends within its 2 s timeout
                if all(s.task.done() for s in fetcher.states.values()):
                    break
                await asyncio.sleep(0.05)
        states = fetcher.states
        assert {n: (s.up, s.errors) for n, s in states.items()} == {
            n: (False, 1) for n in handlers}
        assert "invalid JSON" in states["nested"].error
        assert "over the cap" in states["endless"].error
        assert "over the cap" in states["oversized"].error
    finally:
        fetcher.cancel()
        for runner, _url in servers.values():
            await runner.cleanup()


@pytest.mark.asyncio
async def test_an_endpoint_that_refuses_leaves_the_others_read() -> None:
    """vLLM started with --api-key guards /v1/* only: /v1/models is 401, /version answers."""
    async def refused(_req: web.Request) -> web.Response:
        return web.json_response({"error": "Unauthorized"}, status=401)

    async def version(_req: web.Request) -> web.Response:
        return web.json_response({"version": "0.11.0"})

    app = web.Application()
    app.router.add_get("/v1/models", refused)
    app.router.add_get("/version", version)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/metrics"
    fetcher = InfoFetcher(interval=0.0)
    try:
        async with aiohttp.ClientSession() as session:
            fetcher.start_due(session, "v", "vllm", url, 2.0, "v")
            await asyncio.wait_for(fetcher.states["v"].task, 10)
        state = fetcher.states["v"]
        assert (state.up, state.errors) == (False, 1)
        assert state.error == "/v1/models: HTTP 401"
        assert (state.facts.version, state.facts.model) == ("0.11.0", "")
    finally:
        await runner.cleanup()
