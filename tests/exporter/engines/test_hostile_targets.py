"""Hostile engine targets beside healthy ones, on real loopback aiohttp servers.

- The real exporter (build_loop over an ExporterConfig, make_app, the hardened server): one
  200,000-series target, a hanging one and two healthy simulated vLLM engines; over a bounded
  number of /metrics scrapes, each after a new snapshot, both healthy targets are `up 1` with
  their series, the huge one `up 0` with `sample_limit` counted; no error-level log, no
  "Task exception was never retrieved", no log line over a few kB.
- Isolation without limits: a 200,000-series page that takes longer to parse than its
  timeout never costs the healthy targets a run, and its parse is never started twice.
"""

from __future__ import annotations

import asyncio
import gc
import logging

import aiohttp
import pytest
from aiohttp import web

from inferwatch import catalog as c
from inferwatch.exporter.app import Hardening, make_app, start_server
from inferwatch.exporter.collectors.engines.collector import EngineCollector, ScrapeTarget
from inferwatch.exporter.collectors.engines.limits import SAMPLE_LIMIT, Limits
from inferwatch.exporter.collectors.engines.targets import Target
from inferwatch.exporter.config import ExporterConfig
from inferwatch.exporter.main import build_loop
from inferwatch.exposition.parser import parse
from inferwatch.simulate.engines.app import make_app as make_engine
from inferwatch.simulate.engines.sim import Simulation

SERIES = 200_000
SCRAPES = 8
LOG_MOST = 4096
BOUND = 30.0  # seconds the whole run may take before the test fails


@pytest.fixture(scope="module")
def huge_page() -> bytes:
    return b"# TYPE vllm:x gauge\n" + b"".join(b'vllm:x{i="%d"} 1\n' % i for i in range(SERIES))


@pytest.fixture
async def servers(aiohttp_server, huge_page):
    async def huge(request: web.Request) -> web.Response:
        return web.Response(body=huge_page, content_type="text/plain")

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(60)
        return web.Response(text="")

    hostile = web.Application()
    hostile.router.add_get("/huge", huge)
    hostile.router.add_get("/hang", hang)
    bad = await aiohttp_server(hostile, host="127.0.0.1")
    healthy = [str((await aiohttp_server(make_engine(Simulation("vllm", seed=n), speed=60.0),
                                         host="127.0.0.1")).make_url("/metrics"))
               for n in range(2)]
    return healthy, str(bad.make_url("/huge")), str(bad.make_url("/hang"))


def series(text: bytes) -> list[tuple[str, dict[str, str], float]]:
    return [(name, dict(labels), v) for f in parse(text).values() for name, labels, v in f.samples]


def up_of(found, target: str) -> list[float]:
    return [v for n, labels, v in found if n == c.ENGINE_UP.name and labels["target"] == target]


async def test_every_scrape_carries_the_healthy_targets(servers, caplog) -> None:
    healthy, huge, hang = servers
    caplog.set_level(logging.INFO)
    config = ExporterConfig.model_validate({
        "collectors": {"gpu": {"enabled": False}, "host": {"enabled": False},
                       "engines": {"interval": 0.5, "timeout": 0.4}},
        "engines": [*(f"vllm={u}" for u in healthy), f"vllm={huge}", f"vllm={hang}"]})
    loop = build_loop(config)
    runner, site = await start_server(make_app(loop), "127.0.0.1", 0, None, Hardening())
    url = f"http://127.0.0.1:{site.port}/metrics"
    try:
        async with asyncio.timeout(BOUND), aiohttp.ClientSession() as session:
            await loop.first_round.wait()
            for _ in range(SCRAPES):
                seen = loop.snapshot
                while loop.snapshot is seen:  # the next run's snapshot
                    await asyncio.sleep(0.02)
                async with session.get(url) as resp:
                    found = series(await resp.read())
                for target in healthy:
                    assert up_of(found, target) == [1.0], target
                    assert any(n == c.ENGINE_KV_CACHE_USAGE.name and labels["target"] == target
                               for n, labels, _ in found), target
                assert up_of(found, huge) == [0.0]
                assert up_of(found, hang) == [0.0]
                assert [v for n, labels, v in found if labels.get("target") == huge and
                        n == c.ENGINE_SCRAPE_LIMIT_EXCEEDED.name and
                        labels["limit"] == SAMPLE_LIMIT][0] >= 1
                assert not [n for n, labels, _ in found if n.startswith("vllm:")]
                assert len(found) < 5_000
    finally:
        await runner.cleanup()
    gc.collect()  # an unretrieved task exception is reported when the task is collected
    await asyncio.sleep(0)
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for r, m in zip(caplog.records, messages, strict=True)
                if r.levelno >= logging.ERROR], messages
    assert not [m for m in messages if "never retrieved" in m]
    assert max(len(m) for m in messages) < LOG_MOST
    assert sum(f"target={huge} down: sample_limit" in m for m in messages) == 1
    collectors = [s for s in series(loop.snapshot.text) if s[0] == c.COLLECTOR_UP.name]
    assert [v for _, labels, v in collectors if labels["collector"] == "engines"] == [1.0]


async def test_a_slow_parse_without_limits_never_delays_the_others(servers, caplog) -> None:
    healthy, huge, _hang = servers
    unlimited = Limits(sample_limit=0, label_limit=0, label_name_length_limit=0,
                       label_value_length_limit=0)
    # 0.3 s: less than 200,000 samples take to parse (0.6 s idle), so the parse outlives its
    # scrape and the next scrape finds it still running
    targets = [*(Target("vllm", u) for u in healthy),
               ScrapeTarget(Target("vllm", huge), timeout=0.3, limits=unlimited)]
    collector = EngineCollector(targets, interval=0.1, timeout=2.0, clock=_ticks())
    caplog.set_level(logging.INFO, "inferwatch.exporter.collectors.engines")
    reasons = set()
    try:
        for _ in range(20):  # until both reasons were seen
            if any("timed out" in r for r in reasons) and any("still" in r for r in reasons):
                break
            async with asyncio.timeout(collector.timeout):  # the loop's bound on a run
                found = [(s.name, s.labels, s.value) for f in await collector.collect()
                         for s in f.samples]
            for target in healthy:
                assert up_of(found, target) == [1.0]
            assert up_of(found, huge) == [0.0]
            reasons.add(next(s for t, s in collector_states(collector) if t == huge))
    finally:
        await collector.aclose()
    assert any("timed out" in r for r in reasons), reasons
    assert any("still running" in r for r in reasons), reasons


def _ticks():
    now = [0.0]

    def clock() -> float:
        now[0] += 100.0  # every target due at every run
        return now[0]
    return clock


def collector_states(collector: EngineCollector) -> list[tuple[str, str]]:
    return [(s.shown, s.error) for s in collector._states.values()]
