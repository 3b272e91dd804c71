"""`inferwatch rules run`: wires the configured source, the Alertmanager sinks and the manager,
then runs until SIGINT/SIGTERM, logging each change and serving /metrics when a listen address
is set, its alert state in the config's state file or (--storage.url) in PostgreSQL; or
evaluates once and prints the table (`--once`, which neither sends nor saves, and exits 1 with
the errors on stderr when a query or a scrape failed)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from pathlib import Path

import aiohttp

from inferwatch.alert_rules.compile import CompiledGroup
from inferwatch.alert_rules.manager import RuleManager, Sink
from inferwatch.alert_rules.observe import Metrics
from inferwatch.alert_rules.runconfig import EmbeddedConfig, RunConfig
from inferwatch.alert_rules.sender import AlertmanagerSink
from inferwatch.alert_rules.sources.embedded import EmbeddedSource, Target
from inferwatch.alert_rules.sources.prometheus import PrometheusSource
from inferwatch.alert_rules.state import PgState, StateError
from inferwatch.alert_rules.web import serve

log = logging.getLogger(__name__)


def make_source(config: RunConfig) -> EmbeddedSource | PrometheusSource:
    prom = config.source.prometheus
    if prom is not None:
        return PrometheusSource(prom.url, prom.timeout, prom.use_recording_rules)
    emb = config.source.embedded or EmbeddedConfig()
    return EmbeddedSource([Target(t.url, t.job) for t in emb.targets], emb.retention,
                          emb.timeout)


async def run(config: RunConfig, groups: list[CompiledGroup], once: bool = False,
              extra_sinks: list[Sink] | None = None, state_url: str | None = None) -> int:
    """Run the manager; `extra_sinks` adds in-process receivers (e.g. the notifier);
    `state_url` keeps the alert state in PostgreSQL instead of the config's state file."""
    state_db = PgState(state_url) if state_url else None
    try:
        return await _run(config, groups, once, extra_sinks, state_db)
    except StateError as err:
        print(f"inferwatch rules run: {err}", file=sys.stderr)
        return 1
    finally:
        if state_db is not None:
            state_db.close()


async def _run(config: RunConfig, groups: list[CompiledGroup], once: bool,
               extra_sinks: list[Sink] | None, state_db: PgState | None) -> int:
    state_file = Path(config.state_file) if config.state_file and not state_db else None
    async with make_source(config) as source, aiohttp.ClientSession() as session:
        alertmanagers = [AlertmanagerSink(a.url, session, a.timeout)
                         for a in config.alertmanagers]
        metrics = None if once else Metrics()
        manager = RuleManager(groups, source, [*alertmanagers, *(extra_sinks or [])],
                              config.resend_delay, config.external_url, state_file, metrics,
                              state_db=state_db)
        manager.restore()
        scraper = source if isinstance(source, EmbeddedSource) else None
        if once:
            return await _once(manager, scraper)
        assert metrics is not None
        log.info("rules engine started", extra={
            "groups": len(groups), "rules": len(manager.states), "source": manager.source_name,
            "alertmanagers": ",".join(a.base for a in alertmanagers) or "none",
            "web": config.web.listen_address or "off"})
        await asyncio.gather(*(a.probe() for a in alertmanagers))
        web = None
        if config.web.listen_address:
            web = await serve(metrics, lambda: bool(manager.last_cycle),
                              config.web.listen_address, config.web.config_file)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        async def sleep(seconds: float) -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), seconds)

        emb = config.source.embedded or EmbeddedConfig()
        try:
            await manager.run(scraper, emb.scrape_interval, sleep=sleep, stop=stop)
        finally:
            if web is not None:
                await web.cleanup()
        log.info("rules engine stopped")
    return 0


async def _once(manager: RuleManager, scraper: EmbeddedSource | None) -> int:
    now = time.time()
    if scraper is not None:
        await scraper.scrape(now)
    for group in manager.groups:
        await manager.evaluate(group, now)
    print(manager.table())
    problems = [f"scrape of {url} failed: {error}"
                for url, error in sorted((scraper.errors if scraper else {}).items())]
    for error, rules in manager.errors().items():
        shown = ", ".join(rules[:5]) + (f" and {len(rules) - 5} more" if len(rules) > 5 else "")
        problems.append(f"{len(rules)} rule(s) could not be evaluated ({shown}): {error}")
    for problem in problems:
        print(f"inferwatch rules run: {problem}", file=sys.stderr)
    return 1 if problems else 0
