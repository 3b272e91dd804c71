"""The Prometheus source against a loopback stand-in for /api/v1/query: the query text it
sends, vectors, Prometheus's error answers, unreachable servers, and no-data detection."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from aiohttp import web

from inferwatch.alert_rules.compile import compile_group
from inferwatch.alert_rules.evaluate import Outcome
from inferwatch.alert_rules.rulefile import load_file
from inferwatch.alert_rules.sources import SourceError, outcome
from inferwatch.alert_rules.sources.prometheus import PrometheusSource

PACK = Path(__file__).resolve().parents[2] / "alert_rules" / "packs" / "llm-serving.yml"
ALERTS = {a.rule_id: a for g in load_file(PACK) for a in compile_group(g).alerts}


def vector(*items: tuple[dict, str]) -> dict:
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": m, "value": [1000.0, v]} for m, v in items]}}


class FakeAPI:
    def __init__(self) -> None:
        self.answers: list[tuple[int, dict]] = []
        self.queries: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.queries.append(dict(await request.post()))
        status, body = self.answers.pop(0)
        return web.json_response(body, status=status)


@pytest.fixture
async def api(aiohttp_server) -> tuple[FakeAPI, str]:
    fake = FakeAPI()
    app = web.Application()
    app.router.add_post("/prom/api/v1/query", fake.handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    return fake, f"http://127.0.0.1:{server.port}/prom/"


async def test_condition_samples_come_back_with_their_labels(api) -> None:
    fake, url = api
    fake.answers = [(200, vector(({"target": "a"}, "0.97"), ({"target": "b"}, "NaN")))]
    async with PrometheusSource(url) as source:
        result = await outcome(source, ALERTS["inferwatch-engines/KVCacheNearFull"], 1000.0)
    assert fake.queries == [{"query": "avg_over_time(inferwatch_engine_kv_cache_usage_ratio[5m])"
                             " > 0.95", "time": "1000.000", "timeout": "10000ms"}]
    assert result.samples[0] == ({"target": "a"}, 0.97) and math.isnan(result.samples[1][1])


async def test_empty_condition_then_asks_for_data(api) -> None:
    fake, url = api
    fake.answers = [(200, vector()), (200, vector()), (200, vector()),
                    (200, vector(({"model": "m"}, "0.001")))]
    alert = ALERTS["inferwatch-slos/ttft/page"]
    async with PrometheusSource(url) as source:
        assert await outcome(source, alert, 1.0) == Outcome((), has_data=False)
        assert await outcome(source, alert, 2.0) == Outcome((), has_data=True)
    condition, data = fake.queries[0]["query"], fake.queries[1]["query"]
    assert "inferwatch:slo_errors" not in condition + data  # inlined by default
    assert data.startswith("((sum by (engine, model) (rate(inferwatch_engine_time_to_first_token")


async def test_recorded_series_when_the_rules_are_loaded(api) -> None:
    fake, url = api
    fake.answers = [(200, vector())]
    async with PrometheusSource(url, use_recording_rules=True) as source:
        await source.instant(ALERTS["inferwatch-slos/ttft/page"].expr, 1.0)
    assert fake.queries[0]["query"].startswith('((inferwatch:slo_errors:ratio_rate5m{slo="ttft"}')


async def test_prometheus_errors_are_source_errors(api) -> None:
    fake, url = api
    fake.answers = [(400, {"status": "error", "errorType": "bad_data",
                           "error": "parse error at char 3"}),
                    (200, {"status": "success", "data": {"resultType": "scalar",
                                                         "result": [1, "1"]}})]
    alert = ALERTS["inferwatch-gpus/GPULost"]
    async with PrometheusSource(url) as source:
        first = await outcome(source, alert, 1.0)
        with pytest.raises(SourceError, match="expected a vector, got 'scalar'"):
            await source.instant("scalar(1)", 1.0)
    assert first.error == "HTTP 400: bad_data: parse error at char 3"


async def test_unreachable_prometheus_is_an_error_not_a_resolve() -> None:
    async with PrometheusSource("http://127.0.0.1:9", timeout=2) as source:
        result = await outcome(source, ALERTS["inferwatch-gpus/GPULost"], 1.0)
    assert result.error is not None and result.error.startswith("query failed: ")
