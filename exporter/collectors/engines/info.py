"""Fetch each engine target's info endpoints (info_parse.ENDPOINTS) on a slow interval of
their own, in tasks nobody waits for: a hanging or garbage endpoint never delays a metrics
scrape. Each fetch is bounded (timeout, body cap); its outcome is kept per target (`up`,
`errors`, the facts) and a change of outcome is logged once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from prometheus_client.core import Metric
from yarl import URL

from inferwatch import catalog as c
from inferwatch.core.redact import redact
from inferwatch.exporter.collectors.engines.info_parse import ENDPOINTS, Facts, from_endpoint
from inferwatch.exporter.collectors.engines.limits import clip
from inferwatch.exporter.collectors.engines.scrape import ScrapeError, fetch_json

log = logging.getLogger(__name__)

INFO_INTERVAL = 300.0  # seconds between two fetches of one target's info endpoints
INFO_MAX_BYTES = 1024 * 1024  # llama.cpp's /props carries the chat template


@dataclass
class InfoState:
    """What is known of one target's info endpoints."""

    facts: Facts = field(default_factory=Facts)
    up: bool | None = None
    error: str = ""
    errors: int = 0
    next_due: float = 0.0
    task: asyncio.Task | None = None


class InfoFetcher:
    """Info endpoints of many targets, keyed by any hashable target."""

    def __init__(self, interval: float = INFO_INTERVAL, max_bytes: int = INFO_MAX_BYTES,
                 clock: Callable[[], float] = time.monotonic):
        self.interval, self.max_bytes, self._clock = interval, max_bytes, clock
        self.states: dict[object, InfoState] = {}

    def start_due(self, session: aiohttp.ClientSession, key: object, engine: str, url: str,
                  timeout: float, shown: str) -> None:
        """Start this target's fetch when due and the engine has info endpoints."""
        if engine not in ENDPOINTS:
            return
        state = self.states.setdefault(key, InfoState())
        now = self._clock()
        if state.next_due > now or (state.task is not None and not state.task.done()):
            return
        state.next_due = now + self.interval
        state.task = asyncio.create_task(self._fetch(session, state, engine, url, timeout, shown))
        state.task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _fetch(self, session: aiohttp.ClientSession, state: InfoState, engine: str,
                     url: str, timeout: float, shown: str) -> None:
        facts, error = Facts(), ""
        for path in ENDPOINTS[engine]:  # each one asked: vLLM's --api-key guards /v1/* only
            where = str(URL(url).with_path(path).with_query(None))
            try:
                async with asyncio.timeout(timeout):
                    doc = await fetch_json(session, where, timeout, self.max_bytes)
                facts = facts.over(from_endpoint(path, doc))
            except TimeoutError:
                error = error or f"{path}: timed out after {timeout:g}s"
            except (ScrapeError, ValueError) as err:
                error = error or f"{path}: {err}"
        if error:
            state.errors += 1
            if error != state.error:
                log.warning("engine target=%s info endpoints: %s", shown, clip(redact(error)))
            state.facts = facts.over(state.facts)  # what answered, the rest as last known
        else:
            if state.up is False:
                log.info("engine target=%s info endpoints answer again", shown)
            state.facts = facts
        state.up, state.error = not error, error

    def forget(self, key: object) -> None:
        """Drop a target (gone from discovery): its fetch in progress is cancelled."""
        state = self.states.pop(key, None)
        if state is not None and state.task is not None and not state.task.done():
            state.task.cancel()

    def cancel(self) -> list[asyncio.Task]:
        tasks = [s.task for s in self.states.values() if s.task and not s.task.done()]
        for task in tasks:
            task.cancel()
        return tasks


def families(ident: Any, model: str, page: Facts, state: InfoState | None) -> list[Metric]:
    """model_info and engine_info (the page's facts over the endpoints'), info_up and the
    error count; `ident` is the target's publish.Identity."""
    facts = page.over(state.facts if state else Facts())
    model = model or facts.model
    out = []
    info = ident.family(c.ENGINE_MODEL_INFO)
    info.add_metric(ident.values(c.ENGINE_MODEL_INFO, model,
                                 **{k: getattr(facts, k) for k in c.MODEL_FACTS}), 1)
    out.append(info)
    if facts.version:
        version = ident.family(c.ENGINE_INFO)
        version.add_metric(ident.values(c.ENGINE_INFO, model, version=facts.version), 1)
        out.append(version)
    if state is not None and state.up is not None:
        up, errors = ident.family(c.ENGINE_INFO_UP), ident.family(c.ENGINE_INFO_ERRORS)
        up.add_metric(ident.values(c.ENGINE_INFO_UP), 1.0 if state.up else 0.0)
        errors.add_metric(ident.values(c.ENGINE_INFO_ERRORS), state.errors)
        out += [up, errors]
    return out
