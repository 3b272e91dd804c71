"""A recording webhook receiver on 127.0.0.1 (the one every test uses), and a bounded wait."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

KEY_HEADER = "X-Inferwatch-Notification-Key"


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: Any
    at: float = field(default_factory=time.monotonic)  # when it arrived

    @property
    def key(self) -> str:
        return self.headers.get(KEY_HEADER, "")


@dataclass
class Sink:
    """An aiohttp app on 127.0.0.1 recording every POST; `fail` answers with a status first."""

    port: int = 0
    posts: list[Post] = field(default_factory=list)
    fail: list[int] = field(default_factory=list)  # statuses to answer, one per request
    delay: float = 0.0
    reply: str = "ok"
    runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            return web.Response(status=self.fail.pop(0), text="failing on purpose")
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        self.posts.append(Post(request.path, dict(request.headers), body))
        return web.Response(text=self.reply)

    async def start(self) -> Sink:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def url(self, path: str = "/hook", scheme: str = "json") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"


async def until(predicate: Callable[[], bool], timeout: float = 10.0,
                what: str = "condition") -> None:
    """Poll until predicate() holds; AssertionError naming `what` after the timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)
