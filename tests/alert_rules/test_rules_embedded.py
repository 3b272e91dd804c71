"""The embedded source against a loopback exporter whose series we set step by step: target
labels, staleness when a series or the whole target goes away, and alerts that fire and
resolve from scraped data. Scrape and evaluation times are passed in; nothing sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from inferwatch import catalog
from inferwatch.alert_rules.compile import compile_group
from inferwatch.alert_rules.evaluate import FIRING, INACTIVE, PENDING, RuleState, step
from inferwatch.alert_rules.promql import Selector
from inferwatch.alert_rules.rulefile import load_file
from inferwatch.alert_rules.sources import outcome
from inferwatch.alert_rules.sources.embedded import EmbeddedSource, Target


class Exporter:
    """Serves catalogue-named gauges; `values` maps label tuples to values, `status` the code."""

    def __init__(self) -> None:
        self.kv: dict[tuple[str, ...], float] = {}
        self.status = 200
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def collect(self):  # prometheus_client's collector protocol
        family = catalog.ENGINE_KV_CACHE_USAGE.family()
        for labels, value in self.kv.items():
            family.add_metric(list(labels), value)
        yield family
        job = GaugeMetricFamily("inferwatch_engine_up", "clashing label", labels=["job"])
        job.add_metric(["vllm-pod"], 1)
        yield job

    async def handle(self, request: web.Request) -> web.Response:
        if self.status != 200:
            return web.Response(status=self.status, text="broken")
        return web.Response(body=generate_latest(self.registry), content_type="text/plain")


@pytest.fixture
async def exporter(aiohttp_server) -> AsyncIterator[tuple[Exporter, str]]:
    fake = Exporter()
    app = web.Application()
    app.router.add_get("/metrics", fake.handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    yield fake, f"http://127.0.0.1:{server.port}/metrics"


KV = Selector(catalog.ENGINE_KV_CACHE_USAGE.name)
A, B = ("vllm", "llama", "a"), ("vllm", "llama", "b")


async def test_scraped_series_carry_target_labels(exporter) -> None:
    fake, url = exporter
    fake.kv = {A: 0.5}
    async with EmbeddedSource([Target(url, job="node")], retention=3600) as source:
        await source.scrape(1000.0)
        (labels, value), = await source.instant(KV, 1000.0)
        up = await source.instant(Selector("up"), 1000.0)
        clash = await source.instant(Selector("inferwatch_engine_up"), 1000.0)
    instance = url.split("/")[2]
    assert value == 0.5 and labels == {
        "__name__": KV.metric, "engine": "vllm", "model": "llama", "target": "a",
        "job": "node", "instance": instance}
    assert [v for _l, v in up] == [1.0]
    assert clash[0][0]["exported_job"] == "vllm-pod" and clash[0][0]["job"] == "node"


async def test_vanished_series_and_failed_scrapes_go_stale(exporter) -> None:
    fake, url = exporter
    fake.kv = {A: 0.5, B: 0.6}
    async with EmbeddedSource([Target(url)], retention=3600) as source:
        await source.scrape(0.0)
        del fake.kv[B]
        await source.scrape(15.0)
        assert [lb["target"] for lb, _v in await source.instant(KV, 20.0)] == ["a"]
        fake.status = 500
        await source.scrape(30.0)
        assert await source.instant(KV, 31.0) == []
        assert [v for _l, v in await source.instant(Selector("up"), 31.0)] == [0.0]
        fake.status = 200
        await source.scrape(45.0)
        assert [lb["target"] for lb, _v in await source.instant(KV, 46.0)] == ["a"]
    # a stale marker, not the lookback (5 minutes), ends b's series
    (gone,) = source.window.select(KV.metric, (("target", "=", "b"),))
    assert gone.times == [0, 15_000] and gone.values == [0.6, None]


async def test_unreachable_target_is_down_not_an_error() -> None:
    async with EmbeddedSource([Target("http://127.0.0.1:9/metrics")], retention=60,
                              timeout=2) as source:
        await source.scrape(0.0)
        assert [v for _l, v in await source.instant(Selector("up"), 0.0)] == [0.0]


async def test_kv_cache_alert_fires_and_resolves_from_scrapes(exporter, tmp_path) -> None:
    fake, url = exporter
    path = tmp_path / "r.yml"
    path.write_text("""groups:
  - name: g
    interval: 15s
    rules:
      - alert: KVCacheNearFull
        metric: inferwatch_engine_kv_cache_usage_ratio
        function: avg_over_time
        window: 30s
        op: ">"
        threshold: 0.9
        for: 30s
""")
    (alert,) = compile_group(load_file(path)[0]).alerts
    state = RuleState(alert)
    timeline = []
    async with EmbeddedSource([Target(url)], retention=3600) as source:
        for i, value in enumerate([0.5, 0.99, 0.99, 0.99, 0.99, 0.99, 0.2, 0.2, 0.2]):
            fake.kv = {A: value}
            await source.scrape(i * 15.0)
            step(state, await outcome(source, alert, i * 15.0), i * 15.0)
            timeline.append([a.state for a in state.active.values()])
    assert timeline == [[], [], [], [PENDING], [PENDING], [FIRING], [INACTIVE], [INACTIVE],
                        [INACTIVE]]
