"""The demo's two channels: a `console://` apprise scheme and a local webhook receiver.

Both turn each notification into a `Delivery` handed to one callback on the event loop. The
webhook receiver is an aiohttp app on loopback that the notifier reaches with apprise's
`json://` plugin; it also appends every post, as received, to a JSON-lines file.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from apprise.decorators import notify

WEBHOOK_PATH = "/webhook"


@dataclass(frozen=True)
class Delivery:
    """One notification as a channel received it."""

    channel: str  # console or webhook
    title: str
    body: str
    notify_type: str  # apprise's: info, success, warning, failure
    at: float


OnDelivery = Callable[[Delivery], None]
# Where `console://` notifications go: (loop, callback), set by `console_to`. Apprise plugins
# are registered process-wide and may run in a worker thread.
_console: dict[str, tuple[asyncio.AbstractEventLoop, OnDelivery]] = {}


@notify(on="console", name="inferwatch demo console")
def _console_plugin(body: str, title: str, notify_type: str, *args: Any, **kwargs: Any) -> bool:
    target = _console.get("target")
    if target is None:
        return False
    loop, callback = target
    delivery = Delivery("console", title, body, str(notify_type), time.time())
    loop.call_soon_threadsafe(callback, delivery)
    return True


def console_to(callback: OnDelivery | None) -> None:
    """Send `console://` notifications to `callback` on the running loop (None: nowhere)."""
    if callback is None:
        _console.pop("target", None)
    else:
        _console["target"] = (asyncio.get_running_loop(), callback)


RECEIVER = web.AppKey("receiver", "WebhookReceiver")


class WebhookReceiver:
    """Records apprise `json://` posts: in memory, in `path` (JSON lines), to `callback`."""

    def __init__(self, path: Path, callback: OnDelivery):
        self.path, self.callback = path, callback
        self.records: list[dict[str, Any]] = []
        path.write_text("", encoding="utf-8")

    def app(self) -> web.Application:
        app = web.Application()
        app[RECEIVER] = self
        app.router.add_post(WEBHOOK_PATH, _post)
        return app

    def record(self, payload: dict[str, Any]) -> Delivery:
        self.records.append(payload)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(payload) + "\n")
        return Delivery("webhook", str(payload.get("title", "")),
                        str(payload.get("message", "")), str(payload.get("type", "")),
                        time.time())


async def _post(request: web.Request) -> web.Response:
    try:
        payload = await request.json()
    except ValueError:
        return web.Response(status=400, text="a JSON body is expected\n")
    if not isinstance(payload, dict):
        return web.Response(status=400, text="a JSON object is expected\n")
    receiver = request.app[RECEIVER]
    receiver.callback(receiver.record(payload))
    return web.Response(text="ok\n")
