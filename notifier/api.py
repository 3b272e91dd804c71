"""The HTTP API: Alertmanager's v2 alerts and silences, a webhook (v4) receiver, /metrics, health.

Bodies are capped at `web.max_body_bytes` (413 beyond); a malformed one gets 400 with the reason;
with a bearer token configured, /api/ and /webhook need `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from inferwatch.notifier.inhibit import Inhibition
from inferwatch.notifier.matchers import Matcher, MatcherError, matches_all, parse_matchers
from inferwatch.notifier.payloads import (
    PayloadError,
    parse_alerts,
    parse_silence,
    parse_webhook,
    rfc3339,
    silence_json,
)
from inferwatch.notifier.routing import match_routes
from inferwatch.notifier.service import Notifier
from inferwatch.notifier.silences import SilenceError

log = logging.getLogger(__name__)
NOTIFIER = web.AppKey("notifier", Notifier)
PROTECTED = ("/api/", "/webhook")
STARTED = time.time()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"status": "error", "error": reason}, status=status)


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
    alerts = parse_alerts(await _body(request))
    await request.app[NOTIFIER].receive(alerts, source="api")
    return web.json_response({"status": "success"})


async def post_webhook(request: web.Request) -> web.Response:
    notifier = request.app[NOTIFIER]
    alerts = parse_webhook(await _body(request), notifier.clock())
    await notifier.receive_webhook(alerts)
    return web.json_response({"status": "success"})


async def get_alerts(request: web.Request) -> web.Response:
    n = request.app[NOTIFIER]
    now = n.clock()
    firing = [a for a in n.active.values() if not a.resolved(now)]
    inhibition = Inhibition(n.rules, firing, now)
    return web.json_response([
        {"labels": a.labels, "annotations": a.annotations, "startsAt": rfc3339(a.starts_at),
         "endsAt": rfc3339(a.ends_at), "updatedAt": rfc3339(a.updated_at),
         "generatorURL": a.generator_url, "fingerprint": a.fingerprint,
         "receivers": [{"name": r.receiver} for r in match_routes(n.route, a.labels)],
         "status": n.status_of(a, inhibition, now)} for a in firing])


async def get_silences(request: web.Request) -> web.Response:
    n = request.app[NOTIFIER]
    try:
        wanted = [m for f in request.query.getall("filter", []) for m in parse_matchers(f)]
    except MatcherError as err:
        raise PayloadError(f"filter: {err}") from None
    now = n.clock()
    return web.json_response([silence_json(s, now) for s in n.silences.all()
                              if _silence_matches(s.matchers, wanted)])


def _silence_matches(matchers: tuple[Matcher, ...], wanted: list[Matcher]) -> bool:
    """Alertmanager's filter: each wanted matcher must match the silence's name -> pattern."""
    return matches_all(wanted, {m.name: m.value for m in matchers})


async def post_silence(request: web.Request) -> web.Response:
    n = request.app[NOTIFIER]
    silence = parse_silence(await _body(request))
    try:
        silence_id = n.silences.set(silence, n.clock())
    except SilenceError as err:
        return _error(404 if err.missing else 400, str(err))
    n.wake.set()
    return web.json_response({"silenceID": silence_id})


async def get_silence(request: web.Request) -> web.Response:
    n = request.app[NOTIFIER]
    try:
        return web.json_response(silence_json(n.silences.get(request.match_info["id"]),
                                              n.clock()))
    except SilenceError as err:
        return _error(404, str(err))


async def delete_silence(request: web.Request) -> web.Response:
    n = request.app[NOTIFIER]
    try:
        n.silences.expire(request.match_info["id"], n.clock())
    except SilenceError as err:
        return _error(404 if err.missing else 400, str(err))
    return web.Response(status=200)


async def get_status(request: web.Request) -> web.Response:
    return web.json_response({
        "cluster": {"status": "disabled", "peers": [], "name": ""},
        "versionInfo": {"version": "inferwatch-notifier", "revision": "", "branch": "",
                        "buildUser": "", "buildDate": "", "goVersion": ""},
        "config": {"original": ""}, "uptime": rfc3339(STARTED)})


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
    app.router.add_post("/api/v1/webhook", post_webhook)
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
    return app
