"""The exporter's HTTP face: /metrics serves the latest snapshot, plus /healthz, /readyz and /."""

from __future__ import annotations

from aiohttp import web

from inferwatch.core.webconfig import WebConfig, middleware
from inferwatch.exporter.loop import CollectorLoop
from inferwatch.exporter.snapshot import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE

LOOP = web.AppKey("loop", CollectorLoop)

LANDING = b"""<html><head><title>inferwatch exporter</title></head><body>
<h1>inferwatch exporter</h1>
<ul><li><a href="metrics">metrics</a></li><li><a href="healthz">healthz</a></li>
<li><a href="readyz">readyz</a></li></ul></body></html>
"""


def wants_openmetrics(accept: str) -> bool:
    """True when the Accept header asks for OpenMetrics ahead of plain text."""
    return "application/openmetrics-text" in accept


def wants_gzip(accept_encoding: str) -> bool:
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() == "gzip":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


async def metrics(request: web.Request) -> web.Response:
    loop = request.app[LOOP]
    snapshot = loop.snapshot
    om = wants_openmetrics(request.headers.get("Accept", ""))
    gz = wants_gzip(request.headers.get("Accept-Encoding", ""))
    loop.wanted.add((om, gz))
    headers = {"Content-Type": OPENMETRICS_CONTENT_TYPE if om else TEXT_CONTENT_TYPE,
               "Vary": "Accept, Accept-Encoding"}
    if gz:
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=snapshot.body(om, gz), headers=headers)


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process serves requests. Collection health is in the metrics."""
    return web.Response(text="ok\n")


async def readyz(request: web.Request) -> web.Response:
    """Ready once every collector has finished its first run (successful or not)."""
    if request.app[LOOP].first_round.is_set():
        return web.Response(text="ready\n")
    return web.Response(status=503, text="collectors have not finished their first run\n")


async def landing(request: web.Request) -> web.Response:
    return web.Response(body=LANDING, content_type="text/html")


def make_app(loop: CollectorLoop, web_config: WebConfig | None = None) -> web.Application:
    app = web.Application(middlewares=[middleware(web_config or WebConfig())])
    app[LOOP] = loop
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/", landing)

    async def run_loop(app: web.Application):
        await loop.start()
        yield
        await loop.stop()

    app.cleanup_ctx.append(run_loop)
    return app
