"""SGLang (engines.md §2.3, §7): scheduler gauges per `dp_rank` (non-zero `tp_rank`/`pp_rank`
duplicates ignored), KV usage weighted by `max_total_num_tokens`, `full_token_usage` preferred
to `token_usage` (the max over KV, SWA and mamba pools), retractions as preemptions, and
finished requests as total minus aborted (`other`) plus aborted (`abort`). Builds of late 2024
(sglang PR #1853) named the model in a `name` label instead of `model_name`. Behind SGLang's
model gateway (`/engine_metrics`) the names read `sglang_x` for `sglang:x` and each worker's
series carry `worker_addr`: each worker is normalised alone and published with `worker`.
Speculative decoding: `spec_accept_length` (mean accepted tokens per step, never summed).
Disaggregation (collector.py, `SchedulerMetricsCollector` at 00ae9c15): the role from
`engine_type` (`unified` is both); waiting counts the scheduler's queue plus the prefill
prealloc (bootstrap) and inflight (transfer) queues and the decode prealloc and transfer
queues, each also published by queue; KV-transfer latency and speed are the engine's gauges of
its latest transfers (ms, GB/s as 10^9 bytes); failures are the bootstrap and transfer failure
counters. Newer builds (observability/metrics_collector.py at 016d8605) name the prefill
prealloc queue `num_prefill_bootstrap_queue_reqs` (counted the same, as `prefill_bootstrap`) and
write `kv_transfer_latency_ms` as a histogram: then it is the transfer duration histogram (ms,
bounds too), and the latency gauge stays unset; `kv_transfer_speed_gb_s` and `kv_transfer_total_mb`
are histograms too, observed per transfer in GiB/s and MiB (req_time_stats.py: bytes / 2^20,
then / 1024 per second): the speed is then the histograms' mean since start (summed `_sum` over
summed `_count`, not the latest transfers), the size's `_sum` the bytes moved.
With `--enable-hierarchical-cache` the host tier's usage is `hicache_host_used_tokens` over
`hicache_host_total_tokens`, pooled over ranks.
With LoRA on (metrics_collector.py at 44cedc2b), `lora_pool_slots_total` (max_loras_per_batch of
each rank's pool, summed over ranks) is the most adapters held at once; `lora_pool_slots_used`
counts adapters loaded, not adapters with requests, so it is left out.
Retractions carry no reason label: preemptions by reason are not published."""

from __future__ import annotations

from inferwatch import catalog as c
from inferwatch.exporter.collectors.engines.mapping import (
    AVERAGE,
    MEAN,
    QUOTIENT,
    RATIO,
    Mapping,
    Part,
    Source,
    hist,
    one,
    rule,
)

CAPACITY = one("sglang:max_total_num_tokens")
MIB, GIB = float(2**20), float(2**30)
SPEED = "sglang:kv_transfer_speed_gb_s"
GATEWAY_PREFIX = "sglang_"


def gateway_name(name: str) -> str:
    """The gateway's `sglang_x` as `sglang:x`."""
    return "sglang:" + name[len(GATEWAY_PREFIX):] if name.startswith(GATEWAY_PREFIX) else name


def _ratio(family: str) -> Source:
    return Source((Part(family),), RATIO, weight=CAPACITY)


QUEUES = (("num_queue_reqs", "scheduler"), ("num_prefill_prealloc_queue_reqs", "prefill_prealloc"),
          ("num_prefill_bootstrap_queue_reqs", "prefill_bootstrap"),
          ("num_prefill_inflight_queue_reqs", "prefill_inflight"),
          ("num_decode_prealloc_queue_reqs", "decode_prealloc"),
          ("num_decode_transfer_queue_reqs", "decode_transfer"))
WAITING = Source(tuple(Part("sglang:" + n) for n, _ in QUEUES))
BY_QUEUE = Source(tuple(Part("sglang:" + n, reason=q) for n, q in QUEUES))
TRANSFER_FAILURES = Source((Part("sglang:num_transfer_failed_reqs", reason="transfer"),
                            Part("sglang:num_bootstrap_failed_reqs", reason="bootstrap")))
ROLES = (("unified", "both"), ("prefill", "prefill"), ("decode", "decode"))

FINISHED = Source((
    Part("sglang:num_requests", reason="other"),
    Part("sglang:num_aborted_requests", reason="other", sign=-1.0),
    Part("sglang:num_aborted_requests", reason="abort"),
))

RULES = (
    rule(c.ENGINE_REQUESTS_RUNNING, one("sglang:num_running_reqs")),
    rule(c.ENGINE_REQUESTS_WAITING, WAITING),
    rule(c.ENGINE_WAITING_BY_QUEUE, BY_QUEUE),
    rule(c.ENGINE_KV_CACHE_USAGE, _ratio("sglang:full_token_usage"),
         _ratio("sglang:token_usage")),
    rule(c.ENGINE_KV_CACHE_CAPACITY, CAPACITY),
    rule(c.ENGINE_TTFT, hist("sglang:time_to_first_token_seconds")),
    rule(c.ENGINE_ITL, hist("sglang:inter_token_latency_seconds"),
         hist("sglang:time_per_output_token_seconds")),
    rule(c.ENGINE_REQUEST_DURATION, hist("sglang:e2e_request_latency_seconds")),
    rule(c.ENGINE_QUEUE_DURATION, hist("sglang:queue_time_seconds")),
    rule(c.ENGINE_PROMPT_TOKENS, one("sglang:prompt_tokens")),
    rule(c.ENGINE_GENERATION_TOKENS, one("sglang:generation_tokens")),
    rule(c.ENGINE_PROMPT_CACHED_TOKENS,
         one("sglang:cached_tokens", where=(("cache_source", "total"),)),
         one("sglang:cached_tokens")),
    rule(c.ENGINE_PREFIX_HIT_RATIO, one("sglang:cache_hit_rate", RATIO)),
    rule(c.ENGINE_PREEMPTIONS, one("sglang:num_retracted_requests")),
    rule(c.ENGINE_REQUESTS_FINISHED, FINISHED),
    rule(c.ENGINE_REQUEST_PROMPT_TOKENS, hist("sglang:prompt_tokens_histogram")),
    rule(c.ENGINE_REQUEST_GENERATION_TOKENS, hist("sglang:generation_tokens_histogram")),
    rule(c.ENGINE_SPEC_ACCEPT_LENGTH, one("sglang:spec_accept_length", MEAN)),
    rule(c.ENGINE_KV_TRANSFER_LATENCY, one("sglang:kv_transfer_latency_ms", MEAN, scale=1e-3)),
    rule(c.ENGINE_KV_TRANSFER_DURATION, hist("sglang:kv_transfer_latency_ms", 1e-3)),
    rule(c.ENGINE_KV_TRANSFER_SPEED, one(SPEED, MEAN, scale=1e9),
         Source((Part(SPEED, suffix="_sum", scale=GIB), Part(SPEED, suffix="_count")), AVERAGE)),
    rule(c.ENGINE_KV_TRANSFER_BYTES, one("sglang:kv_transfer_total_mb", suffix="_sum", scale=MIB)),
    rule(c.ENGINE_KV_TRANSFER_FAILURES, TRANSFER_FAILURES),
    rule(c.ENGINE_LORA_ADAPTERS_MAX, one("sglang:lora_pool_slots_total")),
    rule(c.ENGINE_KV_HOST_USAGE, Source((Part("sglang:hicache_host_used_tokens"),
                                         Part("sglang:hicache_host_total_tokens")), QUOTIENT)),
)

KNOWN = tuple("sglang:" + n for n in (
    "num_used_tokens", "gen_throughput", "num_grammar_queue_reqs", "num_retracted_",
    "num_retractions", "cache_config_info", "swa_token_usage", "mamba_usage", "kv_used_tokens",
    "kv_available_tokens", "per_stage_req_latency_seconds", "num_so_requests",
    "realtime_tokens", "spec_accept_", "num_prefill_", "num_decode_", "kv_transfer_",
    "max_prefill_tokens", "max_running_requests", "context_len", "num_transfer_failed_",
    "num_bootstrap_failed_", "pending_prealloc_token_usage", "lora_pool_slots_used",
    "lora_pool_utilization"))

SGLANG = Mapping("sglang", RULES, KNOWN, rename=gateway_name, model_labels=("name",),
                 instance_label="worker_addr", role_label="engine_type", roles=ROLES)
