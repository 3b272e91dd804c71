"""Resolving an Alertmanager configuration's receivers, globals, templates and time intervals.

`resolve` runs after the models validate: it applies `global` defaults to each integration as
Alertmanager's Config.UnmarshalYAML does, reads secret files (relative paths from the config
file's folder, as Alertmanager resolves them), loads `templates:` globs into the Go template
engine and checks every templated field against it, and refuses by name what the notifier does
not deliver. Each integration becomes one more channel of its receiver (after its `urls`).
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from inferwatch.notifier.amnotify import Native
from inferwatch.notifier.amreceivers import (
    NATIVE,
    REFUSED,
    DiscordConfig,
    EmailConfig,
    HTTPConfig,
    Integration,
    PagerdutyConfig,
    SlackConfig,
    WebhookConfig,
    unsupported,
)
from inferwatch.notifier.gotemplate import AlertmanagerTemplates, GoTemplateError
from inferwatch.notifier.timeintervals import RouteTimes, route_times

log = logging.getLogger(__name__)


@dataclass
class Resolved:
    problems: list[str] = field(default_factory=list)
    natives: dict[str, list[Native]] = field(default_factory=dict)  # by receiver name
    secrets: list[str] = field(default_factory=list)
    times: RouteTimes | None = None
    templates: AlertmanagerTemplates | None = None


def _read(path: str, base: Path, where: str) -> str:
    full = Path(path) if Path(path).is_absolute() else base / path
    try:
        return full.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise ValueError(f"{where}: cannot read {path}: {err.strerror or err}") from None


def resolve(cfg: Any, source: str) -> Resolved:
    out = Resolved()
    base = Path(source).parent
    patterns = [p if Path(p).is_absolute() else str(base / p) for p in cfg.template_files]
    try:
        out.templates = AlertmanagerTemplates(patterns)
    except (GoTemplateError, OSError, UnicodeDecodeError) as err:
        out.problems.append(f"templates: {err}")
        out.templates = AlertmanagerTemplates()
    intervals = {i.name: i.time_intervals for i in cfg.time_intervals + cfg.mute_time_intervals}
    names = [i.name for i in cfg.mute_time_intervals + cfg.time_intervals]
    out.problems += [f"time interval {n!r} is not unique" for n in sorted(set(names))
                     if names.count(n) > 1]
    out.problems += _interval_refs(cfg.route, set(intervals))
    out.times = route_times(cfg.route, intervals)
    for i, receiver in enumerate(cfg.receivers):
        for kind in REFUSED:
            if getattr(receiver, kind):
                out.problems.append(f"receivers.{i}.{kind}: not supported by inferwatch")
        natives = out.natives.setdefault(receiver.name, [])
        for kind in NATIVE:
            for j, integ in enumerate(getattr(receiver, kind)):
                where = f"receivers.{i}.{kind}.{j}"
                try:
                    natives.append(_native(integ, cfg.global_, base, where, out))
                except ValueError as err:
                    out.problems.append(str(err))
    return out


def _interval_refs(route: Any, known: set[str], where: str = "route") -> list[str]:
    problems = []
    if where == "route" and (route.mute_time_intervals or route.active_time_intervals):
        problems.append("route: the root route must not have mute or active time intervals")
    for attr in ("mute_time_intervals", "active_time_intervals"):
        problems += [f"{where}.{attr}: undefined time interval {n!r}"
                     for n in getattr(route, attr) if n not in known]
    for k, child in enumerate(route.routes):
        problems += _interval_refs(child, known, f"{where}.routes.{k}")
    return problems


def _native(integ: Integration, glob: Any, base: Path, where: str, out: Resolved) -> Native:
    problems = unsupported(integ, where)
    http = integ.http_config or glob.http_config
    if http is not None:
        problems += unsupported(http, f"{where}.http_config")
    if problems:
        raise ValueError("\n".join(problems))
    templates = out.templates
    assert templates is not None
    for name in integ.TEMPLATED:
        _check(templates, getattr(integ, name), f"{where}.{name.rstrip('_')}")
    integ = integ.model_copy(update={"http_config": http})
    auth = _auth(http, base, where, out)
    if isinstance(integ, WebhookConfig):
        url = integ.url or _read(integ.url_file or "", base, f"{where}.url_file")
        out.secrets.append(url)
        return Native("webhook", integ, templates, url, auth)
    if isinstance(integ, SlackConfig):
        url = integ.api_url or glob.slack_api_url
        file = integ.api_url_file or glob.slack_api_url_file
        if url is None and file is None:
            raise ValueError(f"{where}: no global Slack API URL set either inline or in a file")
        for f in integ.fields:
            _check(templates, f.title + f.value, f"{where}.fields")
        url = url or _read(file or "", base, f"{where}.api_url_file")
        out.secrets.append(url)
        return Native("slack", integ, templates, url, auth)
    if isinstance(integ, DiscordConfig):
        if integ.webhook_url is None:
            raise ValueError(f"{where}: no discord webhook URL provided")
        out.secrets.append(integ.webhook_url)
        return Native("discord", integ, templates, integ.webhook_url, auth)
    if isinstance(integ, PagerdutyConfig):
        key = integ.routing_key or _read(integ.routing_key_file or "", base,
                                         f"{where}.routing_key_file")
        out.secrets.append(key)
        for name, text in integ.all_details().items():
            _check(templates, text, f"{where}.details.{name}")
        return Native("pagerduty", integ, templates, integ.url or glob.pagerduty_url, auth,
                      secret=key)
    assert isinstance(integ, EmailConfig)
    return _email(integ, glob, base, where, out)


def _check(templates: AlertmanagerTemplates, text: str, where: str) -> None:
    try:
        templates.check(text)
    except GoTemplateError as err:
        raise ValueError(f"{where}: {err}") from None


def _auth(http: HTTPConfig | None, base: Path, where: str, out: Resolved) -> dict[str, str]:
    if http is None:
        return {}
    where = f"{where}.http_config"
    if http.basic_auth is not None:
        b = http.basic_auth
        password = b.password if b.password is not None else (
            _read(b.password_file, base, f"{where}.basic_auth.password_file")
            if b.password_file else "")
        token = base64.b64encode(f"{b.username}:{password}".encode()).decode()
        out.secrets += [password, token] if password else [token]
        return {"Authorization": f"Basic {token}"}
    kind, cred = "Bearer", http.bearer_token
    if http.bearer_token_file:
        cred = _read(http.bearer_token_file, base, f"{where}.bearer_token_file")
    if http.authorization is not None:
        a = http.authorization
        kind = a.type
        cred = a.credentials if a.credentials is not None else (
            _read(a.credentials_file, base, f"{where}.authorization.credentials_file")
            if a.credentials_file else None)
    if not cred:
        return {}
    out.secrets.append(cred)
    return {"Authorization": f"{kind} {cred}"}


def _email(ec: EmailConfig, glob: Any, base: Path, where: str, out: Resolved) -> Native:
    smarthost = ec.smarthost or glob.smtp_smarthost
    sender = ec.from_ or glob.smtp_from
    if not smarthost:
        raise ValueError(f"{where}: no global SMTP smarthost set")
    if not sender:
        raise ValueError(f"{where}: no global SMTP from set")
    hello = ec.hello or glob.smtp_hello
    problems = []
    if hello != "localhost":
        problems.append(f"{where}.hello: not supported by inferwatch")
    for name in ("auth_secret", "auth_identity"):
        if getattr(glob, f"smtp_{name}") and not getattr(ec, name):
            problems.append(f"global.smtp_{name}: not supported by inferwatch")
    for name, value in (("to", ec.to), ("from", sender)):
        if "{{" in value:
            problems.append(f"{where}.{name}: templated addresses not supported by inferwatch")
    extra = {}
    for name, value in ec.headers.items():
        if name.lower() in ("to", "from") or (name.lower() != "subject" and "{{" in value):
            problems.append(f"{where}.headers.{name}: not supported by inferwatch")
        elif name.lower() != "subject":
            extra[f"+{name}"] = value
    if problems:
        raise ValueError("\n".join(problems))
    host, _, port = smarthost.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{where}.smarthost: address {smarthost}: missing port in address")
    user = ec.auth_username or glob.smtp_auth_username
    password = ec.auth_password or glob.smtp_auth_password
    file = ec.auth_password_file or (None if ec.auth_password else glob.smtp_auth_password_file)
    if not password and file:
        password = _read(file, base, f"{where}.auth_password_file")
    require_tls = ec.require_tls if ec.require_tls is not None else glob.smtp_require_tls
    query: dict[str, str] = {"smtp": host, "from": sender,
                             "to": ",".join(a.strip() for a in ec.to.split(","))}
    if user:
        query["user"] = user
    if password:
        query["pass"] = password
        out.secrets.append(password)
    scheme = "mailto"
    if port == "465":
        scheme, query["mode"] = "mailtos", "ssl"
    elif require_tls:
        scheme, query["mode"] = "mailtos", "starttls"
    url = f"{scheme}://{quote(host)}:{port}?{urlencode({**query, **extra})}"
    out.secrets.append(url)
    return Native("email", ec, out.templates, url, body_format="html" if ec.html else "text")
