"""Delivery through apprise: one channel per configured URL, apprise's own retries off.

The outbox does the retrying, so each attempt here is a single try. A failure is recoverable
unless apprise saw an HTTP 4xx other than 408 and 429 (Alertmanager retries 5xx, not 4xx).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import apprise

from notifier.redact import REDACTOR
from notifier.templates import Template

KEY_HEADER = "X-Inferwatch-Notification-Key"
# Schemes that take `+Header=value` arguments, so each notification can carry its key.
HEADER_SCHEMES = {"json", "jsons", "form", "forms", "xml", "xmls", "mailto", "mailtos"}
KINDS = {"NotifySlack": "slack", "NotifyEmail": "email"}
_STATUS = re.compile(r"error=(\d{3})")
ASSET = apprise.AppriseAsset(storage_mode="memory")


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

    @property
    def name(self) -> str:
        return f"{self.receiver}/{self.index} ({self.type})"

    async def send(self, title: str, body: str, body_format: str, notify_type: str,
                   key: str, timeout: float) -> None:
        """One attempt; raises ChannelError on failure."""
        notifier = apprise.Apprise(asset=ASSET)
        if not notifier.add(self._url_with_key(key)):
            raise ChannelError(f"{self.name}: apprise cannot load this URL", recoverable=False)
        for service in notifier:
            service.retry = 0
        result = await notifier.async_notify(body=body, title=title, notify_type=notify_type,
                                             body_format=body_format, timeout=timeout)
        if not result:
            raise _failure(self.name, result)

    def _url_with_key(self, key: str) -> str:
        if urlsplit(self.url).scheme.lower() not in HEADER_SCHEMES:
            return self.url
        joiner = "&" if "?" in self.url else "?"
        return f"{self.url}{joiner}{quote('+' + KEY_HEADER)}={key}"


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
    """
    plugin = apprise.Apprise.instantiate(url, asset=ASSET)
    if plugin is None:
        scheme = urlsplit(url).scheme or "?"
        raise ValueError(f"apprise cannot use this URL (scheme {scheme!r})")
    kind = KINDS.get(type(plugin).__name__, "default")
    scheme = urlsplit(plugin.url(privacy=True)).scheme.lower() or "unknown"
    resolved = send_resolved if send_resolved is not None else kind == "default"
    return Channel(receiver, index, url, kind, scheme, resolved, pick_template(kind))
