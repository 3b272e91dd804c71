"""Inference engines: latency percentiles, queues, KV cache, preemptions, prefix cache, tokens.

Every engine kind arrives normalised to the catalogue's names and canonical buckets, so one
query covers vLLM, SGLang, TGI, Triton and the rest; `engine` and `model` split them.
"""

from __future__ import annotations

from inferwatch import catalog as c
from inferwatch.catalog import MetricSpec
from inferwatch.dashboards import board, engine_features, engine_modes, facts
from inferwatch.dashboards import panels as p
from inferwatch.dashboards.promql import Query, agg, mean, quantile, ratio, sel, sum_rate

BY = ("engine", "model")
PER = "{{engine}} {{model}}"
KV_STEPS = (("green", None), ("orange", 0.9), ("red", 0.98))


def summary() -> p.Row:
    return p.Row("Summary", [
        p.stat("Engines up", "Engine targets whose last scrape succeeded.",
               Query(agg("sum", sel(c.ENGINE_UP))), p.COUNT),
        p.stat("Running", "Requests in the running batches.",
               Query(agg("sum", sel(c.ENGINE_REQUESTS_RUNNING))), p.COUNT),
        p.stat("Waiting", "Requests queued in the schedulers.",
               Query(agg("sum", sel(c.ENGINE_REQUESTS_WAITING))), p.COUNT),
        p.gauge("KV cache (fullest)", "KV-cache usage of the fullest engine; it is never "
                "summed across engines or ranks.", Query(agg("max", sel(c.ENGINE_KV_CACHE_USAGE))),
                p.RATIO, min=0, max=1, steps=KV_STEPS, h=4),
        p.stat("Output tokens / s", "Tokens generated per second.",
               Query(sum_rate(c.ENGINE_GENERATION_TOKENS)), p.TOKENS_PER_SECOND),
        p.stat("Preemptions / s", "Requests preempted (vLLM) or retracted (SGLang) per second: "
               "the KV cache is too small for the load.",
               Query(sum_rate(c.ENGINE_PREEMPTIONS)), p.PER_SECOND,
               steps=(("green", None), ("orange", 0.1), ("red", 1.0))),
    ])


def latency_panel(title: str, spec: MetricSpec, what: str) -> p.Panel:
    """p50, p95, p99 and the mean of one latency histogram, across the selected engines."""
    queries = [Query(quantile(q, spec), f"p{round(q * 100)}") for q in (0.5, 0.95, 0.99)]
    return p.timeseries(title, f"{what}: p50, p95 and p99 from the canonical buckets, and the "
                        "exact mean from _sum / _count.",
                        [*queries, Query(mean(spec), "mean")], p.unit(spec))


def latency() -> p.Row:
    return p.Row("Latency", [
        latency_panel("Time to first token", c.ENGINE_TTFT, "Time from arrival to first token"),
        latency_panel("Inter-token latency", c.ENGINE_ITL, "Time between output steps"),
        latency_panel("End-to-end latency", c.ENGINE_REQUEST_DURATION, "Request duration"),
        latency_panel("Queue time", c.ENGINE_QUEUE_DURATION, "Time requests spent queued"),
        latency_panel("Time per output token", c.ENGINE_TPOT, "Per-request mean time per "
                      "output token"),
        p.timeseries("TTFT p95 by engine and model", "95th percentile time to first token per "
                     "engine kind and model.",
                     [Query(quantile(0.95, c.ENGINE_TTFT, BY), PER)], p.unit(c.ENGINE_TTFT)),
        p.timeseries("Inter-token latency p95 by engine and model", "95th percentile "
                     "inter-token latency per engine kind and model.",
                     [Query(quantile(0.95, c.ENGINE_ITL, BY), PER)], p.unit(c.ENGINE_ITL)),
    ])


def load() -> p.Row:
    return p.Row("Load and capacity", [
        p.timeseries("Running and waiting requests", "Scheduler state per engine and model.",
                     [Query(agg("sum", sel(c.ENGINE_REQUESTS_RUNNING), BY), "running " + PER),
                      Query(agg("sum", sel(c.ENGINE_REQUESTS_WAITING), BY), "waiting " + PER)],
                     p.COUNT, w=8),
        p.timeseries("KV-cache usage", "Usage of the fullest target per engine and model.",
                     [Query(agg("max", sel(c.ENGINE_KV_CACHE_USAGE), BY), PER)],
                     p.RATIO, min=0, max=1, steps=KV_STEPS, w=8),
        p.timeseries("Preemptions", "Requests preempted per second per engine and model.",
                     [Query(sum_rate(c.ENGINE_PREEMPTIONS, BY), PER)], p.PER_SECOND, w=8),
        p.timeseries("Token throughput", "Prompt and generated tokens per second per engine "
                     "and model.",
                     [Query(sum_rate(c.ENGINE_PROMPT_TOKENS, BY), "prompt " + PER),
                      Query(sum_rate(c.ENGINE_GENERATION_TOKENS, BY), "output " + PER)],
                     p.TOKENS_PER_SECOND),
        p.timeseries("Finished requests by reason", "Requests finished per second by reason "
                     "(stop, length, abort, error, rejected, other).",
                     [Query(sum_rate(c.ENGINE_REQUESTS_FINISHED, ("reason",)), "{{reason}}")],
                     p.REQUESTS_PER_SECOND, stack=True),
    ])


def prefix_cache() -> p.Row:
    hits = ratio(sum_rate(c.ENGINE_PREFIX_HIT_TOKENS, BY),
                 sum_rate(c.ENGINE_PREFIX_QUERIED_TOKENS, BY))
    return p.Row("Prefix cache", [
        p.timeseries("Prefix-cache hit ratio", "Prompt tokens found in the prefix cache over "
                     "prompt tokens looked up, as a rate ratio per engine and model; engines "
                     "that only publish their own ratio (no token counters) show that ratio.",
                     [Query(hits, PER),
                      Query(agg("max", sel(c.ENGINE_PREFIX_HIT_RATIO), BY),
                            "engine's ratio " + PER)],
                     p.RATIO, min=0, max=1),
        p.timeseries("Prompt tokens from the prefix cache", "Prompt tokens per second served "
                     "from the prefix cache instead of prefill, per engine and model.",
                     [Query(sum_rate(c.ENGINE_PROMPT_CACHED_TOKENS, BY), PER)],
                     p.TOKENS_PER_SECOND),
    ])


def per_model() -> p.Row:
    window = "$__range"
    return p.Row("Per model", [
        p.table("Models over the selected range", "One row per engine kind and model: load, "
                "throughput and latency over the dashboard's time range.", [
                    Query(agg("count", sel(c.ENGINE_UP), BY), "Targets"),
                    Query(agg("max", f"max_over_time({sel(c.ENGINE_KV_CACHE_USAGE)}[{window}])",
                              BY), "Peak KV cache"),
                    Query(sum_rate(c.ENGINE_REQUESTS_FINISHED, BY, window=window), "Req/s"),
                    Query(sum_rate(c.ENGINE_GENERATION_TOKENS, BY, window=window),
                          "Output tok/s"),
                    Query(quantile(0.95, c.ENGINE_TTFT, BY, window), "TTFT p95 (s)"),
                    Query(quantile(0.95, c.ENGINE_REQUEST_DURATION, BY, window), "E2E p95 (s)"),
                ], p.COUNT),
    ])


def build():
    """The inference engines dashboard."""
    return board.dashboard(
        "inferwatch / Inference engines", board.UID_ENGINES,
        "Latency percentiles, queues, KV cache, preemptions, prefix-cache hits, finish reasons "
        "and tokens per second, per engine kind and model, and by the model facts the engines "
        "publish (dtype, quantization, tensor-parallel size); sleeping engines apart from idle "
        "ones, queues by role and queue, and KV transfers in disaggregated deployments; "
        "speculative decoding's acceptance, LoRA adapters and why requests wait.",
        [summary(), latency(), load(), prefix_cache(), per_model(), facts.engine_row(),
         engine_modes.row(), engine_features.row()])
