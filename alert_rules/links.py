"""Where an alert's links point: `runbook_url` to its runbook in the repository's docs, and
`dashboard_url` to its panel on the generated Grafana dashboards.

The packs write both with the default bases (the repository's `docs/runbooks` on GitHub, and
Grafana at http://localhost:3000); `rebase` swaps them for the configured ones: `rules run`
takes `runbook_base` and `grafana_url` from its config, `rules compile` the flags
`--runbook-base` and `--grafana-url`. A text that does not start with a default base is left
as it is (a hand-written link stays).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from inferwatch.core.redact import redact

DEFAULT_RUNBOOK_BASE = "https://github.com/inferwatch/inferwatch/blob/main/docs/runbooks"
DEFAULT_GRAFANA_URL = "http://localhost:3000"
LINK_ANNOTATIONS = {"runbook_url": DEFAULT_RUNBOOK_BASE, "dashboard_url": DEFAULT_GRAFANA_URL}


def base_url(text: str) -> str:
    """A link base: an http:// or https:// URL with a host; ValueError otherwise (a typo would
    end up in every alert's link)."""
    parts = urlsplit(str(text))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{redact(str(text))!r} is not an http:// or https:// URL")
    return str(text)


@dataclass(frozen=True)
class Bases:
    runbook_base: str = DEFAULT_RUNBOOK_BASE
    grafana_url: str = DEFAULT_GRAFANA_URL

    def for_key(self, key: str) -> str:
        return self.runbook_base if key == "runbook_url" else self.grafana_url


def rebase_text(key: str, text: str, bases: Bases) -> str:
    default = LINK_ANNOTATIONS.get(key)
    if default is None or not text.startswith(default):
        return text
    return bases.for_key(key).rstrip("/") + text[len(default):]


def rebase_alert(alert: Any, bases: Bases) -> Any:
    """A CompiledAlert (or a recording rule, unchanged) with its links rebased."""
    if not hasattr(alert, "annotations"):
        return alert
    notes = tuple((k, rebase_text(k, v, bases)) for k, v in alert.annotations)
    return replace(alert, annotations=notes) if notes != alert.annotations else alert


def rebase(group: Any, bases: Bases) -> Any:
    """The CompiledGroup with its alerts' link annotations on the configured bases."""
    if bases == Bases():
        return group
    steps = tuple(rebase_alert(s, bases) for s in group.steps)
    return replace(group, alerts=tuple(rebase_alert(a, bases) for a in group.alerts),
                   steps=steps)
