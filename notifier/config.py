"""The notifier's YAML configuration, in Alertmanager's shape, with secrets from env or files.

`${NAME}` in a URL is replaced by the environment variable NAME; `url_file:` reads a URL from a
file (a mounted Secret). Errors name the file and field and never echo a secret.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from inferwatch.core.config import ConfigError, Duration, Strict, describe, read_yaml
from inferwatch.notifier.amreceivers import (
    DiscordConfig,
    EmailConfig,
    HTTPConfig,
    PagerdutyConfig,
    SlackConfig,
    WebhookConfig,
)
from inferwatch.notifier.legacy import canonical, from_legacy
from inferwatch.notifier.matchers import MatcherError
from inferwatch.notifier.templates import DEFAULTS, Template, TemplateError, check
from inferwatch.notifier.timeintervals import NamedInterval

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _check_matchers(text: str) -> str:
    """A `matchers:` line as Alertmanager reads it, kept in the quoted canonical form."""
    try:
        return canonical(text)
    except MatcherError as err:
        raise ValueError(str(err)) from None


def _legacy(match: dict[str, str], match_re: dict[str, str], where: str) -> list[str]:
    try:
        return from_legacy(match, match_re)
    except MatcherError as err:
        raise ValueError(f"{where}: {err}") from None


MatcherText = Annotated[str, AfterValidator(_check_matchers)]


class RouteConfig(Strict):
    """A node of the routing tree; unset timings and grouping are inherited from the parent."""

    receiver: str | None = None
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    matchers: list[MatcherText] = []
    match: dict[str, str] = {}  # Alertmanager's legacy forms, folded into matchers
    match_re: dict[str, str] = {}
    mute_time_intervals: list[str] = []
    active_time_intervals: list[str] = []
    continue_: bool = Field(False, alias="continue")
    routes: list[RouteConfig] = []

    @model_validator(mode="after")
    def _checks(self) -> RouteConfig:
        self.matchers.extend(_legacy(self.match, self.match_re, "match_re"))
        if self.group_by and "..." in self.group_by and len(self.group_by) > 1:
            raise ValueError("group_by: '...' (all labels) cannot be combined with names")
        for name in ("group_interval", "repeat_interval"):
            if getattr(self, name) == 0:
                raise ValueError(f"{name} cannot be zero")
        return self


class InhibitRule(Strict):
    name: str = ""
    source_matchers: list[MatcherText] = []
    target_matchers: list[MatcherText] = []
    source_match: dict[str, str] = {}
    source_match_re: dict[str, str] = {}
    target_match: dict[str, str] = {}
    target_match_re: dict[str, str] = {}
    equal: list[str] = []

    @model_validator(mode="after")
    def _fold(self) -> InhibitRule:
        self.source_matchers.extend(_legacy(self.source_match, self.source_match_re,
                                            "source_match_re"))
        self.target_matchers.extend(_legacy(self.target_match, self.target_match_re,
                                            "target_match_re"))
        return self


class ChannelConfig(Strict):
    """One apprise URL of a receiver (given inline or in a file)."""

    url: str | None = None
    url_file: str | None = None
    send_resolved: bool | None = None
    template: str | None = None
    _native: Any = PrivateAttr(None)  # set for an Alertmanager integration's channel

    @model_validator(mode="after")
    def _one_source(self) -> ChannelConfig:
        if (self.url is None) == (self.url_file is None):
            raise ValueError("give exactly one of url and url_file")
        return self


def _channel(value: Any) -> Any:
    return {"url": value} if isinstance(value, str) else value


class ReceiverConfig(Strict):
    """Apprise `urls` (the notifier's own), then Alertmanager's integrations."""

    name: str = Field(min_length=1)
    send_resolved: bool | None = None
    urls: list[Annotated[ChannelConfig, BeforeValidator(_channel)]] = []
    webhook_configs: list[WebhookConfig] = []
    slack_configs: list[SlackConfig] = []
    email_configs: list[EmailConfig] = []
    pagerduty_configs: list[PagerdutyConfig] = []
    discord_configs: list[DiscordConfig] = []
    # known to Alertmanager, refused by name at load (notifier/amreceivers.py REFUSED)
    opsgenie_configs: list[Any] = []
    telegram_configs: list[Any] = []
    pushover_configs: list[Any] = []
    wechat_configs: list[Any] = []
    victorops_configs: list[Any] = []
    sns_configs: list[Any] = []
    webex_configs: list[Any] = []
    msteams_configs: list[Any] = []
    msteamsv2_configs: list[Any] = []

    def user_urls(self) -> list[ChannelConfig]:
        return [c for c in self.urls if c._native is None]


class TemplateConfig(Strict):
    """Python format strings over the fields listed in notifier/templates.py.

    Named `slack`, `email` or `default`, a template replaces the built-in one for those
    channels; under another name, channels pick it with `template:`.
    """

    title: str
    body: str
    alert: str | None = None  # unset: the built-in one for the channel's kind
    format: Literal["text", "markdown", "html"] | None = None  # unset: as the built-in


def template_for(templates: dict[str, TemplateConfig], name: str | None,
                 kind: str) -> Template:
    """The template a channel of this kind (slack, email, default) uses."""
    base = DEFAULTS[kind]
    custom = templates.get(name or kind)
    if custom is None:
        return base
    fmt = custom.format or base.format
    return Template(custom.title, custom.body, custom.alert or base.alert, fmt,
                    base.heading_firing, base.heading_resolved,
                    base.link if fmt == base.format else None)


class GlobalConfig(Strict):
    """Alertmanager's `global` (defaults for its integrations) and `external_url` (ours)."""

    resolve_timeout: Duration = 300.0
    external_url: str = ""
    http_config: HTTPConfig | None = None
    smtp_from: str = ""
    smtp_hello: str = "localhost"
    smtp_smarthost: str = ""
    smtp_auth_username: str = ""
    smtp_auth_password: str = ""
    smtp_auth_password_file: str = ""
    smtp_auth_secret: str = ""
    smtp_auth_identity: str = ""
    smtp_require_tls: bool = True
    slack_api_url: str | None = None
    slack_api_url_file: str | None = None
    pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"
    opsgenie_api_url: str = "https://api.opsgenie.com/"
    opsgenie_api_key: str = ""
    opsgenie_api_key_file: str = ""
    wechat_api_url: str = "https://qyapi.weixin.qq.com/cgi-bin/"
    wechat_api_secret: str = ""
    wechat_api_corp_id: str = ""
    victorops_api_url: str = "https://alert.victorops.com/integrations/generic/20131114/alert/"
    victorops_api_key: str = ""
    victorops_api_key_file: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    webex_api_url: str = "https://webexapis.com/v1/messages"

    @model_validator(mode="after")
    def _pairs(self) -> GlobalConfig:
        for a, b in (("slack_api_url", "slack_api_url_file"),
                     ("opsgenie_api_key", "opsgenie_api_key_file"),
                     ("victorops_api_key", "victorops_api_key_file"),
                     ("smtp_auth_password", "smtp_auth_password_file")):
            if getattr(self, a) and getattr(self, b):
                raise ValueError(f"at most one of {a} & {b} must be configured")
        return self


class DeliveryConfig(Strict):
    """Outbox delivery: exponential backoff with jitter between attempts, until a deadline."""

    timeout: Duration = 10.0
    initial_backoff: Duration = 1.0
    max_backoff: Duration = 60.0
    retry_deadline: Duration = 3600.0
    concurrency: int = Field(32, ge=1, le=256)


class WebConfig(Strict):
    max_body_bytes: int = Field(4 << 20, ge=1024)
    bearer_token: str | None = None
    bearer_token_file: str | None = None


class NotifierConfig(Strict):
    global_: GlobalConfig = Field(GlobalConfig(), alias="global")
    route: RouteConfig
    inhibit_rules: list[InhibitRule] = []
    receivers: list[ReceiverConfig]
    templates: dict[str, TemplateConfig] = {}
    template_files: list[str] = []  # Alertmanager's `templates:` list of globs
    time_intervals: list[NamedInterval] = []
    mute_time_intervals: list[NamedInterval] = []
    delivery: DeliveryConfig = DeliveryConfig()
    web: WebConfig = WebConfig()

    @model_validator(mode="before")
    @classmethod
    def _template_files(cls, data: Any) -> Any:
        """`templates:` as a list is Alertmanager's (Go template files)."""
        if isinstance(data, dict) and "templates" in data and data["templates"] is None:
            data = {k: v for k, v in data.items() if k != "templates"}
        if isinstance(data, dict) and isinstance(data.get("templates"), list):
            data = {**data, "template_files": data["templates"]}
            del data["templates"]
        return data


def _reference_problems(cfg: NotifierConfig) -> list[str]:
    """Plain-English cross-field problems: receivers and templates that are not defined."""
    names = [r.name for r in cfg.receivers]
    problems = [f"receiver {n!r} is defined twice" for n in sorted(set(names))
                if names.count(n) > 1]
    if cfg.route.receiver is None:
        problems.append("route: the root route needs a receiver")
    if cfg.route.matchers:
        problems.append("route: the root route must not have matchers")
    stack = [("route", cfg.route)]
    while stack:
        where, node = stack.pop()
        if node.receiver is not None and node.receiver not in names:
            problems.append(f"{where}.receiver: receiver {node.receiver!r} is not defined")
        stack += [(f"{where}.routes.{i}", child) for i, child in enumerate(node.routes)]
    for name in cfg.templates:
        try:
            check(template_for(cfg.templates, name, name if name in DEFAULTS else "default"))
        except TemplateError as err:
            problems.append(f"templates.{name}: {err}")
    for i, receiver in enumerate(cfg.receivers):
        for j, channel in enumerate(receiver.urls):
            if channel.template is not None and channel.template not in cfg.templates:
                problems.append(f"receivers.{i}.urls.{j}.template: template "
                                f"{channel.template!r} is not defined")
    return problems


def expand_env(text: str, where: str) -> str:
    """Replace each ${NAME} by the environment variable; ValueError names a missing one."""
    def sub(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if value is None:
            raise ValueError(f"{where}: environment variable {match.group(1)} is not set")
        return value
    return _ENV.sub(sub, text)


def read_secret_file(path: str, where: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as err:
        raise ValueError(f"{where}: cannot read {path}: {err.strerror or err}") from None


@dataclass(frozen=True)
class Loaded:
    """A validated configuration with its secrets resolved (kept out of the models' repr)."""

    config: NotifierConfig
    source: str
    urls: dict[tuple[str, int], str] = field(repr=False)
    bearer_token: str | None = field(repr=False)
    secrets: tuple[str, ...] = field(repr=False)
    times: Any = field(default=None, repr=False)  # timeintervals.RouteTimes


def load_notifier_config(path: str | Path) -> Loaded:
    """Read, validate and resolve secrets; every problem is raised at once as ConfigError."""
    try:
        cfg = NotifierConfig.model_validate(read_yaml(path))
    except ValidationError as err:
        raise ConfigError(describe(err, str(path), {})) from None
    from inferwatch.notifier.amload import resolve
    from inferwatch.notifier.channels import Target

    problems = _reference_problems(cfg)
    am = resolve(cfg, str(path))
    problems += [line for p in am.problems for line in p.split("\n")]
    urls, bearer = {}, None
    for i, receiver in enumerate(cfg.receivers):
        for j, channel in enumerate(receiver.urls):
            try:
                urls[(receiver.name, j)] = Target(
                    _channel_url(channel, f"receivers.{i}.urls.{j}"), times=am.times)
            except ValueError as err:
                problems.append(str(err))
    try:
        bearer = _bearer(cfg.web)
    except ValueError as err:
        problems.append(str(err))
    if problems:
        raise ConfigError([f"{path}: {p}" for p in problems])
    for receiver in cfg.receivers:  # each integration: one more channel after the urls
        for native in am.natives.get(receiver.name, []):
            channel = ChannelConfig(url=native.kind, send_resolved=native.send_resolved())
            channel._native = native
            urls[(receiver.name, len(receiver.urls))] = Target(native.url, native, am.times)
            receiver.urls.append(channel)
    secrets = tuple(urls.values()) + tuple(s for s in am.secrets if s) + (
        (bearer,) if bearer else ())
    return Loaded(cfg, str(path), urls, bearer, secrets, am.times)


def _channel_url(channel: ChannelConfig, where: str) -> str:
    if channel.url_file is not None:
        return read_secret_file(channel.url_file, f"{where}.url_file")
    return expand_env(channel.url or "", f"{where}.url")


def _bearer(web: WebConfig) -> str | None:
    if web.bearer_token and web.bearer_token_file:
        raise ValueError("web: give at most one of bearer_token and bearer_token_file")
    if web.bearer_token_file:
        return read_secret_file(web.bearer_token_file, "web.bearer_token_file")
    return expand_env(web.bearer_token, "web.bearer_token") if web.bearer_token else None
