"""A keep-alive sender for apprise's json:// and jsons:// URLs.

apprise parses the URL (host, port, path, `+headers`, `-params`, `:payload` renames, method,
credentials, `verify=`, `redirect=`) and this sends the very request its JSON plugin would send,
from the event loop over pooled kept-alive connections, instead of a thread and a fresh
`requests` connection per notification (about 2 ms of CPU each, which capped throughput near
400/s). tests/notifier/test_webhook_parity.py holds the two requests equal. URLs whose options
change the payload beyond that (emoji interpretation, overflow handling) keep going through
apprise. The answer's body is drained up to MAX_BODY; a longer one closes its connection.

The request goes out through the hand-written notifier/httpclient.py; a redirect (when the URL
allows them) is followed by aiohttp's client, sending the request again. Issue 11 kept the
hand-written client only while aiohttp's fell below Alertmanager's throughput, and whether it
does varies from run to run (bench/bench_notifier.py: aiohttp 5109 against Alertmanager 6326
in one run, 5444 against 4273 in the next). What does not vary is the cost: the hand-written
client sent 7997 and 7950 notifications per second in those runs, 1.5x aiohttp's. Three
notifier replicas on PostgreSQL (bench/bench_ha.py, issue 13) spent a third of their CPU in
aiohttp's client; with the hand-written one they used 25% less CPU and sent 20% more
notifications per second, which is what brings them to Alertmanager's single node.
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
from inferwatch.notifier.httpclient import HttpError, Origin


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
        url = yarl.URL(self.url)
        url = url.with_query(self.params) if self.params else url
        # Host as aiohttp writes it (IPv6 in brackets, no default port), unless `+Host=` sets it
        host = "" if any(k.lower() == "host" for k in plugin.headers) \
            else f"Host: {url.host_port_subcomponent}\r\n"
        self.start = f"{plugin.method} {url.raw_path_qs} HTTP/1.1\r\n{host}"
        self.origin = Origin(url.raw_host or "", url.port or 80, _tls(plugin) if plugin.secure
                             else None)

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
        lines = "".join(f"{k}: {v}\r\n" for k, v in self.headers(headers).items())
        head = f"{self.start}{lines}Content-Length: {len(data)}\r\n\r\n".encode()
        try:
            status = (await self.origin.request(head, data, timeout))[0]
        except HttpError as err:
            return REDACTOR.redact(str(err), urls=True)
        if self.redirects and status in REDIRECTS:  # followed as aiohttp follows them
            return await self._send_aiohttp(data, headers, timeout)
        return status

    async def _send_aiohttp(self, data: bytes, headers: dict[str, str],
                            timeout: float) -> int | str:
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
        self.origin.close()
        if self.session is not None:
            await self.session.close()
            self.session = None


REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _tls(plugin: NotifyJSON) -> ssl.SSLContext:
    """jsons://'s TLS: the system's trust and host name check, or none with verify=no."""
    context = ssl.create_default_context()
    if not plugin.verify_certificate:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
