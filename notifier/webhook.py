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
import ssl
from typing import Any

import aiohttp
import yarl
from apprise.common import OverflowMode
from apprise.plugins.custom_json import NotifyJSON

from inferwatch.core.redact import REDACTOR
from inferwatch.notifier.httpclient import MAX_BODY, HttpError, Origin


def fits(plugin: Any) -> bool:
    """Whether this sender reproduces what apprise would send for the plugin."""
    if type(plugin) is not NotifyJSON:
        return False
    texts = [plugin.fullpath, *plugin.headers, *plugin.headers.values()]
    return (plugin.overflow_mode == OverflowMode.UPSTREAM
            and not plugin.interpret_emojis and not plugin.asset.interpret_emojis
            and not plugin.asset.interpret_escapes
            and not any("\r" in t or "\n" in t for t in texts))  # apprise's to refuse

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
        self.session: aiohttp.ClientSession | None = None  # for redirects only
        self.origin: Origin | None = None  # made in the loop that sends
        url = yarl.URL(self.url)
        url = url.with_query(self.plugin.params) if self.plugin.params else url
        host = f"[{url.raw_host}]" if ":" in (url.raw_host or "") else url.raw_host
        self.host = host if url.is_default_port() else f"{host}:{url.port}"
        self.target = f"{self.plugin.method} {url.raw_path_qs} HTTP/1.1\r\n"

    def head(self, headers: dict[str, str], length: int) -> bytes:
        """The request line and headers; a later header replaces an earlier one of any case."""
        merged: dict[str, tuple[str, str]] = {}
        for name, value in {"Host": self.host, "User-Agent": self.plugin.app_id,
                            "Accept": "*/*", "Content-Type": "application/json",
                            **self.plugin.headers, **headers, **self.auth,
                            "Content-Length": str(length)}.items():
            merged[name.lower()] = (name, value)
        lines = "".join(f"{name}: {value}\r\n" for name, value in merged.values())
        return f"{self.target}{lines}\r\n".encode()

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
        head = self.head(headers, len(data))
        if self.origin is None:
            url = yarl.URL(self.url)
            self.origin = Origin(url.raw_host or "", url.port or 80, self._tls(url))
        try:
            status, answer = await self.origin.request(head, data, timeout)
        except HttpError as err:
            return REDACTOR.redact(f"{type(err).__name__}: {err}", urls=True)
        if 300 <= status < 400 and "location" in answer and self.plugin.redirects:
            return await self._send_redirected(data, headers, timeout)
        return status

    def _tls(self, url: yarl.URL) -> ssl.SSLContext | None:
        if url.scheme != "https":
            return None
        if self.plugin.verify_certificate:
            return ssl.create_default_context()
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        return context

    async def _send_redirected(self, data: bytes, headers: dict[str, str],
                               timeout: float) -> int | str:
        """Send again through aiohttp, which follows the redirects."""
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))
        sent = {"User-Agent": self.plugin.app_id, "Content-Type": "application/json",
                **self.plugin.headers, **headers, **self.auth}
        try:
            async with self.session.request(
                    self.plugin.method, self.url, params=self.plugin.params, headers=sent,
                    data=data, ssl=None if self.plugin.verify_certificate else False,
                    timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                await resp.content.read(MAX_BODY)  # drained, within a bound
                return resp.status
        except (aiohttp.ClientError, TimeoutError) as err:
            return REDACTOR.redact(f"{type(err).__name__}: {err}", urls=True)

    async def close(self) -> None:
        if self.origin is not None:
            self.origin.close()
        if self.session is not None:
            await self.session.close()
            self.session = None
