"""Delivery through apprise: one channel per configured URL, apprise's own retries off.

The outbox does the retrying, so each attempt here is a single try. A failure is recoverable
unless apprise saw an HTTP 4xx other than 408 and 429 (Alertmanager retries 5xx, not 4xx).
A channel keeps loaded apprise instances for reuse (parsing a URL costs more than sending to a
loopback webhook); one instance serves one attempt at a time, and gets that attempt's key header.
Every attempt, email's SMTP included, ends within the delivery timeout (plus GRACE).
json:// and jsons:// URLs go out through notifier.webhook: the same request, kept-alive.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import apprise

from inferwatch.core.redact import REDACTOR
from inferwatch.notifier.templates import Template
from inferwatch.notifier.webhook import JsonWebhook, fits

KEY_HEADER = "X-Inferwatch-Notification-Key"
# Schemes that take `+Header=value` arguments, so each notification can carry its key.
HEADER_SCHEMES = {"json", "jsons", "form", "forms", "xml", "xmls", "mailto", "mailtos"}
KINDS = {"NotifySlack": "slack", "NotifyEmail": "email"}
_STATUS = re.compile(r"error=(\d{3})")
ASSET = apprise.AppriseAsset(storage_mode="memory")
GRACE = 0.5  # seconds past the delivery timeout before an attempt is abandoned outright


class Target(str):
    """A channel's URL (the secret itself), carrying what else the channel needs: an
    Alertmanager integration (`native`, notifier/amnotify.py) and the routes' time intervals."""

    native: Any
    times: Any

    def __new__(cls, value: str, native: Any = None, times: Any = None) -> Target:
        obj = super().__new__(cls, value)
        obj.native, obj.times = native, times
        return obj


class ChannelError(Exception):
    """A delivery attempt that failed; `recoverable` says whether to try again."""

    def __init__(self, message: str, recoverable: bool):
        super().__init__(message)
        self.recoverable = recoverable


@dataclass(frozen=True)
class Channel:
    """One apprise URL of one receiver. The URL never appears in repr, logs or errors."""

    receiver: str
    index: int
    url: str = field(repr=False)
    kind: str  # slack, email or default: picks the default template
    type: str  # the apprise scheme, for metric labels
    send_resolved: bool
    template: Template = field(repr=False)
    fast: JsonWebhook | None = field(default=None, repr=False, compare=False)
    _idle: list[apprise.Apprise] = field(default_factory=list, repr=False, compare=False)
    native: Any = field(default=None, repr=False, compare=False)  # amnotify.Native
    times: Any = field(default=None, repr=False, compare=False)  # timeintervals.RouteTimes

    @property
    def name(self) -> str:
        return f"{self.receiver}/{self.index} ({self.type})"

    async def send(self, title: str, body: str, body_format: str, notify_type: str,
                   key: str, timeout: float) -> None:
        """One attempt; raises ChannelError on failure."""
        if self.native is not None and self.native.http:
            return self._check(await self.native.post(body, {KEY_HEADER: key}, timeout))
        if self.fast is not None:
            return await self._send_fast(self.fast, title, body, notify_type, key, timeout)
        notifier = self._idle.pop() if self._idle else self._load()
        keyed = urlsplit(self.url).scheme.lower() in HEADER_SCHEMES
        for service in notifier:
            if keyed:
                service.headers[KEY_HEADER] = key
            # each socket operation of a plugin (SMTP's included) within the attempt's bound
            service.socket_connect_timeout = service.socket_read_timeout = timeout
        try:
            # apprise stops waiting at `timeout`; this bound holds even if a plugin does not
            result = await asyncio.wait_for(notifier.async_notify(
                body=body, title=title, notify_type=notify_type, body_format=body_format,
                timeout=timeout), timeout + GRACE)
        except TimeoutError:
            raise ChannelError(f"{self.name}: timed out after {timeout:g}s",
                               recoverable=True) from None
        if result.status is not apprise.AppriseResultStatus.TIMEOUT:
            # after a timeout a worker thread may still hold the instance: never reuse it
            self._idle.append(notifier)
        if not result:
            raise _failure(self.name, result)

    async def _send_fast(self, fast: JsonWebhook, title: str, body: str, notify_type: str,
                         key: str, timeout: float) -> None:
        self._check(await fast.send(title, body, notify_type, {KEY_HEADER: key}, timeout))

    def _check(self, outcome: int | str) -> None:
        """ChannelError unless a 2xx; 4xx other than 408 and 429 is not retried."""
        if isinstance(outcome, str):
            raise ChannelError(f"{self.name}: {outcome}", recoverable=True)
        if not 200 <= outcome < 300:
            permanent = 400 <= outcome < 500 and outcome not in (408, 429)
            raise ChannelError(f"{self.name}: HTTP error={outcome}", recoverable=not permanent)

    async def close(self) -> None:
        """Close kept-alive connections."""
        if self.fast is not None:
            await self.fast.close()
        if self.native is not None:
            await self.native.close()

    def _load(self) -> apprise.Apprise:
        """A fresh apprise instance for this URL: no retries, no throttling between uses."""
        notifier = apprise.Apprise(asset=ASSET)
        if not notifier.add(self.url):
            raise ChannelError(f"{self.name}: apprise cannot load this URL", recoverable=False)
        for service in notifier:
            service.retry = 0
            service.request_rate_per_sec = 0  # as when each attempt had its own instance
        return notifier


def _failure(name: str, result: apprise.AppriseResult) -> ChannelError:
    messages = [entry.message for service in result for attempt in service.attempts
                for entry in attempt.logs if entry.level in ("WARNING", "ERROR")]
    text = REDACTOR.redact("; ".join(messages) or f"status {result.status.name}", urls=True)
    codes = [int(c) for c in _STATUS.findall(text)]
    permanent = bool(codes) and all(400 <= c < 500 and c not in (408, 429) for c in codes)
    return ChannelError(f"{name}: {text[:300]}", recoverable=not permanent)


def make_channel(receiver: str, index: int, url: str, send_resolved: bool | None,
                 pick_template: Callable[[str], Template]) -> Channel:
    """A channel, or ValueError (without the URL) when apprise cannot use it.

    send_resolved defaults as in Alertmanager: off for email and Slack, on for the rest.
    An Alertmanager integration (a Target with `native`) renders its own body.
    """
    native, times = getattr(url, "native", None), getattr(url, "times", None)
    if native is not None:
        return _native_channel(receiver, index, url, send_resolved, native, times)
    plugin = apprise.Apprise.instantiate(url, asset=ASSET)
    if plugin is None:
        scheme = urlsplit(url).scheme or "?"
        raise ValueError(f"apprise cannot use this URL (scheme {scheme!r})")
    kind = KINDS.get(type(plugin).__name__, "default")
    scheme = urlsplit(plugin.url(privacy=True)).scheme.lower() or "unknown"
    resolved = send_resolved if send_resolved is not None else kind == "default"
    fast = JsonWebhook(plugin) if fits(plugin) else None
    return Channel(receiver, index, url, kind, scheme, resolved, pick_template(kind), fast,
                   times=times)


def _native_channel(receiver: str, index: int, url: str, send_resolved: bool | None,
                    native: Any, times: Any) -> Channel:
    if not native.http and apprise.Apprise.instantiate(url, asset=ASSET) is None:
        raise ValueError("apprise cannot use this URL")
    resolved = native.send_resolved() if send_resolved is None else send_resolved
    template = Template("", "", "", native.body_format)
    kind = "email" if native.kind == "email" else "default"
    return Channel(receiver, index, url, kind, native.kind, resolved, template,
                   native=native, times=times)
