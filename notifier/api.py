"""The HTTP API: Alertmanager's v2 alerts, groups, silences and status, a webhook (v4)
receiver, /metrics, health.

API v2 answers as Alertmanager 0.25 does (notifier/apiv2.py, notifier/api_filters.py), so
amtool works against it. Bodies are capped at `web.max_body_bytes` (413 beyond); a refused one
gets 400 or 422 (as Alertmanager) with the reason; with a bearer token configured, /api/ and
/webhook need `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from inferwatch.notifier import api_filters, apiv1, ui
from inferwatch.notifier.amconfig import original, version_info
from inferwatch.notifier.apiv2 import RequestError, is_uuid, read_alerts, read_silence
from inferwatch.notifier.db import StorageError, reason
from inferwatch.notifier.payloads import PayloadError, parse_webhook, rfc3339, silence_json
from inferwatch.notifier.service import Notifier
from inferwatch.notifier.silences import SilenceError

STORE_ERRORS = (StorageError, sqlite3.Error)
log = logging.getLogger(__name__)
NOTIFIER = web.AppKey("notifier", Notifier)
PROTECTED = ("/api/", "/webhook")
STARTED = time.time()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"status": "error", "error": reason}, status=status)


def _v2_error(status: int, reason: str) -> web.Response:
    """An API v2 error as Alertmanager's go-swagger server writes it: a JSON string, or for 422
    a `{code, message}` object; amtool reads the string (`silence import` looks in it for
    "not found" before it creates a silence whose id is unknown here)."""
    if status == 422:
        return web.json_response({"code": 602, "message": reason}, status=422)
    return web.json_response(reason, status=status)


def _auth_middleware(token: str | None) -> Callable:
    expected = f"Bearer {token}".encode() if token else b""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if token and request.path.startswith(PROTECTED):
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return web.json_response({"status": "error", "error": "missing or wrong bearer "
                                          "token"}, status=401,
                                         headers={"WWW-Authenticate": "Bearer"})
        try:
            return await handler(request)
        except PayloadError as err:
            _count_invalid(request)
            return _error(400, str(err))
        except RequestError as err:
            if request.method == "POST":
                _count_invalid(request)
            return _v2_error(err.status, str(err))
    return middleware


def _count_invalid(request: web.Request) -> None:
    resource = request.match_info.route.resource
    endpoint = resource.canonical if resource else "unknown"
    request.app[NOTIFIER].metrics.invalid.labels(endpoint).inc()


async def _body(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        _count_invalid(request)
        raise


async def post_alerts(request: web.Request) -> web.Response:
    """Alertmanager keeps the valid alerts of a request and answers 400 for the others."""
    batch = read_alerts(await _body(request))
    n = request.app[NOTIFIER]
    if batch.alerts:
        try:
            await n.receive(batch.alerts, source="api")
        except StorageError as err:  # logged and counted by the store; the sender retries
            return _v2_error(503, f"cannot store alerts: {err}")
    if batch.refused:
        n.metrics.invalid.labels(request.match_info.route.resource.canonical).inc(
            len(batch.refused))
        return _v2_error(400, "; ".join(batch.refused))
    return web.json_response({"status": "success"})


async def post_webhook(request: web.Request) -> web.Response:
    notifier = request.app[NOTIFIER]
    alerts = parse_webhook(await _body(request), notifier.clock())
    try:
        await notifier.receive_webhook(alerts)
    except StorageError as err:
        return web.json_response({"error": f"cannot store alerts: {err}"}, status=503)
    return web.json_response({"status": "success"})


async def get_alerts(request: web.Request) -> web.Response:
    query = api_filters.alert_query(request.query)
    return web.json_response(api_filters.View(request.app[NOTIFIER]).alerts(query))


async def get_groups(request: web.Request) -> web.Response:
    query = api_filters.alert_query(request.query)
    return web.json_response(api_filters.View(request.app[NOTIFIER]).groups(query))


async def get_silences(request: web.Request) -> web.Response:
    n = request.app[NOTIFIER]
    wanted = api_filters.filter_matchers(request.query.getall("filter", []))
    now = n.clock()
    found = [s for s in n.silences.all() if api_filters.silence_pins(s, wanted)]
    found.sort(key=lambda s: api_filters.silence_order(s, now))
    return web.json_response([silence_json(s, now) for s in found])


def _silence_id(request: web.Request) -> str:
    silence_id = request.match_info["id"]
    if not is_uuid(silence_id):
        raise RequestError(422, f"silenceID in path must be of type uuid: {silence_id!r}")
    return silence_id


async def post_silence(request: web.Request) -> web.Response:
    n = request.app[NOTIFIER]
    silence = read_silence(await _body(request))
    try:
        silence_id = n.silences.set(silence, n.clock())
    except SilenceError as err:
        return _v2_error(404 if err.missing else 400, str(err))
    except STORE_ERRORS as err:  # full, read-only or unreachable storage: the client retries
        return _v2_error(503, f"cannot store the silence: {reason(err)}")
    n.wake.set()
    return web.json_response({"silenceID": silence_id})


async def get_silence(request: web.Request) -> web.Response:
    n = request.app[NOTIFIER]
    try:
        return web.json_response(silence_json(n.silences.get(_silence_id(request)),
                                              n.clock()))
    except SilenceError as err:
        return _v2_error(404, str(err))


async def delete_silence(request: web.Request) -> web.Response:
    n = request.app[NOTIFIER]
    try:
        n.silences.expire(_silence_id(request), n.clock())
    except SilenceError as err:
        return _v2_error(404 if err.missing else 400, str(err))
    except STORE_ERRORS as err:
        return _v2_error(503, f"cannot store the silence: {reason(err)}")
    return web.Response(status=200)


async def get_status(request: web.Request) -> web.Response:
    return web.json_response({
        "cluster": {"status": "disabled", "peers": [], "name": ""},
        "versionInfo": version_info(),
        "config": {"original": original(request.app[NOTIFIER].loaded)},
        "uptime": rfc3339(STARTED)})


async def get_receivers(request: web.Request) -> web.Response:
    return web.json_response([{"name": r} for r in request.app[NOTIFIER].by_receiver])


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[NOTIFIER].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def healthy(request: web.Request) -> web.Response:
    return web.Response(text="OK")


async def ready(request: web.Request) -> web.Response:
    return web.Response(text="OK") if request.app[NOTIFIER].ready \
        else web.Response(status=503, text="starting")


def make_app(notifier: Notifier) -> web.Application:
    """The aiohttp application; the caller starts and stops the notifier."""
    web_cfg = notifier.cfg.web
    app = web.Application(client_max_size=web_cfg.max_body_bytes,
                          middlewares=[_auth_middleware(notifier.loaded.bearer_token)])
    app[NOTIFIER] = notifier
    app.router.add_post("/api/v2/alerts", post_alerts)
    app.router.add_get("/api/v2/alerts", get_alerts)
    app.router.add_get("/api/v2/alerts/groups", get_groups)
    app.router.add_post("/api/v1/webhook", post_webhook)
    app.router.add_routes(apiv1.routes(NOTIFIER, STARTED))
    app.router.add_post("/webhook", post_webhook)
    app.router.add_get("/api/v2/silences", get_silences)
    app.router.add_post("/api/v2/silences", post_silence)
    app.router.add_get("/api/v2/silence/{id}", get_silence)
    app.router.add_delete("/api/v2/silence/{id}", delete_silence)
    app.router.add_get("/api/v2/status", get_status)
    app.router.add_get("/api/v2/receivers", get_receivers)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/-/ready", ready)
    ui.register(app, NOTIFIER)  # the web page: / and /ui/ (notifier/ui/)
    return app
