"""The Prometheus source: instant queries against any Prometheus-compatible HTTP API
(Prometheus, Thanos, Mimir, VictoriaMetrics) at `POST /api/v1/query`.

Recorded SLO series are inlined by default, so the rules work against a Prometheus that does not
have the compiled recording rules loaded; `use_recording_rules` reads the recorded series
instead (cheaper, when `inferwatch rules compile` output is loaded there).
"""

from __future__ import annotations

import aiohttp

from inferwatch.alert_rules.evaluate import Sample
from inferwatch.alert_rules.promql import Node, render
from inferwatch.alert_rules.sources import SourceError


class PrometheusSource:
    def __init__(self, url: str, timeout: float = 10.0, use_recording_rules: bool = False,
                 headers: dict[str, str] | None = None):
        self.name = url.rstrip("/")
        self.url = self.name + "/api/v1/query"
        self.timeout = timeout
        self.inline = not use_recording_rules
        self.headers = headers or {}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> PrometheusSource:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout),
                                              headers=self.headers)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def instant(self, expr: Node | str, ts: float) -> list[Sample]:
        query = expr if isinstance(expr, str) else render(expr, inline=self.inline)
        if self._session is None:
            raise RuntimeError("use `async with PrometheusSource(...)`")
        # whole milliseconds: Prometheus reads a unit-suffixed duration only with an integer
        # ("10.0s" is refused as bad_data)
        timeout = f"{max(1, round(self.timeout * 1000))}ms"
        form = {"query": query, "time": f"{ts:.3f}", "timeout": timeout}
        try:
            async with self._session.post(self.url, data=form) as resp:
                body = await resp.json(content_type=None)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            raise SourceError(f"query failed: {type(err).__name__}: {err}") from None
        return parse_response(status, body)


def parse_response(status: int, body: object) -> list[Sample]:
    """The vector of a query response, or SourceError with Prometheus's own message."""
    if not isinstance(body, dict):
        raise SourceError(f"HTTP {status}: the answer is not a Prometheus API response")
    if body.get("status") != "success":
        raise SourceError(f"HTTP {status}: {body.get('errorType', 'error')}: "
                          f"{body.get('error', 'unknown error')}")
    data = body.get("data") or {}
    if data.get("resultType") != "vector":
        raise SourceError(f"expected a vector, got {data.get('resultType')!r}")
    try:
        # values are strings; float() reads Prometheus's NaN, +Inf and -Inf spellings too
        return [(dict(item["metric"]), float(item["value"][1])) for item in data["result"]]
    except (KeyError, IndexError, TypeError, ValueError) as err:
        raise SourceError(f"malformed vector in the response: {err}") from None

