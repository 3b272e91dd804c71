"""KEDA ScaledObject, autoscaling/v2 HPA and prometheus-adapter rules for one workload.

KEDA (`keda.sh/v1alpha1`) reads Prometheus itself; its `prometheus` triggers become external
metrics of the HPA it manages: the waiting total as `AverageValue` (the HPA divides it by the
replicas), the KV-cache usage as `Value` (desired = ceil(current * usage / target)). Without
KEDA, the HPA reads per-pod metrics that prometheus-adapter serves from the rules below, with
the same targets. Both scale down after a stabilisation window, as the HPA's default does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inferwatch import catalog
from inferwatch.autoscale.queries import Workload, kv_cache_usage, requests_waiting
from inferwatch.core.errors import UserError

LABELS = {"app.kubernetes.io/name": "inferwatch", "app.kubernetes.io/component": "autoscaling"}


@dataclass(frozen=True)
class Targets:
    """Replica bounds and the per-signal targets."""

    min_replicas: int = 1
    max_replicas: int = 8
    waiting_per_replica: float = 8.0
    kv_cache_usage: float = 0.85
    scale_down_window: int = 300  # seconds, the HPA's default stabilisation

    def __post_init__(self) -> None:
        if not 0 < self.min_replicas <= self.max_replicas <= 1000:
            raise UserError("replicas: need 0 < --min-replicas <= --max-replicas <= 1000")
        if not 0 < self.waiting_per_replica <= 1e6:
            raise UserError("--waiting-per-replica must be above 0")
        if not 0 < self.kv_cache_usage <= 1:
            raise UserError("--kv-cache-usage must be in (0, 1]")
        if not 0 <= self.scale_down_window <= 3600:
            raise UserError("--scale-down-window must be 0 to 3600 seconds")


def _quantity(value: float) -> str:
    """A Kubernetes quantity: whole numbers plain, fractions in milli-units."""
    return str(int(value)) if value == int(value) else f"{round(value * 1000)}m"


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _target_ref(workload: Workload) -> dict[str, str]:
    return {"apiVersion": "apps/v1", "kind": workload.kind, "name": workload.name}


def _metadata(workload: Workload) -> dict[str, Any]:
    """The autoscaler's name, beside the workload it scales."""
    return {"name": f"{workload.name}-inferwatch", "namespace": workload.namespace,
            "labels": LABELS}


def _behavior(targets: Targets) -> dict[str, Any]:
    return {"scaleDown": {"stabilizationWindowSeconds": targets.scale_down_window}}


def scaled_object(workload: Workload, targets: Targets, prometheus_url: str) -> dict[str, Any]:
    """The KEDA ScaledObject with one Prometheus trigger per signal."""
    def trigger(name: str, metric_type: str, query: str, threshold: float) -> dict[str, Any]:
        return {"type": "prometheus", "name": name, "metricType": metric_type,
                "metadata": {"serverAddress": prometheus_url, "query": query,
                             "threshold": _number(threshold)}}

    return {
        "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
        "metadata": _metadata(workload),
        "spec": {
            "scaleTargetRef": _target_ref(workload),
            "minReplicaCount": targets.min_replicas,
            "maxReplicaCount": targets.max_replicas,
            "pollingInterval": 15,
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": _behavior(targets)}},
            "triggers": [
                trigger("requests-waiting", "AverageValue", requests_waiting(workload),
                        targets.waiting_per_replica),
                trigger("kv-cache-usage", "Value", kv_cache_usage(workload),
                        targets.kv_cache_usage),
            ],
        },
    }


def hpa(workload: Workload, targets: Targets) -> dict[str, Any]:
    """The autoscaling/v2 HPA over prometheus-adapter's per-pod metrics."""
    selector = {"matchLabels": {"model": workload.model}} if workload.model else None

    def pods_metric(name: str, average: float) -> dict[str, Any]:
        metric: dict[str, Any] = {"name": name}
        if selector:
            metric["selector"] = selector
        return {"type": "Pods", "pods": {"metric": metric, "target": {
            "type": "AverageValue", "averageValue": _quantity(average)}}}

    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(workload),
        "spec": {
            "scaleTargetRef": _target_ref(workload),
            "minReplicas": targets.min_replicas,
            "maxReplicas": targets.max_replicas,
            "behavior": _behavior(targets),
            "metrics": [
                pods_metric(catalog.ENGINE_REQUESTS_WAITING.name, targets.waiting_per_replica),
                pods_metric(catalog.ENGINE_KV_CACHE_USAGE.name, targets.kv_cache_usage),
            ],
        },
    }


def adapter_rules() -> dict[str, Any]:
    """prometheus-adapter's `rules:` for the two per-pod metrics (its config.yaml); a pod's
    ranks are summed for the queue and max'ed for the KV cache, as the KEDA queries do."""
    def rule(name: str, aggregation: str) -> dict[str, Any]:
        return {"seriesQuery": f'{name}{{namespace!="",pod!=""}}',
                "resources": {"overrides": {"namespace": {"resource": "namespace"},
                                            "pod": {"resource": "pod"}}},
                "name": {"matches": f"^{name}$", "as": name},
                "metricsQuery": f"{aggregation}(<<.Series>>{{<<.LabelMatchers>>}}) "
                                "by (<<.GroupBy>>)"}

    return {"rules": [rule(catalog.ENGINE_REQUESTS_WAITING.name, "sum"),
                      rule(catalog.ENGINE_KV_CACHE_USAGE.name, "max")]}
