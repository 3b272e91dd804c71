"""The HPA's replica calculation (pkg/controller/podautoscaler/replica_calculator.go), written
from its documentation, for the tests to apply to what Prometheus answers."""

from __future__ import annotations

import math

TOLERANCE = 0.1  # --horizontal-pod-autoscaler-tolerance's default


def external_average(value: float, target: float, current: int) -> int:
    """An External metric with an AverageValue target (KEDA's `AverageValue` trigger)."""
    ratio = value / (target * current)
    return current if abs(ratio - 1.0) <= TOLERANCE else math.ceil(value / target)


def external_value(value: float, target: float, current: int) -> int:
    """An External metric with a Value target (KEDA's `Value` trigger)."""
    ratio = value / target
    return current if abs(ratio - 1.0) <= TOLERANCE else math.ceil(ratio * current)


def pods_average(per_pod: list[float], target: float, current: int) -> int:
    """A Pods metric with an AverageValue target (prometheus-adapter's per-pod series)."""
    ratio = sum(per_pod) / len(per_pod) / target
    return current if abs(ratio - 1.0) <= TOLERANCE else math.ceil(ratio * len(per_pod))


def desired(proposals: list[int], low: int, high: int) -> int:
    """The largest proposal of all metrics, within the replica bounds."""
    return min(high, max(low, max(proposals)))
