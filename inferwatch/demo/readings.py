"""The numbers the live view shows, read from the rules engine's own window (the embedded
source), so the view and the alerts see the same samples."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from inferwatch import catalog
from inferwatch.alert_rules.promql import Agg, Call, Node, Number, Selector
from inferwatch.alert_rules.sources import SourceError
from inferwatch.alert_rules.sources.embedded import EmbeddedSource


@dataclass(frozen=True)
class EngineReading:
    kv_cache: float | None = None  # ratio
    waiting: float | None = None
    ttft_p95: float | None = None  # seconds


@dataclass(frozen=True)
class Readings:
    engines: dict[str, EngineReading] = field(default_factory=dict)  # by engine kind
    gpu_utilization: float | None = None  # average over the GPUs, ratio


def queries(ttft_window: float) -> dict[str, Node]:
    """One tree per column: KV cache usage, queue length, TTFT p95, average GPU utilization."""
    buckets = Selector(catalog.ENGINE_TTFT.name + "_bucket", (), ttft_window)
    return {
        "kv_cache": Selector(catalog.ENGINE_KV_CACHE_USAGE.name),
        "waiting": Selector(catalog.ENGINE_REQUESTS_WAITING.name),
        "ttft_p95": Call("histogram_quantile", (
            Number(0.95), Agg("sum", ("engine", "le"), Call("rate", (buckets,))))),
        "gpu": Agg("avg", (), Selector(catalog.GPU_UTILIZATION.name)),
    }


def _values(source: EmbeddedSource, node: Node, ts: float) -> dict[str, float]:
    """{engine label: value}; an empty map when the window cannot answer yet."""
    try:
        samples = source.evaluate(node, ts)
    except SourceError:
        return {}
    return {labels.get("engine", ""): value for labels, value in samples
            if not math.isnan(value)}


def read(source: EmbeddedSource, trees: dict[str, Node], ts: float) -> Readings:
    columns = {name: _values(source, node, ts) for name, node in trees.items()}
    kinds = sorted(set().union(*(columns[c] for c in ("kv_cache", "waiting", "ttft_p95"))))
    engines = {k: EngineReading(columns["kv_cache"].get(k), columns["waiting"].get(k),
                                columns["ttft_p95"].get(k)) for k in kinds}
    return Readings(engines, columns["gpu"].get(""))
