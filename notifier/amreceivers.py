"""Alertmanager 0.25's receiver integrations as configuration models, with its defaults.

Each `*_configs` entry of an Alertmanager receiver validates here with Alertmanager's fields and
default templates (config/notifiers.go). A field Alertmanager accepts that the notifier does not
honour is declared, so that it is refused by name (`not supported by inferwatch`) instead of
being ignored; `unsupported` lists the paths of those that are set.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field, model_validator

from inferwatch.core.config import Strict


def _tmpl(name: str) -> str:
    return '{{ template "' + name + '" . }}'


class BasicAuth(Strict):
    username: str = ""
    password: str | None = None
    password_file: str | None = None


class Authorization(Strict):
    type: str = "Bearer"
    credentials: str | None = None
    credentials_file: str | None = None


class TLSConfig(Strict):
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    server_name: str | None = None
    insecure_skip_verify: bool = False
    min_version: Any = None
    ca: Any = None
    cert: Any = None
    key: Any = None
    UNSUPPORTED: ClassVar[tuple[str, ...]] = ("min_version", "ca", "cert", "key")


class HTTPConfig(Strict):
    """prometheus/common's HTTPClientConfig: what the notifier's native sender honours."""

    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    bearer_token: str | None = None
    bearer_token_file: str | None = None
    tls_config: TLSConfig | None = None
    follow_redirects: bool = True
    enable_http2: bool = True
    oauth2: Any = None
    proxy_url: Any = None
    no_proxy: Any = None
    proxy_from_environment: Any = None
    proxy_connect_header: Any = None
    UNSUPPORTED: ClassVar[tuple[str, ...]] = ("oauth2", "proxy_url", "no_proxy",
                                              "proxy_from_environment", "proxy_connect_header")

    @model_validator(mode="after")
    def _one_auth(self) -> HTTPConfig:
        given = [n for n in ("basic_auth", "authorization", "bearer_token", "bearer_token_file")
                 if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(f"at most one of {' & '.join(given)} must be configured")
        return self


class Integration(Strict):
    """What every integration has; KIND names it, DEFAULT_RESOLVED is Alertmanager's."""

    KIND: ClassVar[str] = ""
    TEMPLATED: ClassVar[tuple[str, ...]] = ()
    UNSUPPORTED: ClassVar[tuple[str, ...]] = ()
    send_resolved: bool | None = None
    http_config: HTTPConfig | None = None

    def resolved_default(self) -> bool:
        return True


class WebhookConfig(Integration):
    KIND = "webhook"
    url: str | None = None
    url_file: str | None = None  # Alertmanager 0.26+; read once at load here
    max_alerts: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _url(self) -> WebhookConfig:
        if (self.url is None) == (self.url_file is None):
            raise ValueError("one of url or url_file must be configured")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError("scheme required for webhook url")
        return self


class SlackField(Strict):
    title: str
    value: str
    short: bool | None = None


class SlackConfirm(Strict):
    text: str
    title: str = ""
    ok_text: str = ""
    dismiss_text: str = ""


class SlackAction(Strict):
    type: str
    text: str
    url: str = ""
    style: str = ""
    name: str = ""
    value: str = ""
    confirm: SlackConfirm | None = None

    @model_validator(mode="after")
    def _target(self) -> SlackAction:
        if not self.url and not self.name:
            raise ValueError("missing name or url in Slack action configuration")
        return self


class SlackConfig(Integration):
    KIND = "slack"
    TEMPLATED = ("channel", "username", "color", "title", "title_link", "pretext", "text",
                 "footer", "fallback", "callback_id", "icon_emoji", "icon_url", "image_url",
                 "thumb_url")
    api_url: str | None = None
    api_url_file: str | None = None
    channel: str = ""
    username: str = _tmpl("slack.default.username")
    color: str = '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}'
    title: str = _tmpl("slack.default.title")
    title_link: str = _tmpl("slack.default.titlelink")
    pretext: str = _tmpl("slack.default.pretext")
    text: str = _tmpl("slack.default.text")
    fields: list[SlackField] = []
    short_fields: bool = False
    footer: str = _tmpl("slack.default.footer")
    fallback: str = _tmpl("slack.default.fallback")
    callback_id: str = _tmpl("slack.default.callbackid")
    icon_emoji: str = _tmpl("slack.default.iconemoji")
    icon_url: str = _tmpl("slack.default.iconurl")
    image_url: str = ""
    thumb_url: str = ""
    link_names: bool = False
    mrkdwn_in: list[str] = []
    actions: list[SlackAction] = []

    def resolved_default(self) -> bool:
        return False

    @model_validator(mode="after")
    def _one_url(self) -> SlackConfig:
        if self.api_url is not None and self.api_url_file is not None:
            raise ValueError("at most one of api_url & api_url_file must be configured")
        return self


class EmailConfig(Integration):
    KIND = "email"
    TEMPLATED = ("to", "from_", "html", "text")
    to: str
    from_: str | None = Field(None, alias="from")
    hello: str | None = None
    smarthost: str | None = None
    auth_username: str | None = None
    auth_password: str | None = None
    auth_password_file: str | None = None
    auth_secret: str | None = None
    auth_identity: str | None = None
    headers: dict[str, str] = {}
    html: str = _tmpl("email.default.html")
    text: str = ""
    require_tls: bool | None = None
    tls_config: TLSConfig | None = None
    UNSUPPORTED = ("auth_secret", "auth_identity", "tls_config")

    def resolved_default(self) -> bool:
        return False

    @model_validator(mode="after")
    def _headers(self) -> EmailConfig:
        seen = set()
        for name in self.headers:
            canon = "-".join(p.capitalize() for p in name.split("-"))
            if canon in seen:
                raise ValueError(f'duplicate header "{canon}" in email config')
            seen.add(canon)
        return self


class PagerdutyLink(Strict):
    href: str = ""
    text: str = ""


class PagerdutyImage(Strict):
    src: str = ""
    alt: str = ""
    href: str = ""


PAGERDUTY_DETAILS = {
    "firing": '{{ template "pagerduty.default.instances" .Alerts.Firing }}',
    "resolved": '{{ template "pagerduty.default.instances" .Alerts.Resolved }}',
    "num_firing": "{{ .Alerts.Firing | len }}",
    "num_resolved": "{{ .Alerts.Resolved | len }}",
}


class PagerdutyConfig(Integration):
    KIND = "pagerduty"
    TEMPLATED = ("client", "client_url", "description", "source", "severity", "class_",
                 "component", "group")
    service_key: str | None = None
    service_key_file: str | None = None
    routing_key: str | None = None
    routing_key_file: str | None = None
    url: str | None = None
    client: str = _tmpl("pagerduty.default.client")
    client_url: str = _tmpl("pagerduty.default.clientURL")
    description: str = _tmpl("pagerduty.default.description")
    details: dict[str, str] = {}
    images: list[PagerdutyImage] = []
    links: list[PagerdutyLink] = []
    source: str = ""
    severity: str = ""
    class_: str = Field("", alias="class")
    component: str = ""
    group: str = ""
    UNSUPPORTED = ("service_key", "service_key_file")  # the v1 events API

    @model_validator(mode="after")
    def _keys(self) -> PagerdutyConfig:
        if not (self.routing_key or self.service_key or self.routing_key_file
                or self.service_key_file):
            raise ValueError("missing service or routing key in PagerDuty config")
        if self.routing_key and self.routing_key_file:
            raise ValueError("at most one of routing_key & routing_key_file must be configured")
        if self.service_key and self.service_key_file:
            raise ValueError("at most one of service_key & service_key_file must be configured")
        return self

    def all_details(self) -> dict[str, str]:
        return {**self.details, **{k: v for k, v in PAGERDUTY_DETAILS.items()
                                   if k not in self.details}}


class DiscordConfig(Integration):
    KIND = "discord"
    TEMPLATED = ("title", "message")
    webhook_url: str | None = None
    title: str = _tmpl("discord.default.title")
    message: str = _tmpl("discord.default.message")


class Unsupported(BaseModel):
    """An integration Alertmanager knows and the notifier does not deliver: refused by name."""

    model_config = {"extra": "allow"}


NATIVE: dict[str, type[Integration]] = {
    "webhook_configs": WebhookConfig, "slack_configs": SlackConfig,
    "email_configs": EmailConfig, "pagerduty_configs": PagerdutyConfig,
    "discord_configs": DiscordConfig,
}
REFUSED = ("opsgenie_configs", "telegram_configs", "pushover_configs", "wechat_configs",
           "victorops_configs", "sns_configs", "webex_configs", "msteams_configs",
           "msteamsv2_configs")


def unsupported(model: BaseModel, where: str) -> list[str]:
    """Paths of fields set that the notifier declares but does not honour."""
    found = []
    for name in getattr(model, "UNSUPPORTED", ()):
        if getattr(model, name, None) not in (None, [], {}, ""):
            found.append(f"{where}.{name}: not supported by inferwatch")
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            found += unsupported(value, f"{where}.{name}")
    return found
