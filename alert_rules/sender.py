"""Sending alerts as Prometheus does: Alertmanager API v2 payloads (`POST /api/v2/alerts`),
`startsAt` = when the alert fired, `endsAt` = when it resolved or, while firing, `valid_until`
(four resend periods ahead, so that two lost sends do not resolve it). Which alerts go out and
when is `evaluate.due`'s decision; sinks only deliver."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from inferwatch.alert_rules.compile import CompiledAlert
from inferwatch.alert_rules.evaluate import Alert

log = logging.getLogger(__name__)
Payload = dict[str, Any]


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def payload(alert: Alert, rule: CompiledAlert, external_url: str) -> Payload:
    """One alert in Alertmanager's v2 shape."""
    ends = alert.resolved_at if alert.resolved_at is not None else alert.valid_until
    link = f"{external_url.rstrip('/')}/graph?g0.expr={quote(rule.promql())}&g0.tab=1"
    return {"labels": dict(alert.labels), "annotations": dict(alert.annotations),
            "startsAt": rfc3339(alert.fired_at if alert.fired_at is not None
                                else alert.active_at),
            "endsAt": rfc3339(ends if ends is not None else alert.active_at),
            "generatorURL": link}


def as_unix(p: Payload) -> dict[str, Any]:
    """A payload as keyword arguments of the notifier's in-process `Alert` (Unix times):
    `InProcessSink(lambda ps: notifier.receive([Alert(**as_unix(p)) for p in ps]))`."""
    return {"labels": p["labels"], "annotations": p["annotations"],
            "starts_at": _unix(p["startsAt"]), "ends_at": _unix(p["endsAt"]),
            "generator_url": p["generatorURL"]}


def _unix(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class AlertmanagerSink:
    """POSTs to one Alertmanager-compatible `/api/v2/alerts` (the notifier's or a real one).
    A failure is logged when it starts or its reason changes, the recovery once; `failures`
    counts every failed send."""

    def __init__(self, url: str, session: aiohttp.ClientSession, timeout: float = 10.0):
        self.base = url.rstrip("/")
        self.url = self.base + "/api/v2/alerts"
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.error: str | None = None
        self.failures = 0

    async def send(self, alerts: list[Payload]) -> bool:
        try:
            async with self.session.post(self.url, json=alerts, timeout=self.timeout) as resp:
                if resp.status // 100 == 2:
                    if self.error is not None:
                        log.info("alertmanager takes alerts again", extra={"url": self.url})
                    self.error = None
                    return True
                error = f"HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError) as err:
            error = f"{type(err).__name__}: {err}".rstrip(": ")
        self.failures += 1
        if error != self.error:
            log.warning("alertmanager send failed", extra={"url": self.url, "error": error,
                                                           "alerts": len(alerts)})
        self.error = error
        return False

    async def probe(self) -> str | None:
        """Whether the Alertmanager answers at all (`GET /-/ready`; any HTTP status will
        do, some compatible receivers have no such path): the error, logged, or None."""
        try:
            async with self.session.get(self.base + "/-/ready", timeout=self.timeout):
                return None
        except (aiohttp.ClientError, TimeoutError) as err:
            self.error = f"{type(err).__name__}: {err}".rstrip(": ")
        log.warning("alertmanager unreachable", extra={"url": self.url, "error": self.error})
        return self.error

    def failure_counts(self) -> dict[tuple[str, str], int]:
        return {("alertmanager", self.base): self.failures}


class InProcessSink:
    """Hands payloads to a function in this process, e.g. the notifier's `receive`."""

    def __init__(self, receive: Callable[[list[Payload]], Any]):
        self.receive = receive

    async def send(self, alerts: list[Payload]) -> bool:
        try:
            result = self.receive(alerts)
            if inspect.isawaitable(result):
                await result
        except Exception:  # the boundary to another component: log it, keep evaluating
            log.exception("in-process receiver failed on %d alert(s)", len(alerts))
            return False
        return True
