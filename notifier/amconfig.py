"""`config.original` of /api/v2/status: the loaded configuration as Alertmanager YAML.

amtool's `config routes show` and `config routes test` parse this text with Alertmanager's own
strict loader, so it holds only what Alertmanager knows: `global.resolve_timeout`, the route
tree (matchers, grouping, timings, `continue`), the inhibit rules and the receivers by name.
A receiver's apprise URLs (secrets) and the notifier's own sections (`delivery`, `web`,
`templates`) are not Alertmanager fields; each receiver's URLs are listed in a comment as
`<secret>`, which is how Alertmanager shows a secret. Alertmanager's own integrations
(`webhook_configs`, `slack_configs`...), `global` defaults, time intervals and template files
are shown as given, every secret as `<secret>` and URLs without credentials or query.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import yaml

from inferwatch.core.redact import redact
from inferwatch.core.version import __version__
from inferwatch.notifier.amreceivers import NATIVE
from inferwatch.notifier.config import Loaded, RouteConfig
from inferwatch.notifier.matchers import parse_matchers
from inferwatch.notifier.timeintervals import NamedInterval

log = logging.getLogger(__name__)
_UNITS = (("y", 365 * 86400_000), ("w", 7 * 86400_000), ("d", 86400_000), ("h", 3600_000),
          ("m", 60_000), ("s", 1000), ("ms", 1))


def go_duration(seconds: float) -> str:
    """Prometheus's model.Duration text: `5m`, `1h30m`, `100ms`, `0s`."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    parts = []
    for unit, size in _UNITS:
        if ms >= size:
            parts.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(parts)


def _route(cfg: RouteConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if cfg.receiver is not None:
        out["receiver"] = cfg.receiver
    if cfg.group_by is not None:
        out["group_by"] = list(cfg.group_by)
    if cfg.matchers:
        out["matchers"] = [str(m) for text in cfg.matchers for m in parse_matchers(text)]
    out["continue"] = cfg.continue_
    for name in ("mute_time_intervals", "active_time_intervals"):
        if getattr(cfg, name):
            out[name] = list(getattr(cfg, name))
    for name in ("group_wait", "group_interval", "repeat_interval"):
        value = getattr(cfg, name)
        if value is not None:
            out[name] = go_duration(value)
    if cfg.routes:
        out["routes"] = [_route(child) for child in cfg.routes]
    return out


def original(loaded: Loaded) -> str:
    """The YAML text for `config.original`."""
    cfg = loaded.config
    glob = _masked(cfg.global_.model_dump(mode="json", exclude_unset=True))
    glob.pop("external_url", None)
    doc: dict[str, Any] = {
        "global": {**glob, "resolve_timeout": go_duration(cfg.global_.resolve_timeout)},
        "route": _route(cfg.route),
    }
    if cfg.inhibit_rules:
        doc["inhibit_rules"] = [
            {"source_matchers": [str(m) for t in r.source_matchers for m in parse_matchers(t)],
             "target_matchers": [str(m) for t in r.target_matchers for m in parse_matchers(t)],
             **({"equal": list(r.equal)} if r.equal else {})} for r in cfg.inhibit_rules]
    doc["receivers"] = [_receiver(r) for r in cfg.receivers]
    doc["templates"] = list(cfg.template_files)
    for key in ("mute_time_intervals", "time_intervals"):
        if getattr(cfg, key):
            doc[key] = [_interval(i) for i in getattr(cfg, key)]
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1 << 16)
    notes = [f"# receiver {r.name}: apprise urls: "
             f"[{', '.join(['<secret>'] * len(r.user_urls()))}]"
             for r in cfg.receivers if r.user_urls()]
    header = f"# inferwatch notifier {__version__}, from {loaded.source}\n"
    return header + text + "".join(f"{n}\n" for n in notes)


SECRETS = {"api_url", "webhook_url", "routing_key", "service_key", "auth_password",
           "auth_secret", "password", "credentials", "bearer_token", "slack_api_url",
           "smtp_auth_password", "opsgenie_api_key", "victorops_api_key", "wechat_api_secret"}


def _masked(value: Any, key: str = "") -> Any:
    """Secrets as `<secret>`; other URLs without user info or query."""
    if isinstance(value, dict):
        return {k: _masked(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, key) for v in value]
    if isinstance(value, str) and value and key in SECRETS:
        return "<secret>"
    if isinstance(value, str) and key.endswith("url"):
        return redact(value)
    return value


def _receiver(r: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": r.name}
    for kind in NATIVE:
        configs = getattr(r, kind)
        if configs:
            out[kind] = [_masked(c.model_dump(mode="json", by_alias=True, exclude_unset=True))
                         for c in configs]
    return out


_DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")


def _span(pair: tuple[int, int], names: tuple[str, ...] | None = None) -> str:
    a, b = (names[pair[0]], names[pair[1]]) if names else pair
    return f"{a}" if pair[0] == pair[1] else f"{a}:{b}"


def _interval(named: NamedInterval) -> dict[str, Any]:
    specs = []
    for spec in named.time_intervals:
        out: dict[str, Any] = {}
        if spec.times is not None:
            out["times"] = [t.model_dump() for t in spec.times]
        if spec.weekdays is not None:
            out["weekdays"] = [_span(w, _DAYS) for w in spec.weekdays]
        for name in ("days_of_month", "months", "years"):
            if getattr(spec, name) is not None:
                out[name] = [_span(r) for r in getattr(spec, name)]
        if spec.location is not None:
            out["location"] = spec.location
        specs.append(out)
    return {"name": named.name, "time_intervals": specs}


def version_info() -> dict[str, str]:
    """`versionInfo` of /api/v2/status (Alertmanager's fields; Python in place of Go)."""
    return {"version": __version__, "revision": "", "branch": "", "buildUser": "",
            "buildDate": "", "goVersion": f"python{sys.version.split()[0]}"}
