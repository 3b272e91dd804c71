"""The embedded window's indexes and caches: selection through the label postings equals a scan
of every series (after series are pruned too), the stale-marker count follows pruning, and a
scrape voids the per-time memo of the embedded source."""

from __future__ import annotations

import itertools

from aiohttp import web

from inferwatch.alert_rules.promql import Selector
from inferwatch.alert_rules.sources.embedded import EmbeddedSource, Target
from inferwatch.alert_rules.sources.window import Series, Window, matches

MATCHERS = [(), (("model", "=", "a"),), (("model", "=", "a"), ("gpu", "=", "1")),
            (("model", "!=", "a"),), (("model", "=~", "a|b"), ("gpu", "!~", "0")),
            (("zone", "=", ""),), (("model", "=", "nope"),), (("gpu", "=", "2"),
                                                              ("model", "=~", ".*"))]


def fill(window: Window) -> None:
    for t, (model, gpu) in enumerate(itertools.product("abc", "012")):
        labels = {"__name__": "m", "model": model, "gpu": gpu}
        if model == "c":
            labels["zone"] = "z"
        window.ingest(f"{model}{gpu}", [(labels, float(t))], t * 1000)


def scan(window: Window, matchers: tuple) -> list[dict[str, str]]:
    return sorted((s.labels for s in window.series.values() if matches(s.labels, matchers)),
                  key=lambda lb: sorted(lb.items()))


def selected(window: Window, matchers: tuple) -> list[dict[str, str]]:
    return sorted((s.labels for s in window.select("m", matchers)),
                  key=lambda lb: sorted(lb.items()))


def test_postings_select_what_a_scan_selects_before_and_after_pruning() -> None:
    window = Window(retention_ms=4000)
    fill(window)
    for matchers in MATCHERS:
        assert selected(window, matchers) == scan(window, matchers), matchers
    assert len(selected(window, (("model", "=", "a"),))) == 3
    window.prune(8000)  # keeps samples at 4 s and later: five series of nine
    assert window.series_count() == 5
    for matchers in MATCHERS:
        assert selected(window, matchers) == scan(window, matchers), matchers
    assert ("m", "model", "a") not in window.postings
    assert window.select("other", ()) == []


def test_range_skips_stale_markers_and_the_count_follows_pruning() -> None:
    series = Series({"__name__": "m"})
    for t, value in ((0, 1.0), (1000, None), (2000, 3.0), (3000, 4.0)):
        series.append(t, value)
    assert series.stale == 1
    assert series.range(0, 3000) == ([0, 2000, 3000], [1.0, 3.0, 4.0])
    series.prune(1500)
    assert series.stale == 0
    assert series.range(0, 2500) == ([2000], [3.0])
    assert series.range(2500, 9000) == ([3000], [4.0])


async def test_a_scrape_voids_results_memoised_at_the_same_time(aiohttp_server) -> None:
    values = iter(["1", "2"])

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=f"g{{a=\"x\"}} {next(values)}\n")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    server = await aiohttp_server(app, host="127.0.0.1")
    async with EmbeddedSource([Target(f"http://127.0.0.1:{server.port}/metrics")], 60) as src:
        await src.scrape(10.0)
        assert [v for _l, v in await src.instant(Selector("g"), 20.0)] == [1.0]
        await src.scrape(15.0)
        assert [v for _l, v in await src.instant(Selector("g"), 20.0)] == [2.0]
