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
    joules_per_token: float | None = None  # the pack's inferwatch:engine_joules_per_token:rate5m
    cost_per_million: float | None = None  # USD, inferwatch:engine_cost_per_million_tokens:rate1h


@dataclass(frozen=True)
class Readings:
    engines: dict[str, EngineReading] = field(default_factory=dict)  # by engine kind
    gpu_utilization: float | None = None  # average over the GPUs, ratio


def per_engine(record: str) -> str:
    """A recorded series by (namespace, model), labelled with the engine serving the model."""
    return (f"{record} * on (namespace, model) group_left (engine) "
            f"max by (namespace, model, engine) ({catalog.ENGINE_UP.name})")


def queries(ttft_window: float) -> dict[str, Node | str]:
    """One query per column: KV cache usage, queue length, TTFT p95, joules per token and
    cost per million tokens (the pack's recording rules), average GPU utilization."""
    buckets = Selector(catalog.ENGINE_TTFT.name + "_bucket", (), ttft_window)
    return {
        "kv_cache": Selector(catalog.ENGINE_KV_CACHE_USAGE.name),
        "waiting": Selector(catalog.ENGINE_REQUESTS_WAITING.name),
        "ttft_p95": Call("histogram_quantile", (
            Number(0.95), Agg("sum", ("engine", "le"), Call("rate", (buckets,))))),
        "joules": per_engine("inferwatch:engine_joules_per_token:rate5m"),
        "cost": per_engine("inferwatch:engine_cost_per_million_tokens:rate1h"),
        "gpu": Agg("avg", (), Selector(catalog.GPU_UTILIZATION.name)),
    }


def _values(source: EmbeddedSource, query: Node | str, ts: float) -> dict[str, float]:
    """{engine label: value}; an empty map when the window cannot answer yet."""
    try:
        samples = (source.evaluate_text(query, ts) if isinstance(query, str)
                   else source.evaluate(query, ts))
    except SourceError:
        return {}
    return {labels.get("engine", ""): value for labels, value in samples
            if not math.isnan(value)}


def read(source: EmbeddedSource, trees: dict[str, Node | str], ts: float) -> Readings:
    columns = {name: _values(source, node, ts) for name, node in trees.items()}
    kinds = sorted(set().union(*(columns[c] for c in ("kv_cache", "waiting", "ttft_p95"))))
    engines = {k: EngineReading(columns["kv_cache"].get(k), columns["waiting"].get(k),
                                columns["ttft_p95"].get(k), columns["joules"].get(k),
                                columns["cost"].get(k)) for k in kinds}
    return Readings(engines, columns["gpu"].get(""))
