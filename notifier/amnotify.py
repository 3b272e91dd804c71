"""Alertmanager's integrations at work: the payload each builds, and the native HTTP sender.

`Native.render` builds, at flush time, what Alertmanager 0.25's notifier for the kind sends
(notify/webhook, slack, discord, pagerduty: the same JSON fields, Go templates rendered with
its default templates for unset fields). With `global.external_url` set (ours; Alertmanager
has no such field), each alert of the webhook body also carries `silenceURL`, the notifier
page's silence form prefilled with its labels: a key Alertmanager's webhook lacks, which JSON
decoders of its payload (Go's encoding/json, the usual consumers) skip. The outbox stores
that body and `Native.post` sends it, kept-alive over aiohttp, with the integration's
`http_config` (basic auth, bearer token, TLS, redirects). Email renders its subject and body
here and goes out through apprise's mailto.
"""

from __future__ import annotations

import hashlib
import json
import ssl
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import aiohttp

from inferwatch.core.redact import REDACTOR
from inferwatch.core.version import __version__
from inferwatch.notifier import alertlinks
from inferwatch.notifier.amreceivers import (
    DiscordConfig,
    EmailConfig,
    HTTPConfig,
    Integration,
    PagerdutyConfig,
    SlackConfig,
    WebhookConfig,
)
from inferwatch.notifier.gotemplate import AlertmanagerTemplates, notification_data
from inferwatch.notifier.gotemplate.data import am_order
from inferwatch.notifier.templates import MessageData
from inferwatch.notifier.webhook import MAX_BODY

USER_AGENT = f"Alertmanager/0.25.0 (inferwatch {__version__})"
ZERO_TIME = "0001-01-01T00:00:00Z"


def go_json(obj: Any) -> str:
    """encoding/json's Encoder output: HTML characters escaped, a trailing newline."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text + "\n"


def go_time(ts: float) -> str:
    """time.Time's RFC3339Nano text (UTC, trailing zeros of the fraction dropped)."""
    text = datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds")
    head, _, frac = text.removesuffix("+00:00").partition(".")
    frac = frac.rstrip("0")
    return f"{head}.{frac}Z" if frac else f"{head}Z"


def truncate(text: str, n: int) -> str:
    """notify.TruncateInRunes."""
    if len(text) <= n:
        return text
    return text[:n] if n <= 3 else text[:n - 1] + "…"


def _ssl(http: HTTPConfig | None) -> ssl.SSLContext | None:
    tls = http.tls_config if http else None
    if tls is None:
        return None
    context = ssl.create_default_context(cafile=tls.ca_file)
    if tls.cert_file:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@dataclass
class Native:
    """One Alertmanager integration of one receiver. Secrets stay out of repr."""

    kind: str
    config: Integration = field(repr=False)
    templates: AlertmanagerTemplates = field(repr=False)
    url: str = field(default="", repr=False)  # where `post` sends; "" for email
    auth: dict[str, str] = field(default_factory=dict, repr=False)
    secret: str = field(default="", repr=False)  # a routing key, rendered into the body
    body_format: str = "json"
    session: aiohttp.ClientSession | None = field(default=None, repr=False)

    @property
    def http(self) -> bool:
        """Sent by `post` (email goes through apprise)."""
        return self.kind != "email"

    def send_resolved(self) -> bool:
        if self.config.send_resolved is not None:
            return self.config.send_resolved
        return self.config.resolved_default()

    def render(self, message: MessageData, now: float) -> tuple[str, str]:
        """(title, body) for one notification of a group."""
        alerts = am_order(message.alerts)
        truncated = 0
        if isinstance(self.config, WebhookConfig) and self.config.max_alerts:
            truncated = max(0, len(alerts) - self.config.max_alerts)
            alerts = alerts[:self.config.max_alerts]
        message = replace(message, alerts=alerts)
        data = notification_data(message, now)
        text = lambda t: self.templates.execute_text(t, data)  # noqa: E731
        cfg = self.config
        if isinstance(cfg, WebhookConfig):
            return "", go_json(self._webhook(message, data, now, truncated))
        if isinstance(cfg, SlackConfig):
            return "", go_json(_slack(cfg, text))
        if isinstance(cfg, DiscordConfig):
            color = 0x992D22 if data.Status == "firing" else 0x2ECC71
            return "", go_json({"content": "", "embeds": [
                {"title": text(cfg.title), "description": text(cfg.message), "color": color}]})
        if isinstance(cfg, PagerdutyConfig):
            return "", go_json(_pagerduty(cfg, text, data, message.group_key, self.secret))
        if isinstance(cfg, EmailConfig):
            subject = next((v for k, v in cfg.headers.items() if k.lower() == "subject"),
                           '{{ template "email.default.subject" . }}')
            if cfg.html:  # Alertmanager renders `html` with html/template: escaped in context
                return text(subject), self.templates.execute_html(cfg.html, data)
            return text(subject), text(cfg.text)
        raise AssertionError(self.kind)

    def _webhook(self, message: MessageData, data: Any, now: float, truncated: int) -> dict:
        alerts = [{"status": shown.Status, "labels": dict(a.labels),
                   "annotations": dict(a.annotations), "startsAt": go_time(a.starts_at),
                   "endsAt": go_time(a.ends_at) if shown.Status == "resolved" else ZERO_TIME,
                   "generatorURL": a.generator_url, "fingerprint": a.fingerprint}
                  for a, shown in zip(message.alerts, data.Alerts, strict=True)]
        if message.external_url:  # ours, not Alertmanager's: an extra key decoders skip
            for shown, a in zip(alerts, message.alerts, strict=True):
                shown["silenceURL"] = alertlinks.silence_url(message.external_url, a.labels)
        return {"receiver": data.Receiver, "status": data.Status, "alerts": alerts,
                "groupLabels": dict(data.GroupLabels), "commonLabels": dict(data.CommonLabels),
                "commonAnnotations": dict(data.CommonAnnotations),
                "externalURL": data.ExternalURL, "version": "4", "groupKey": message.group_key,
                "truncatedAlerts": truncated}

    async def post(self, body: str, headers: dict[str, str], timeout: float) -> int | str:
        """POST the stored body: the HTTP status, or a connection error's text (safe to log)."""
        http = self.config.http_config
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ssl=_ssl(http) or True))
        server_name = http.tls_config.server_name if http and http.tls_config else None
        extra = {"server_hostname": server_name} if server_name else {}
        try:
            async with self.session.post(
                    self.url, data=body.encode(), allow_redirects=http.follow_redirects
                    if http else True, timeout=aiohttp.ClientTimeout(total=timeout),
                    headers={"User-Agent": USER_AGENT, "Content-Type": "application/json",
                             **headers, **self.auth}, **extra) as resp:
                await resp.content.read(MAX_BODY)
                return resp.status
        except TimeoutError:
            return f"timed out after {timeout:g}s"
        except (aiohttp.ClientError, ssl.SSLError, OSError) as err:
            return REDACTOR.redact(f"{type(err).__name__}: {err}", urls=True)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None


def _slack(cfg: SlackConfig, text) -> dict[str, Any]:
    att: dict[str, Any] = {}
    for key, value in (("title", truncate(text(cfg.title), 1024)),
                       ("title_link", text(cfg.title_link)), ("pretext", text(cfg.pretext))):
        if value:
            att[key] = value
    att.update(text=text(cfg.text), fallback=text(cfg.fallback),
               callback_id=text(cfg.callback_id))
    if cfg.fields:
        att["fields"] = [_omit({"title": text(f.title), "value": text(f.value)})
                         | {"short": cfg.short_fields if f.short is None else f.short}
                         for f in cfg.fields]
    if cfg.actions:
        att["actions"] = [_action(a, text) for a in cfg.actions]
    att.update(_omit({"image_url": text(cfg.image_url), "thumb_url": text(cfg.thumb_url)}))
    att["footer"] = text(cfg.footer)
    att.update(_omit({"color": text(cfg.color)}))
    att["mrkdwn_in"] = cfg.mrkdwn_in or ["fallback", "pretext", "text"]
    req = _omit({"channel": text(cfg.channel), "username": text(cfg.username),
                 "icon_emoji": text(cfg.icon_emoji), "icon_url": text(cfg.icon_url),
                 "link_names": cfg.link_names})
    req["attachments"] = [att]
    return req


def _action(a: Any, text) -> dict[str, Any]:
    out = _omit({k: text(getattr(a, k)) for k in ("type", "text", "url", "style", "name",
                                                   "value")})
    if a.url:
        out.pop("name", None)
        out.pop("value", None)
    elif a.confirm is not None:
        out["confirm"] = _omit({k: text(getattr(a.confirm, k)) for k in
                                ("text", "title", "ok_text", "dismiss_text")})
    return out


def _omit(d: dict[str, Any]) -> dict[str, Any]:
    """Go's omitempty."""
    return {k: v for k, v in d.items() if v not in ("", False, None, [], {})}


def _pagerduty(cfg: PagerdutyConfig, text, data: Any, group_key: str, key: str) -> dict:
    details = {k: text(v) for k, v in sorted(cfg.all_details().items())}
    payload = {"summary": truncate(text(cfg.description), 1024),
               "source": text(cfg.source or cfg.client),
               "severity": text(cfg.severity or "error")}
    payload.update(_omit({"class": text(cfg.class_), "component": text(cfg.component),
                          "group": text(cfg.group)}))
    if details:
        payload["custom_details"] = details
    msg = _omit({"routing_key": text(key),
                 "dedup_key": hashlib.sha256(group_key.encode()).hexdigest()})
    msg["event_action"] = "trigger" if data.Status == "firing" else "resolve"
    msg["payload"] = payload
    msg.update(_omit({"client": text(cfg.client), "client_url": text(cfg.client_url)}))
    images = [{"src": text(i.src), "alt": text(i.alt), "href": text(i.href)} for i in cfg.images]
    links = [{"href": text(link.href), "text": text(link.text)} for link in cfg.links]
    msg.update(_omit({"images": [i for i in images if i["src"]],
                      "links": [link for link in links if link["href"]]}))
    return msg
