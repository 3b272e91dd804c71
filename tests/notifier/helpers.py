"""Loopback peers and builders for the notifier tests: a recording webhook, configs, waits."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from inferwatch.notifier.config import Loaded, load_notifier_config

KEY_HEADER = "X-Inferwatch-Notification-Key"


def write_config(tmp_path: Path, text: str, name: str = "notifier.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> Loaded:
    return load_notifier_config(write_config(tmp_path, text))


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: Any

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
            body = raw.decode()
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


def alert_body(name: str, labels: dict[str, str] | None = None, ends: str | None = None,
               **annotations: str) -> dict[str, Any]:
    body: dict[str, Any] = {"labels": {"alertname": name, **(labels or {})},
                            "annotations": annotations}
    if ends:
        body["endsAt"] = ends
    return body
