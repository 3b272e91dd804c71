"""EngineCollector against real aiohttp servers on 127.0.0.1: the bad-target matrix (hang,
500, garbage, truncated, endless, refused) marks only that target down with a logged reason
while a healthy one keeps reporting; renames show up as `source_lost`; namespace/pod labels;
metrics-path probing; the model name from an engine's info endpoint."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

import pytest
from aiohttp import web

from inferwatch import catalog as c
from inferwatch.exporter.collectors.engines.collector import EngineCollector, ScrapeTarget
from inferwatch.exporter.collectors.engines.targets import Target
from inferwatch.simulate.engines.app import make_app
from inferwatch.simulate.engines.sim import Simulation
from tests.support.procs import free_port

TIMEOUT = 0.5
CAP = 256 * 1024


def samples(families) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples}


def up(families, url: str) -> float:
    return next(v for (n, labels), v in samples(families).items()
                if n == c.ENGINE_UP.name and ("target", url) in labels)


def names_for(families, url: str) -> set[str]:
    return {n for (n, labels) in samples(families) if ("target", url) in labels}


def fake_clock():
    ticks = itertools.count(0, 100)
    return lambda: float(next(ticks))


async def hang(request: web.Request) -> web.Response:
    await asyncio.sleep(30)
    return web.Response(text="")


async def error(request: web.Request) -> web.Response:
    return web.Response(status=500, text="internal error")


async def garbage(request: web.Request) -> web.Response:
    return web.Response(text='vllm:num_requests_running{model_name="m" 1\n<html>oops</html>\n')


async def truncated(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Length": "100000"})
    await resp.prepare(request)
    await resp.write(b'vllm:num_requests_running{model_name="m"} 1\n')
    request.transport.close()
    return resp


async def endless(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse()
    await resp.prepare(request)
    line = b'vllm:num_requests_running{model_name="m"} 1\n' * 1000
    for _ in range(10_000):
        await resp.write(line)
    return resp


@pytest.fixture
async def bad_server(aiohttp_server):
    app = web.Application()
    for path, handler in (("/hang", hang), ("/500", error), ("/garbage", garbage),
                          ("/truncated", truncated), ("/endless", endless)):
        app.router.add_get(path, handler)
    return await aiohttp_server(app, host="127.0.0.1")


@pytest.fixture
async def sim_server(aiohttp_server):
    async def start(kind: str):
        return await aiohttp_server(make_app(Simulation(kind), speed=60.0), host="127.0.0.1")
    return start


REASONS = {"/hang": "timed out", "/500": "HTTP 500", "/garbage": "line 1",
           "/truncated": "truncated body", "/endless": "over the cap"}


async def test_bad_targets_are_down_and_never_touch_the_healthy_one(
        bad_server, sim_server, caplog) -> None:
    healthy = str((await sim_server("vllm")).make_url("/metrics"))
    bad = {path: str(bad_server.make_url(path)) for path in REASONS}
    refused = f"http://127.0.0.1:{free_port()}/metrics"
    targets = [Target("vllm", healthy), *(Target("vllm", u) for u in bad.values()),
               Target("auto", refused)]
    collector = EngineCollector(targets, interval=5.0, timeout=TIMEOUT, max_body_bytes=CAP,
                                clock=fake_clock())
    caplog.set_level(logging.INFO, "inferwatch.exporter.collectors.engines")
    try:
        start = time.monotonic()
        families = await collector.collect()
        assert time.monotonic() - start < TIMEOUT + 1.0
    finally:
        await collector.aclose()
    assert up(families, healthy) == 1
    assert c.ENGINE_KV_CACHE_USAGE.name in names_for(families, healthy)
    assert c.ENGINE_TTFT.name + "_bucket" in names_for(families, healthy)
    for path, url in [*bad.items(), ("refused", refused)]:
        assert up(families, url) == 0, path
        assert names_for(families, url) == {c.ENGINE_UP.name, c.ENGINE_SCRAPE_DURATION.name}
        reason = REASONS.get(path, "cannot connect")
        assert any(url in r.message and "down" in r.message and reason in r.message
                   for r in caplog.records), (path, [r.message for r in caplog.records])


async def test_collector_run_fits_its_timeout_in_the_loop(bad_server) -> None:
    collector = EngineCollector([Target("vllm", str(bad_server.make_url("/hang")))],
                                interval=2.0, timeout=TIMEOUT)
    try:
        await asyncio.wait_for(collector.collect(), collector.timeout)
    finally:
        await collector.aclose()


async def test_lost_source_shows_in_metrics_and_logs(aiohttp_server, caplog) -> None:
    full = Simulation("vllm").body(60.0)
    state = {"body": full}

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=state["body"], content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    url = str((await aiohttp_server(app, host="127.0.0.1")).make_url("/metrics"))
    collector = EngineCollector([Target("vllm", url)], timeout=TIMEOUT, clock=fake_clock())
    caplog.set_level(logging.INFO, "inferwatch.exporter.collectors.engines")
    lost_name, info_name = c.ENGINE_SOURCE_LOST.name, c.ENGINE_SOURCE_INFO.name
    try:
        before = samples(await collector.collect())
        state["body"] = b"\n".join(line for line in full.splitlines()
                                   if b"kv_cache_usage_perc" not in line)
        after = samples(await collector.collect())
        state["body"] = full
        again = samples(await collector.collect())
    finally:
        await collector.aclose()

    def concept(s, name):
        return {dict(labels)["source_metric"] for (n, labels), v in s.items()
                if n == name and dict(labels)["concept"] == "kv_cache_usage_ratio" and v == 1}

    assert concept(before, info_name) == {"vllm:kv_cache_usage_perc"}
    assert concept(before, lost_name) == set()
    assert concept(after, info_name) == set()
    assert concept(after, lost_name) == {"vllm:kv_cache_usage_perc"}
    assert not any(n == c.ENGINE_KV_CACHE_USAGE.name for n, _ in after)
    assert any("lost its source vllm:kv_cache_usage_perc" in r.message for r in caplog.records)
    assert concept(again, lost_name) == set()
    assert concept(again, info_name) == {"vllm:kv_cache_usage_perc"}


async def test_kubernetes_labels_path_probing_and_info_model(sim_server) -> None:
    trtllm = (await sim_server("trtllm-serve")).make_url("/")
    tgi = (await sim_server("tgi")).make_url("/metrics")
    pod = Target("auto", str(trtllm).rstrip("/"), namespace="llm", pod="trt-0", role="decode")
    collector = EngineCollector([ScrapeTarget(pod, interval=1.0), Target("tgi", str(tgi))],
                                timeout=TIMEOUT, clock=fake_clock())
    try:
        found = samples(await collector.collect())
    finally:
        await collector.aclose()
    running = {frozenset(labels) for (n, labels) in found if n == c.ENGINE_REQUESTS_RUNNING.name}
    assert frozenset({("engine", "trtllm"), ("model", "meta-llama/Llama-3.1-8B-Instruct"),
                      ("target", pod.url), ("namespace", "llm"), ("pod", "trt-0"),
                      ("role", "decode")}) in running  # the config's role: trtllm says none
    assert frozenset({("engine", "tgi"), ("model", "meta-llama/Llama-3.1-8B-Instruct"),
                      ("target", str(tgi)), ("role", "both")}) in running
    assert collector.interval == 1.0


async def test_credentials_in_a_target_url_reach_no_label_and_no_log(
        aiohttp_server, bad_server, caplog) -> None:
    secret = "hunter2-secret"
    state = {"body": Simulation("vllm").body(60.0)}

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=state["body"], content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    server = await aiohttp_server(app, host="127.0.0.1")
    good = server.make_url("/metrics").with_user("scraper").with_password(secret)
    good = good.with_query(token=secret)
    bad = [bad_server.make_url(p).with_user("scraper").with_password(secret)
           for p in ("/500", "/garbage", "/hang")]
    refused = f"http://scraper:{secret}@127.0.0.1:{free_port()}/metrics"
    targets = [Target("vllm", str(good)), *(Target("vllm", str(u)) for u in bad),
               Target("auto", refused)]
    collector = EngineCollector(targets, timeout=TIMEOUT, clock=fake_clock())
    caplog.set_level(logging.DEBUG, "inferwatch.exporter.collectors.engines")
    try:
        first = await collector.collect()
        state["body"] = b"\n".join(line for line in state["body"].splitlines()
                                   if b"kv_cache_usage_perc" not in line)
        second = await collector.collect()
    finally:
        await collector.aclose()
    shown = str(server.make_url("/metrics"))
    assert up(first, shown) == 1
    assert any(r.message.startswith(f"engine target={shown} concept=") for r in caplog.records)
    for found in (samples(first), samples(second)):
        for (_name, labels), _value in found.items():
            assert not any(secret in v for _k, v in labels), labels
    assert caplog.records and not any(secret in r.getMessage() for r in caplog.records)


async def test_a_target_that_crashes_its_scrape_is_down_alone(sim_server, caplog) -> None:
    url = str((await sim_server("vllm")).make_url("/metrics"))
    # a kind without a mapping fails inside the scrape (KeyError), as a normaliser bug would
    collector = EngineCollector([Target("vllm", url), Target("no-such-engine", url)],
                                timeout=TIMEOUT, clock=fake_clock())
    caplog.set_level(logging.INFO, "inferwatch.exporter.collectors.engines")
    try:
        families = await collector.collect()
    finally:
        await collector.aclose()
    assert up(families, url) == 1
    down = [s for f in families for s in f.samples
            if s.name == c.ENGINE_UP.name and s.labels["engine"] == "no-such-engine"]
    assert [s.value for s in down] == [0.0]
    assert any("down: crashed: KeyError" in r.message for r in caplog.records)
