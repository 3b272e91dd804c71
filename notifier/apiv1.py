"""API v1, as Alertmanager 0.25 still serves it (deprecated, removed in 0.27).

Measured against Alertmanager 0.25, /api/v1 is not 410 Gone: `GET /api/v1/alerts`,
`/silences`, `/receivers`, `/status` and `POST /api/v1/alerts` answer
`{"status": "success", "data": ...}`, and a refused request 400
`{"status": "error", "errorType": "bad_data", "error": ...}`. The same alert checks and
filters as v2 apply (notifier/apiv2.py, notifier/api_filters.py). `POST /api/v1/webhook` stays
the notifier's own webhook receiver (Alertmanager has no such path).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from inferwatch.notifier import api_filters
from inferwatch.notifier.amconfig import original, version_info
from inferwatch.notifier.apiv2 import RequestError, read_alerts
from inferwatch.notifier.payloads import rfc3339, silence_json

log = logging.getLogger(__name__)


def _ok(data: Any = None) -> web.Response:
    body: dict[str, Any] = {"status": "success"}
    if data is not None:
        body["data"] = data
    return web.json_response(body)


def _bad(reason: str) -> web.Response:
    return web.json_response({"status": "error", "errorType": "bad_data", "error": reason},
                             status=400)


def routes(notifier_key: web.AppKey, started: float) -> list[web.RouteDef]:
    """The v1 routes; `notifier_key` is the app key of the Notifier."""

    async def post_alerts(request: web.Request) -> web.Response:
        try:
            batch = read_alerts(await request.read())
        except RequestError as err:
            return _bad(str(err))
        if batch.alerts:
            await request.app[notifier_key].receive(batch.alerts, source="api")
        return _bad("; ".join(batch.refused)) if batch.refused else _ok()

    async def get_alerts(request: web.Request) -> web.Response:
        try:
            query = api_filters.alert_query(request.query)
        except RequestError as err:
            return _bad(str(err))
        listed = api_filters.View(request.app[notifier_key]).alerts(query)
        for alert in listed:
            alert["receivers"] = [r["name"] for r in alert["receivers"]]
            alert.pop("updatedAt", None)
        return _ok(listed)

    async def get_silences(request: web.Request) -> web.Response:
        n = request.app[notifier_key]
        now = n.clock()
        found = sorted(n.silences.all(), key=lambda s: api_filters.silence_order(s, now))
        return _ok([silence_json(s, now) for s in found])

    async def get_receivers(request: web.Request) -> web.Response:
        return _ok(list(request.app[notifier_key].by_receiver))

    async def get_status(request: web.Request) -> web.Response:
        text = original(request.app[notifier_key].loaded)
        return _ok({"configYAML": text, "configJSON": None, "versionInfo": version_info(),
                    "uptime": rfc3339(started), "clusterStatus": None})

    return [web.post("/api/v1/alerts", post_alerts), web.get("/api/v1/alerts", get_alerts),
            web.get("/api/v1/silences", get_silences),
            web.get("/api/v1/receivers", get_receivers), web.get("/api/v1/status", get_status)]
