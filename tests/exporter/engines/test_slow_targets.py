"""A slow or hanging target delays no other target's series: after its first slow scrape a run
no longer waits for it, and its result is published when it lands (`on_update`, which the
collector loop turns into a new snapshot), not at the next run."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from inferwatch import catalog as c
from inferwatch.exporter.collectors.engines.collector import EngineCollector, ScrapeTarget
from inferwatch.exporter.collectors.engines.targets import Target
from inferwatch.exporter.loop import CollectorLoop
from inferwatch.simulate.engines.sim import Simulation
from tests.exporter.engines.test_info_collector import serve
from tests.support.webhook import until


async def engines(delay: float) -> tuple[web.AppRunner, str, str]:
    """One server: /fast a simulated vLLM at once, /slow the same after `delay` seconds."""
    sim = Simulation("vllm")

    async def fast(_req: web.Request) -> web.Response:
        return web.Response(body=sim.body(1.0), content_type="text/plain")

    async def slow(req: web.Request) -> web.Response:
        await asyncio.sleep(delay)
        return await fast(req)

    app = web.Application()
    app.router.add_get("/fast/metrics", fast)
    app.router.add_get("/slow/metrics", slow)
    runner, url = await serve(app)
    base = url.removesuffix("/metrics")
    return runner, f"{base}/fast/metrics", f"{base}/slow/metrics"


def up(families, target: str) -> list[float]:
    return [s.value for f in families for s in f.samples
            if s.name == c.ENGINE_UP.name and s.labels.get("target") == target]


async def test_a_hanging_target_is_waited_for_once_then_lands_on_its_own() -> None:
    runner, fast, slow = await engines(delay=3600)
    collector = EngineCollector([ScrapeTarget(Target("vllm", fast), 0.01, 2.0),
                                 ScrapeTarget(Target("vllm", slow), 0.01, 0.6)], timeout=2.0)
    landed = []
    collector.on_update = lambda: landed.append(up(collector.families(), slow))
    try:
        start = time.monotonic()
        first = await collector.collect()  # nothing known of either: both waited for
        assert time.monotonic() - start >= 0.6
        assert (up(first, fast), up(first, slow)) == ([1.0], [0.0])
        for _ in range(3):  # the hanging one is no longer waited for
            start = time.monotonic()
            families = await collector.collect()
            assert time.monotonic() - start < 0.5
            assert up(families, fast) == [1.0]
        await until(lambda: landed, 5, what="the hanging target's next timeout, published")
        assert landed[0] == [0.0]
    finally:
        await collector.aclose()
        await runner.cleanup()


def duration_in(snapshot, target: str) -> str:
    """The slow target's scrape duration line in a snapshot (each scrape's differs)."""
    return next(line for line in snapshot.text.decode().splitlines()
                if line.startswith(c.ENGINE_SCRAPE_DURATION.name) and f'target="{target}"' in line)


async def test_a_slow_targets_series_reach_the_snapshot_when_they_land_between_runs() -> None:
    runner, fast, slow = await engines(delay=0.7)
    collector = EngineCollector([ScrapeTarget(Target("vllm", fast), 1.5, 2.0),
                                 ScrapeTarget(Target("vllm", slow), 1.5, 1.0)], timeout=2.0)
    loop = CollectorLoop([collector], lambda: {})
    state = loop.states["engines"]
    try:
        await loop.start()
        await asyncio.wait_for(loop.first_round.wait(), 5)  # run 1 waited for both
        first = duration_in(loop.snapshot, slow)
        await until(lambda: state.runs == 2, 5, what="run 2")
        assert state.duration < 0.5  # run 2 did not wait for the slow target
        # its scrape of run 2 lands ~0.7 s later: in a snapshot before run 3 (1.5 s apart)
        await until(lambda: duration_in(loop.snapshot, slow) != first, 1.2,
                    what="the slow target's second scrape in a snapshot")
        assert state.runs == 2
        assert up(collector.families(), slow) == [1.0]
    finally:
        await loop.stop()
        await collector.aclose()
        await runner.cleanup()
