"""A keep-alive sender for apprise's json:// and jsons:// URLs.

apprise parses the URL (host, port, path, `+headers`, `-params`, `:payload` renames, method,
credentials, `verify=`, `redirect=`) and this sends the very request its JSON plugin would send,
from the event loop over an aiohttp session's pooled connections, instead of a thread and a fresh
`requests` connection per notification (about 2 ms of CPU each, which capped throughput near
400/s). tests/notifier/test_webhook_parity.py holds the two requests equal. URLs whose options
change the payload beyond that (emoji interpretation, overflow handling) keep going through
apprise. The answer's body is drained up to MAX_BODY; a longer one closes its connection.

aiohttp's client, not the hand-written notifier/httpclient.py: measured side by side with
Alertmanager (bench/bench_notifier.py, issue 11) it delivers more notifications per second than
Alertmanager does, so the hand-written one is not needed on this path.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from apprise.common import OverflowMode
from apprise.plugins.custom_json import NotifyJSON

from inferwatch.core.redact import REDACTOR


def fits(plugin: Any) -> bool:
    """Whether this sender reproduces what apprise would send for the plugin."""
    if type(plugin) is not NotifyJSON:
        return False
    texts = [plugin.fullpath, *plugin.headers, *plugin.headers.values()]
    return (plugin.overflow_mode == OverflowMode.UPSTREAM
            and not plugin.interpret_emojis and not plugin.asset.interpret_emojis
            and not plugin.asset.interpret_escapes
            and not any("\r" in t or "\n" in t for t in texts))  # apprise's to refuse

MAX_BODY = 64 << 10  # bytes of a receiver's answer read (and dropped) at most


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
        self.session: aiohttp.ClientSession | None = None  # made in the loop that sends
        self.ssl: bool | None = None if plugin.verify_certificate else False
        self.params = plugin.params or None
        self.redirects = bool(plugin.redirects)
        self.session_timeout = 0.0

    def headers(self, extra: dict[str, str]) -> dict[str, str]:
        """The request's headers; a later header replaces an earlier one of any case."""
        merged: dict[str, tuple[str, str]] = {}
        for name, value in {"User-Agent": self.plugin.app_id, "Accept": "*/*",
                            "Content-Type": "application/json", **self.plugin.headers,
                            **extra, **self.auth}.items():
            merged[name.lower()] = (name, value)
        return dict(merged.values())

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
        data = json.dumps(self.payload(title, body, notify_type)).encode()
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ssl=self.ssl),
                timeout=aiohttp.ClientTimeout(total=timeout))
            self.session_timeout = timeout
        try:
            async with self.session.request(
                    self.plugin.method, self.url, params=self.params, data=data,
                    headers=self.headers(headers), allow_redirects=self.redirects,
                    **self._timeout(timeout)) as resp:
                await resp.content.read(MAX_BODY)  # drained, within a bound
                return resp.status
        except TimeoutError:
            return f"timed out after {timeout:g}s"
        except aiohttp.ClientError as err:
            return REDACTOR.redact(f"{type(err).__name__}: {err}", urls=True)

    def _timeout(self, timeout: float) -> dict[str, aiohttp.ClientTimeout]:
        """The request's own timeout, when it differs from the session's."""
        if timeout == self.session_timeout:
            return {}
        return {"timeout": aiohttp.ClientTimeout(total=timeout)}

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None
