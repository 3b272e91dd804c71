"""`config.original` of /api/v2/status: the loaded configuration as Alertmanager YAML.

amtool's `config routes show` and `config routes test` parse this text with Alertmanager's own
strict loader, so it holds only what Alertmanager knows: `global.resolve_timeout`, the route
tree (matchers, grouping, timings, `continue`), the inhibit rules and the receivers by name.
A receiver's apprise URLs (secrets) and the notifier's own sections (`delivery`, `web`,
`templates`) are not Alertmanager fields; each receiver's URLs are listed in a comment as
`<secret>`, which is how Alertmanager shows a secret.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import yaml

from inferwatch.core.version import __version__
from inferwatch.notifier.config import Loaded, RouteConfig
from inferwatch.notifier.matchers import parse_matchers

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
    doc: dict[str, Any] = {
        "global": {"resolve_timeout": go_duration(cfg.global_.resolve_timeout)},
        "route": _route(cfg.route),
    }
    if cfg.inhibit_rules:
        doc["inhibit_rules"] = [
            {"source_matchers": [str(m) for t in r.source_matchers for m in parse_matchers(t)],
             "target_matchers": [str(m) for t in r.target_matchers for m in parse_matchers(t)],
             **({"equal": list(r.equal)} if r.equal else {})} for r in cfg.inhibit_rules]
    doc["receivers"] = [{"name": r.name} for r in cfg.receivers]
    doc["templates"] = []
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1 << 16)
    notes = [f"# receiver {r.name}: apprise urls: [{', '.join(['<secret>'] * len(r.urls))}]"
             for r in cfg.receivers if r.urls]
    header = f"# inferwatch notifier {__version__}, from {loaded.source}\n"
    return header + text + "".join(f"{n}\n" for n in notes)


def version_info() -> dict[str, str]:
    """`versionInfo` of /api/v2/status (Alertmanager's fields; Python in place of Go)."""
    return {"version": __version__, "revision": "", "branch": "", "buildUser": "",
            "buildDate": "", "goVersion": f"python{sys.version.split()[0]}"}
