"""A keep-alive sender for apprise's json:// and jsons:// URLs.

apprise parses the URL (host, port, path, `+headers`, `-params`, `:payload` renames, method,
credentials, `verify=`, `redirect=`) and this sends the very request its JSON plugin would send,
from the event loop over pooled connections, instead of a thread and a fresh `requests`
connection per notification (about 2 ms of CPU each, which capped throughput near 400/s).
tests/notifier/test_webhook_parity.py holds the two requests equal. URLs whose options change the
payload beyond that (emoji interpretation, overflow handling) keep going through apprise.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from apprise.common import OverflowMode
from apprise.plugins.custom_json import NotifyJSON

from notifier.redact import REDACTOR


def fits(plugin: Any) -> bool:
    """Whether this sender reproduces what apprise would send for the plugin."""
    return (type(plugin) is NotifyJSON and plugin.overflow_mode == OverflowMode.UPSTREAM
            and not plugin.interpret_emojis and not plugin.asset.interpret_emojis
            and not plugin.asset.interpret_escapes)


class JsonWebhook:
    """Sends NotifyJSON's request for one URL; owns a connection pool once the loop runs."""

    def __init__(self, plugin: NotifyJSON):
        scheme = "https" if plugin.secure else "http"
        port = f":{plugin.port}" if isinstance(plugin.port, int) else ""
        self.url = f"{scheme}://{plugin.host}{port}{plugin.fullpath}"
        self.plugin = plugin
        # as with requests' auth=(user, password): it wins over a `+Authorization` header
        self.auth = {"Authorization": aiohttp.encode_basic_auth(plugin.user, plugin.password or "")
                     } if plugin.user else {}
        self.session: aiohttp.ClientSession | None = None

    def payload(self, title: str, body: str, notify_type: str) -> dict[str, Any]:
        """NotifyJSON's payload, with its `:key=value` renames and removals applied."""
        payload: dict[str, Any] = {"version": self.plugin.json_version, "title": title,
                                   "message": body, "attachments": [], "type": notify_type}
        for key, value in self.plugin.payload_extras.items():
            if key in payload:
                old = payload.pop(key)
                if value:
                    payload[value] = old
            else:
                payload[key] = value
        return payload

    async def send(self, title: str, body: str, notify_type: str, headers: dict[str, str],
                   timeout: float) -> int | str:
        """The HTTP status, or the name of the connection error (text safe to log)."""
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))
        sent = {"User-Agent": self.plugin.app_id, "Content-Type": "application/json",
                **self.plugin.headers, **headers, **self.auth}
        try:
            async with self.session.request(
                    self.plugin.method, self.url, params=self.plugin.params, headers=sent,
                    data=json.dumps(self.payload(title, body, notify_type)),
                    ssl=None if self.plugin.verify_certificate else False,
                    allow_redirects=self.plugin.redirects,
                    timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                await resp.read()
                return resp.status
        except (aiohttp.ClientError, TimeoutError) as err:
            return REDACTOR.redact(f"{type(err).__name__}: {err}", urls=True)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None
