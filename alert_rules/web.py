"""The HTTP side of `rules run` (off unless `--web.listen-address` or `web.listen_address`
is set; 9479 beside the exporter's 9477 and the notifier's 9478): `/metrics` with the
engine's `inferwatch_rules_*` metrics, `/-/healthy`, and `/-/ready` once the first cycle ran.
TLS and basic auth from an exporter-toolkit web config file, as the exporter's."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from inferwatch.alert_rules.observe import Metrics
from inferwatch.core.webconfig import WebConfig, load_web_config, middleware

log = logging.getLogger(__name__)
DEFAULT_PORT = 9479
METRICS = web.AppKey("metrics", Metrics)
READY = web.AppKey("ready", Callable[[], bool])


def make_app(metrics: Metrics, ready: Callable[[], bool], config: WebConfig | None = None
             ) -> web.Application:
    """`ready()` says whether the first cycle ran."""
    config = config or WebConfig()
    app = web.Application(middlewares=[middleware(config)])
    app[METRICS], app[READY] = metrics, ready
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/-/healthy", _healthy)
    app.router.add_get("/-/ready", _ready)
    return app


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _healthy(_request: web.Request) -> web.Response:
    return web.Response(text="OK\n")


async def _ready(request: web.Request) -> web.Response:
    if request.app[READY]():
        return web.Response(text="OK\n")
    return web.Response(status=503, text="the first evaluation has not run yet\n")


async def serve(metrics: Metrics, ready: Callable[[], bool], listen_address: str,
                web_config_file: str | None = None) -> web.AppRunner:
    """Listen on HOST:PORT (an empty host: every interface); the caller cleans up."""
    config = load_web_config(web_config_file)
    ssl_context = config.ssl_context
    host, _, port = listen_address.rpartition(":")
    runner = web.AppRunner(make_app(metrics, ready, config), access_log=None,
                           handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host or None, int(port), ssl_context=ssl_context)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    log.info("listening", extra={"address": listen_address, "tls": ssl_context is not None})
    return runner
