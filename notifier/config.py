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

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator

from inferwatch.core.config import ConfigError, Duration, Strict, describe, read_yaml
from inferwatch.notifier.matchers import MatcherError, parse_matchers
from inferwatch.notifier.templates import DEFAULTS, Template, TemplateError, check

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _check_matchers(text: str) -> str:
    try:
        parse_matchers(text)
    except MatcherError as err:
        raise ValueError(str(err)) from None
    return text


MatcherText = Annotated[str, AfterValidator(_check_matchers)]


class RouteConfig(Strict):
    """A node of the routing tree; unset timings and grouping are inherited from the parent."""

    receiver: str | None = None
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    matchers: list[MatcherText] = []
    continue_: bool = Field(False, alias="continue")
    routes: list[RouteConfig] = []

    @model_validator(mode="after")
    def _checks(self) -> RouteConfig:
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
    equal: list[str] = []


class ChannelConfig(Strict):
    """One apprise URL of a receiver (given inline or in a file)."""

    url: str | None = None
    url_file: str | None = None
    send_resolved: bool | None = None
    template: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ChannelConfig:
        if (self.url is None) == (self.url_file is None):
            raise ValueError("give exactly one of url and url_file")
        return self


def _channel(value: Any) -> Any:
    return {"url": value} if isinstance(value, str) else value


class ReceiverConfig(Strict):
    name: str = Field(min_length=1)
    send_resolved: bool | None = None
    urls: list[Annotated[ChannelConfig, BeforeValidator(_channel)]] = []


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
    return Template(custom.title, custom.body, custom.alert or base.alert,
                    custom.format or base.format, base.heading_firing, base.heading_resolved)


class GlobalConfig(Strict):
    resolve_timeout: Duration = 300.0
    external_url: str = ""


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
    delivery: DeliveryConfig = DeliveryConfig()
    web: WebConfig = WebConfig()


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


def load_notifier_config(path: str | Path) -> Loaded:
    """Read, validate and resolve secrets; every problem is raised at once as ConfigError."""
    try:
        cfg = NotifierConfig.model_validate(read_yaml(path))
    except ValidationError as err:
        raise ConfigError(describe(err, str(path), {})) from None
    problems = _reference_problems(cfg)
    urls, bearer = {}, None
    for i, receiver in enumerate(cfg.receivers):
        for j, channel in enumerate(receiver.urls):
            try:
                urls[(receiver.name, j)] = _channel_url(channel, f"receivers.{i}.urls.{j}")
            except ValueError as err:
                problems.append(str(err))
    try:
        bearer = _bearer(cfg.web)
    except ValueError as err:
        problems.append(str(err))
    if problems:
        raise ConfigError([f"{path}: {p}" for p in problems])
    secrets = tuple(urls.values()) + ((bearer,) if bearer else ())
    return Loaded(cfg, str(path), urls, bearer, secrets)


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
