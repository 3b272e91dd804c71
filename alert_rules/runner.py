"""`inferwatch rules run`: wires the configured source, the Alertmanager sinks and the manager,
then runs until SIGINT/SIGTERM, or evaluates once and prints the table (`--once`, which
neither sends nor saves)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from pathlib import Path

import aiohttp

from inferwatch.alert_rules.compile import CompiledGroup
from inferwatch.alert_rules.manager import RuleManager, Sink
from inferwatch.alert_rules.runconfig import EmbeddedConfig, RunConfig
from inferwatch.alert_rules.sender import AlertmanagerSink
from inferwatch.alert_rules.sources.embedded import EmbeddedSource, Target
from inferwatch.alert_rules.sources.prometheus import PrometheusSource


def make_source(config: RunConfig) -> EmbeddedSource | PrometheusSource:
    prom = config.source.prometheus
    if prom is not None:
        return PrometheusSource(prom.url, prom.timeout, prom.use_recording_rules)
    emb = config.source.embedded or EmbeddedConfig()
    return EmbeddedSource([Target(t.url, t.job) for t in emb.targets], emb.retention,
                          emb.timeout)


async def run(config: RunConfig, groups: list[CompiledGroup], once: bool = False,
              extra_sinks: list[Sink] | None = None) -> int:
    """Run the manager; `extra_sinks` adds in-process receivers (e.g. the notifier)."""
    state_file = Path(config.state_file) if config.state_file else None
    async with make_source(config) as source, aiohttp.ClientSession() as session:
        sinks: list[Sink] = [AlertmanagerSink(a.url, session, a.timeout)
                             for a in config.alertmanagers]
        manager = RuleManager(groups, source, sinks + (extra_sinks or []), config.resend_delay,
                        config.external_url, state_file)
        manager.restore()
        scraper = source if isinstance(source, EmbeddedSource) else None
        if once:
            await _once(manager, scraper)
            return 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        async def sleep(seconds: float) -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), seconds)

        emb = config.source.embedded or EmbeddedConfig()
        await manager.run(scraper, emb.scrape_interval, sleep=sleep, stop=stop)
    return 0


async def _once(manager: RuleManager, scraper: EmbeddedSource | None) -> None:
    now = time.time()
    if scraper is not None:
        await scraper.scrape(now)
    for group in manager.groups:
        await manager.evaluate(group, now)
    print(manager.table())
