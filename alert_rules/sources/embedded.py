"""The embedded source: scrape exporters' /metrics into a bounded Window and evaluate the
compiled rule trees there, as a Prometheus that scraped the same targets would.

Like Prometheus, every scraped series gets `job` and `instance` (a clashing exported label is
kept as `exported_<name>`), each target has an `up` series, and a failed scrape marks the
target's series stale. The window keeps `retention` of history: a rule reading a longer range
sees what a Prometheus started `retention` ago would see.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from alert_rules.evaluate import Sample
from alert_rules.promql import Node
from alert_rules.sources import SourceError
from alert_rules.sources.promql_eval import EvalError, Evaluator, Vector
from alert_rules.sources.window import Window

ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1"


@dataclass(frozen=True)
class Target:
    url: str
    job: str = "inferwatch"

    @property
    def instance(self) -> str:
        return urlsplit(self.url).netloc


def parse(text: str, target: Target) -> list[tuple[dict[str, str], float]]:
    """Samples of a text exposition, with the target's job and instance labels."""
    out = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = {"__name__": sample.name}
            for name, value in sample.labels.items():
                labels[f"exported_{name}" if name in ("job", "instance") else name] = value
            labels.update(job=target.job, instance=target.instance)
            out.append((labels, float(sample.value)))
    return out


class EmbeddedSource:
    """Scrapes on demand (`scrape(now)`), answers instant queries from its window."""

    def __init__(self, targets: list[Target], retention: float, timeout: float = 10.0):
        self.targets = targets
        self.window = Window(int(retention * 1000))
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._memo_t: int | None = None
        self._memo: dict[Node, Vector] = {}

    async def __aenter__(self) -> EmbeddedSource:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def scrape(self, now: float) -> None:
        """Scrape every target concurrently; samples are stamped with `now` (seconds)."""
        t = int(now * 1000)
        await asyncio.gather(*(self._scrape_one(target, t) for target in self.targets))
        self.window.prune(t)

    async def _scrape_one(self, target: Target, t: int) -> None:
        up = {"__name__": "up", "job": target.job, "instance": target.instance}
        try:
            text = await self._fetch(target.url)
            samples = parse(text, target)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            self.window.ingest(target.url, [(up, 0.0)], t)  # all else goes stale
            return
        self.window.ingest(target.url, [*samples, (up, 1.0)], t)

    async def _fetch(self, url: str) -> str:
        if self._session is None:
            raise RuntimeError("use `async with EmbeddedSource(...)`")
        async with self._session.get(url, headers={"Accept": ACCEPT}) as resp:
            if resp.status != 200:
                raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status)
            return await resp.text()

    async def instant(self, expr: Node | str, ts: float) -> list[Sample]:
        """Evaluate a compiled tree at ts; raw PromQL is the Prometheus source's alone."""
        if isinstance(expr, str):
            raise SourceError("a raw PromQL `expr` is evaluated by the prometheus source only; "
                              "the embedded source runs threshold rules and SLOs")
        return self.evaluate(expr, ts)

    def evaluate(self, expr: Node, ts: float) -> list[Sample]:
        t = int(ts * 1000)
        if t != self._memo_t:
            self._memo_t, self._memo = t, {}
        try:
            result = Evaluator(self.window, t, self._memo).vector(expr)
        except EvalError as err:
            raise SourceError(str(err)) from None
        return result
