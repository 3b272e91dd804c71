"""Pods as the exporter needs them: engine Targets from annotations, names by pod UID.

A pod is scraped when it carries `inferwatch.io/scrape: "true"`, is Running and has a pod IP.
`inferwatch.io/port` names the port, by number or container port name (else the pod's only
declared TCP container port), `inferwatch.io/path` the path (default /metrics),
`inferwatch.io/kind` the engine kind (default auto), `inferwatch.io/scheme` http or
https and `inferwatch.io/role` the engine's role in a disaggregated deployment (prefill,
decode or both; where the engine's metrics do not say it). A pod annotated for scraping
whose annotations are unusable yields a reason instead of a Target, and the discovery logs it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from inferwatch.exporter.collectors.engines.kinds import AUTO, MAPPINGS
from inferwatch.exporter.collectors.engines.targets import Target

PREFIX = "inferwatch.io/"
SCRAPE, PORT, PATH, KIND, SCHEME, ROLE = (PREFIX + k for k in ("scrape", "port", "path", "kind",
                                                               "scheme", "role"))
ROLES = ("prefill", "decode", "both")
MIRROR = "kubernetes.io/config.mirror"  # a static pod's own UID, as its cgroup names it
KINDS = (AUTO, *MAPPINGS)
_RUNTIME_ID = re.compile(r"^[a-z0-9-]+://([0-9a-f]{64})$")


class BadAnnotations(ValueError):
    """A pod asks to be scraped but its annotations cannot make a URL."""


def target_of(pod: Mapping[str, Any]) -> Target | None:
    """The pod's Target, None when it is not (yet) scrapable; BadAnnotations when it is
    annotated for scraping but an annotation is wrong."""
    meta = pod.get("metadata") or {}
    notes = meta.get("annotations") or {}
    if str(notes.get(SCRAPE, "")).strip().lower() != "true":
        return None
    status = pod.get("status") or {}
    ip = status.get("podIP") or ""
    if status.get("phase") != "Running" or not ip:
        return None
    port = _port(notes.get(PORT), pod.get("spec") or {})
    path = str(notes.get(PATH) or "/metrics").strip()
    if not path.startswith("/") or any(c.isspace() for c in path):
        raise BadAnnotations(f"{PATH} {path!r} is not an absolute path")
    scheme = str(notes.get(SCHEME) or "http").strip().lower()
    if scheme not in ("http", "https"):
        raise BadAnnotations(f"{SCHEME} {scheme!r} is not http or https")
    kind = str(notes.get(KIND) or AUTO).strip().lower()
    if kind not in KINDS:
        raise BadAnnotations(f"{KIND} {kind[:64]!r} is not an engine kind ({', '.join(KINDS)})")
    role = str(notes.get(ROLE) or "").strip().lower()
    if role and role not in ROLES:
        raise BadAnnotations(f"{ROLE} {role[:64]!r} is not one of {', '.join(ROLES)}")
    host = f"[{ip}]" if ":" in ip else ip
    return Target(kind=kind, url=f"{scheme}://{host}:{port}{path}",
                  namespace=str(meta.get("namespace", "")), pod=str(meta.get("name", "")),
                  role=role)


def _port(annotation: Any, spec: Mapping[str, Any]) -> int:
    """The annotated port (a number or a container port's name), else the only TCP
    containerPort the pod declares."""
    declared = [p for c in spec.get("containers") or [] for p in c.get("ports") or []
                if p.get("protocol", "TCP") == "TCP" and p.get("containerPort")]
    text = "" if annotation is None else str(annotation).strip()
    if text and not text.isdigit():
        named = {int(p["containerPort"]) for p in declared if p.get("name") == text}
        if len(named) != 1:
            raise BadAnnotations(f"{PORT} {text!r} names no single TCP container port")
        return named.pop()
    if text:
        if not 0 < int(text) < 65536:
            raise BadAnnotations(f"{PORT} {text!r} is not a port number")
        return int(text)
    ports = {int(p["containerPort"]) for p in declared}
    if len(ports) != 1:
        raise BadAnnotations(f"no {PORT} annotation and {len(ports)} declared TCP ports")
    return ports.pop()


@dataclass(frozen=True)
class PodRef:
    """What attribution needs of a pod: its names, and container names by container id."""

    namespace: str
    pod: str
    containers: Mapping[str, str] = field(default_factory=dict)  # 64-hex id -> name

    def container(self, container_id: str) -> str:
        return self.containers.get(container_id, "")


def pod_ref(pod: Mapping[str, Any]) -> PodRef:
    """Names of a pod object, with every container status that has a runtime id."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    containers = {}
    for key in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
        for cs in status.get(key) or []:
            match = _RUNTIME_ID.match(str(cs.get("containerID") or ""))
            if match:
                containers[match.group(1)] = str(cs.get("name", ""))
    return PodRef(str(meta.get("namespace", "")), str(meta.get("name", "")),
                  MappingProxyType(containers))


def pod_uids(pod: Mapping[str, Any]) -> tuple[str, ...]:
    """The UIDs a pod's cgroups may carry: its own, and a static pod's mirror source."""
    meta = pod.get("metadata") or {}
    uids = [str(meta.get("uid") or "")]
    uids.append(str((meta.get("annotations") or {}).get(MIRROR) or ""))
    return tuple(u.lower() for u in uids if u)


class PodDirectory:
    """Pod UID -> PodRef for the pods on this node. Replaced whole on each update, so a
    reader in another thread (the attribution collector) always sees a consistent map."""

    def __init__(self) -> None:
        self._by_uid: Mapping[str, PodRef] = MappingProxyType({})

    def replace(self, pods: Iterable[Mapping[str, Any]]) -> None:
        by_uid = {}
        for pod in pods:
            ref = pod_ref(pod)
            by_uid.update(dict.fromkeys(pod_uids(pod), ref))
        self._by_uid = MappingProxyType(by_uid)

    def lookup(self, uid: str) -> PodRef | None:
        return self._by_uid.get(uid.lower())

    def __len__(self) -> int:
        return len(self._by_uid)
