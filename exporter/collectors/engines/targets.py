"""Where engines are: a target is one engine /metrics URL, from the config or from Kubernetes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """One engine endpoint. `kind` is an engine kind or "auto"; namespace/pod come from
    Kubernetes discovery and are empty for static targets; `role` (prefill, decode, both) is
    the config's or the pod annotation's, "" when neither says."""

    kind: str
    url: str
    namespace: str = ""
    pod: str = ""
    role: str = ""
