"""Hostile engine targets beside healthy ones, on real loopback aiohttp servers.

- The real exporter (build_loop over an ExporterConfig, make_app, the hardened server): every
  hostile body of hostile.py (random bytes, 50 MB with and without Content-Length, 200,000
  series, 200,000 model names, a 1 MiB label, invalid UTF-8, an endless body, slowloris, a
  hang) and two healthy simulated vLLM engines; over a bounded number of /metrics scrapes,
  each after a new snapshot, both healthy targets are `up 1` with their series, every hostile
  one `up 0`, the 200,000-series one with `sample_limit` counted; no error-level log, no
  "Task exception was never retrieved", no log line over a few kB. The soak
  (test_hostile_soak.py) runs the same for 15 minutes.
- Isolation without limits: a 200,000-series page that takes longer to parse than its
  timeout never costs the healthy targets a run, and its parse is never started twice.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from inferwatch import catalog as c
from inferwatch.exporter.app import Hardening, make_app, start_server
from inferwatch.exporter.collectors.engines.collector import EngineCollector, ScrapeTarget
from inferwatch.exporter.collectors.engines.limits import SAMPLE_LIMIT, Limits
from inferwatch.exporter.collectors.engines.targets import Target
from inferwatch.exporter.config import ExporterConfig
from inferwatch.exporter.main import build_loop
from inferwatch.simulate.engines.app import make_app as make_engine
from inferwatch.simulate.engines.sim import Simulation
from tests.exporter.engines.hostile import check_logs, hostile_app, scrape_rounds, series, up_of

SCRAPES = 8
BOUND = 60.0  # seconds the whole run may take before the test fails


@pytest.fixture
async def servers(aiohttp_server):
    """Healthy engine URLs and hostile URLs by path."""
    app, paths = hostile_app()
    bad = await aiohttp_server(app, host="127.0.0.1")
    healthy = [str((await aiohttp_server(make_engine(Simulation("vllm", seed=n), speed=60.0),
                                         host="127.0.0.1")).make_url("/metrics"))
               for n in range(2)]
    return healthy, {p: str(bad.make_url(p)) for p in paths}


def exporter_config(healthy: list[str], hostile: list[str], interval: float = 0.5,
                    timeout: float = 0.4) -> ExporterConfig:
    return ExporterConfig.model_validate({
        "collectors": {"gpu": {"enabled": False}, "host": {"enabled": False},
                       "engines": {"interval": interval, "timeout": timeout}},
        "engines": [f"vllm={u}" for u in [*healthy, *hostile]]})


async def test_every_scrape_carries_the_healthy_targets(servers, caplog) -> None:
    healthy, bad = servers
    huge = bad["/huge"]
    caplog.set_level(logging.INFO)
    loop = build_loop(exporter_config(healthy, list(bad.values())))
    runner, site = await start_server(make_app(loop), "127.0.0.1", 0, None, Hardening())
    url = f"http://127.0.0.1:{site.port}/metrics"

    answers = []
    try:
        async with asyncio.timeout(BOUND):
            done, _ = await scrape_rounds(loop, url, healthy, list(bad.values()),
                                          rounds=SCRAPES, each=answers.append)
    finally:
        await runner.cleanup()
    assert done == SCRAPES
    # counted from the first run that read the page to its limit (on a loaded machine the
    # 0.4 s timeout can end a run before), and never taken back
    counted = [sum(v for n, labels, v in found if labels.get("target") == huge and
                   n == c.ENGINE_SCRAPE_LIMIT_EXCEEDED.name and labels["limit"] == SAMPLE_LIMIT)
               for found in answers]
    assert counted[-1] >= 1 and counted == sorted(counted), counted
    messages = await check_logs(caplog.records)
    timeouts = sum(f"target={huge} down: timed out" in m for m in messages)
    assert 1 <= sum(f"target={huge} down: sample_limit" in m for m in messages) <= timeouts + 1
    collectors = [s for s in series(loop.snapshot.text) if s[0] == c.COLLECTOR_UP.name]
    assert [v for _, labels, v in collectors if labels["collector"] == "engines"] == [1.0]


async def test_a_slow_parse_without_limits_never_delays_the_others(servers, caplog) -> None:
    healthy, bad = servers
    huge = bad["/huge"]
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
