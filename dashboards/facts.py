"""Latency, throughput and cost grouped by what each engine says it serves (issue 17).

`inferwatch_engine_model_info` (one series per engine target, value 1) carries the model's
dtype, quantization and tensor-parallel size. A query joins it onto a series with
`* on (<join>) group_left (<facts>)`, then groups by model and facts, so the same model in FP8
and in BF16, at TP 2 or 8, are different rows. The info side is `group by (<join>, <facts>)`,
one series per join key, so the match stays many-to-one.

- Engine series join on the scrape (cluster, node, instance), the target and the model: the
  facts belong to the model the engine said it serves.
- The cost recording rules keep (namespace, model) only, which two deployments of one model in
  one namespace share, so a join there could match two fact sets. The cost panels therefore
  join the per-pod recorded series (inferwatch:engine_tokens:*, engine_power_watts, which keep
  namespace, pod and model) and the pods' GPU cost, as the pack's own cost rule composes them.
  A pod running two engines of one model with different facts would still match twice (and
  the panel show Prometheus's many-to-many error); one engine per pod is the usual layout.
"""

from __future__ import annotations

from collections.abc import Sequence

from inferwatch import catalog as c
from inferwatch.catalog import MetricSpec
from inferwatch.dashboards import panels as p
from inferwatch.dashboards.promql import FACTS, RATE, Query, agg, rate, ratio, sel

BY = ("model", *FACTS)
PER = "{{model}} {{dtype}} {{quantization}} TP{{tensor_parallel_size}}"
TARGET_JOIN = ("cluster", "node", "instance", "target", "model")
POD_JOIN = ("namespace", "pod", "model")
COST_FILTERS = ("namespace", "model", *FACTS)


def info(join: Sequence[str], filters: Sequence[str] | None = None) -> str:
    """The model facts, one series per join key; for a join on the pod, only the targets in a
    pod (two targets outside Kubernetes serving one model would both have pod="", and
    Prometheus refuses a duplicate on the one side even where nothing matches it)."""
    spec = c.ENGINE_MODEL_INFO
    pods = {"pod": ".+"} if "pod" in join else None
    selector = sel(spec, regex=pods) if filters is None else sel(spec, regex=pods,
                                                                  filters=filters)
    return agg("group", selector, (*join, *FACTS))


def with_facts(expr: str, join: Sequence[str] = TARGET_JOIN,
               filters: Sequence[str] | None = None) -> str:
    """`expr`, each series given its target's facts (series without facts drop out)."""
    return (f"{expr} * on ({', '.join(join)}) group_left ({', '.join(FACTS)}) "
            f"{info(join, filters)}")


def quantile(q: float, spec: MetricSpec, window: str = RATE) -> str:
    """histogram_quantile over the buckets of the targets with the same model and facts."""
    inner = agg("sum", with_facts(rate(spec, "_bucket", window)), ("le", *BY))
    return f"histogram_quantile({q}, {inner})"


def tokens(spec: MetricSpec, window: str = RATE) -> str:
    """Tokens per second by model and facts."""
    return agg("sum", with_facts(rate(spec, window=window)), BY)


def engine_row() -> p.Row:
    """The engines dashboard's panels by model facts."""
    window = "$__range"
    return p.Row("By model facts", [
        p.table("Deployments by model facts", "One row per model, dtype, quantization and "
                "tensor-parallel size, as the engines say them (empty where an engine does not "
                "say): targets, throughput and latency over the dashboard's time range. The "
                "Dtype, Quantization and Tensor parallel variables filter these panels only.", [
                    Query(agg("count", sel(c.ENGINE_MODEL_INFO), BY), "Targets"),
                    Query(tokens(c.ENGINE_GENERATION_TOKENS, window), "Output tok/s"),
                    Query(quantile(0.95, c.ENGINE_TTFT, window), "TTFT p95 (s)"),
                    Query(quantile(0.95, c.ENGINE_ITL, window), "ITL p95 (s)"),
                ], p.COUNT),
        p.timeseries("TTFT p95 by model facts", "95th percentile time to first token per model, "
                     "dtype, quantization and tensor-parallel size.",
                     [Query(quantile(0.95, c.ENGINE_TTFT), PER)], p.unit(c.ENGINE_TTFT), w=8),
        p.timeseries("Inter-token latency p95 by model facts", "95th percentile inter-token "
                     "latency per model, dtype, quantization and tensor-parallel size.",
                     [Query(quantile(0.95, c.ENGINE_ITL), PER)], p.unit(c.ENGINE_ITL), w=8),
        p.timeseries("Output tokens per second by model facts", "Tokens generated per second "
                     "per model, dtype, quantization and tensor-parallel size.",
                     [Query(tokens(c.ENGINE_GENERATION_TOKENS), PER)], p.TOKENS_PER_SECOND,
                     w=8),
    ])


def pod_facts(expr: str) -> str:
    """A per-pod recorded series (namespace, pod, model) given its engine's facts."""
    return with_facts(f"({expr})", POD_JOIN, COST_FILTERS)


def joules_per_token(power: str, tokens_5m: str) -> str:
    """GPU joules per token by model and facts, from the per-pod recorded power and tokens."""
    return ratio(agg("sum", pod_facts(power), BY), agg("sum", pod_facts(tokens_5m), BY))


def cost_per_million(tokens_1h: str, pod_tokens_1h: str, pod_cost: str) -> str:
    """USD per million tokens by model and facts: each pod's GPU cost split across its models
    by their tokens (as the pack's engine_cost_per_million_tokens rule splits it), the pod's
    tokens (`pod_tokens_1h`) of every model, not only the selected ones."""
    pod_model_cost = (f"{tokens_1h} / on (namespace, pod) group_left () "
                      f"({agg('sum', pod_tokens_1h, ('namespace', 'pod'))} > 0) "
                      f"* on (namespace, pod) group_left () "
                      f"{agg('sum', pod_cost, ('namespace', 'pod'))}")
    return ratio(f"{agg('sum', pod_facts(pod_model_cost), BY)} / 3600 * 1e6",
                 agg("sum", pod_facts(tokens_1h), BY))
