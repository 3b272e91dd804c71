"""The exporter's HTTP face: /metrics serves the latest snapshot, plus /healthz, /readyz and /.

`run_app` serves it like aiohttp's `web.run_app`, hardened (`Hardening`): a client that has
not sent a whole request head within the header timeout is cut (slowloris), a TLS handshake
has its own timeout, connections over the limit are closed at once, and client garbage
(oversized or NUL-bearing headers, TLS on the plain port) is logged at debug in one line,
never as an error traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web, web_protocol
from aiohttp.http_exceptions import HttpProcessingError

from inferwatch.core.webconfig import WebConfig, middleware
from inferwatch.exporter.loop import CollectorLoop
from inferwatch.exporter.snapshot import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE

log = logging.getLogger(__name__)

LOOP = web.AppKey("loop", CollectorLoop)
LOG_CHARS = 200  # of a client's garbage quoted in a debug line
_SILENT = logging.getLogger(__name__ + ".silenced")  # aiohttp's traceback for a bad request
_SILENT.disabled, _SILENT.propagate = True, False

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


@dataclass(frozen=True)
class Hardening:
    """Bounds on what clients may hold: seconds to send a request head (from the connection,
    or from a kept-alive connection's first byte of the next request), seconds for a TLS
    handshake, open connections at once, and seconds a kept-alive connection may idle."""

    header_timeout: float = 10.0
    tls_handshake_timeout: float = 10.0
    max_connections: int = 256
    keepalive_timeout: float = 75.0


class _Handler(web_protocol.RequestHandler):
    """aiohttp's protocol with the header timeout, the connection limit and quiet errors."""

    hardening = Hardening()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._heads = self._request_count
        self._head_timer: asyncio.TimerHandle | None = None
        manager = self._manager
        if manager is not None and len(manager.connections) > self.hardening.max_connections:
            log.debug("closing a connection from %s: over the limit of %d connections",
                      _peer(transport), self.hardening.max_connections)
            transport.abort()
            return
        self._start_head_timer()

    def _start_head_timer(self) -> None:
        self._head_timer = self._loop.call_later(self.hardening.header_timeout, self._head_late)

    def _head_late(self) -> None:
        self._head_timer = None
        if self._request_in_progress:  # a body, not a head: the next data starts a timer
            return
        if self._request_count == self._heads and self.transport is not None:
            log.debug("closing a connection from %s: no complete request head after %gs",
                      _peer(self.transport), self.hardening.header_timeout)
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and data and not self._request_in_progress:
            self._heads = self._request_count  # a new request begins on a kept-alive connection
            self._start_head_timer()
        super().data_received(data)
        if self._request_count != self._heads and self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def connection_lost(self, exc: BaseException | None) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
        super().connection_lost(exc)

    def handle_error(self, request, status=500, exc=None, message=None):
        """A client's malformed request: one debug line, then aiohttp's 400 answer."""
        if not isinstance(exc, HttpProcessingError):
            return super().handle_error(request, status, exc, message)
        peer = _peer(self.transport) if self.transport is not None else "?"
        log.debug("bad request from %s: %s", peer, " ".join(str(exc).split())[:LOG_CHARS])
        self.logger, logger = _SILENT, self.logger
        try:
            return super().handle_error(request, status, exc, message)
        finally:
            self.logger = logger

    def log_exception(self, *args, **kw) -> None:
        """A client gone mid-request in one debug line; anything else as aiohttp does."""
        exc = kw.get("exc_info")
        if isinstance(exc, ConnectionError | ssl.SSLError):
            peer = _peer(self.transport) if self.transport is not None else "?"
            log.debug("connection from %s failed: %s", peer, str(exc)[:LOG_CHARS])
            return
        super().log_exception(*args, **kw)


def _peer(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "?"


def _factory(server: web.Server, hardening: Hardening) -> Callable[[], _Handler]:
    """The protocol factory: aiohttp's `Server.__call__` with the hardened handler."""
    handler = type("HardenedHandler", (_Handler,), {"hardening": hardening})

    def make() -> _Handler:
        return handler(server, loop=server._loop, **server._kwargs)
    return make


class HardenedSite(web.TCPSite):
    """A TCP site whose connections get `Hardening`'s bounds."""

    def __init__(self, runner: web.BaseRunner, host: str | None, port: int, *,
                 ssl_context: ssl.SSLContext | None = None,
                 hardening: Hardening = Hardening()):
        super().__init__(runner, host, port, ssl_context=ssl_context)
        self.hardening = hardening

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        tls = {"ssl_handshake_timeout": self.hardening.tls_handshake_timeout} \
            if self._ssl_context else {}
        self._server = await asyncio.get_running_loop().create_server(
            _factory(server, self.hardening), self._host, self._port, ssl=self._ssl_context,
            backlog=self._backlog, reuse_address=self._reuse_address,
            reuse_port=self._reuse_port, **tls)
        self._bound_port = self._server.sockets[0].getsockname()[1]


async def start_server(app: web.Application, host: str | None, port: int,
                       ssl_context: ssl.SSLContext | None = None,
                       hardening: Hardening = Hardening(),
                       handle_signals: bool = False) -> tuple[web.AppRunner, HardenedSite]:
    """Set up app and listen; the caller cleans the runner up (tests, `run_app`)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=handle_signals,
                           keepalive_timeout=hardening.keepalive_timeout)
    await runner.setup()
    site = HardenedSite(runner, host, port, ssl_context=ssl_context, hardening=hardening)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, site


def run_app(app: web.Application, *, host: str | None, port: int,
            ssl_context: ssl.SSLContext | None = None,
            print: Callable[[str], None] | None = None,
            hardening: Hardening = Hardening()) -> None:
    """`web.run_app(app, host=..., port=..., ssl_context=..., access_log=None, print=...)`,
    hardened: serve until SIGINT or SIGTERM, then shut down gracefully. OSError when the
    address cannot be bound."""
    async def serve() -> None:
        runner, site = await start_server(app, host, port, ssl_context, hardening,
                                          handle_signals=True)
        try:
            if print is not None:
                print(f"serving on {site.name}")
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    loop = asyncio.new_event_loop()
    task = loop.create_task(serve())
    try:
        loop.run_until_complete(task)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, web.GracefulExit, KeyboardInterrupt):
            loop.run_until_complete(task)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
