"""The PromQL an autoscaler reads, written once from the catalogue's names.

A workload is the Deployment (or StatefulSet) running one model server; its pods' engine series
carry `namespace` and `pod` from the exporter's Kubernetes discovery, so the queries select the
workload's pods by name, the way the workload controller names them. Every engine kind
publishes the same names, so the queries do not change with the engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from inferwatch import catalog
from inferwatch.core.errors import UserError

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# The suffixes the controllers append: a Deployment's ReplicaSet adds the pod-template hash,
# then five characters; a StatefulSet an ordinal.
POD_SUFFIX = {"Deployment": "-[a-z0-9]{1,10}-[a-z0-9]{5}", "StatefulSet": "-[0-9]+"}
MAX_NAME = 253
MAX_MODEL = 1024


@dataclass(frozen=True)
class Workload:
    """The scaled workload: its kind, name and namespace, and optionally one served model."""

    name: str
    namespace: str
    kind: str = "Deployment"
    model: str = ""

    def __post_init__(self) -> None:
        for what, value in (("--deployment", self.name), ("--namespace", self.namespace)):
            if len(value) > MAX_NAME or not _DNS_LABEL.match(value):
                raise UserError(f"{what} {value[:64]!r} is not a Kubernetes name "
                                "(lower-case letters, digits and '-')")
        if self.kind not in POD_SUFFIX:
            raise UserError(f"--kind {self.kind[:32]!r} is not one of {', '.join(POD_SUFFIX)}")
        if len(self.model) > MAX_MODEL or any(ord(ch) < 32 for ch in self.model):
            raise UserError("--model is longer than 1024 characters or holds control characters")

    def selector(self) -> str:
        """The label matchers of this workload's engine series."""
        pods = re.escape(self.name).replace("\\-", "-") + POD_SUFFIX[self.kind]
        matchers = [f'namespace="{self.namespace}"', f'pod=~"{pods}"']
        if self.model:
            matchers.append(f'model="{_quoted(self.model)}"')
        return "{" + ",".join(matchers) + "}"


def _quoted(value: str) -> str:
    """A PromQL double-quoted string's body."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def requests_waiting(workload: Workload) -> str:
    """Requests queued in all of the workload's pods (data-parallel ranks summed): an
    AverageValue target divides it by the replica count."""
    return f"sum({catalog.ENGINE_REQUESTS_WAITING.name}{workload.selector()})"


def kv_cache_usage(workload: Workload) -> str:
    """The mean over the workload's pods of each pod's fullest KV cache (a pod's ranks are
    max'ed: the fullest rank is the one that preempts)."""
    return (f"avg(max by (namespace, pod) "
            f"({catalog.ENGINE_KV_CACHE_USAGE.name}{workload.selector()}))")
