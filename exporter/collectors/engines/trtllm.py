"""TensorRT-LLM's own `trtllm-serve` (and Dynamo) at `/prometheus/metrics` (engines.md §2.7,
§7). Alias precedence per concept: `trtllm_x` > `trtllm:x` > the unprefixed `x` of
TRT-LLM 1.0/1.1. KV capacity is max blocks × tokens per block. The finish reason is read from
`finished_reason` (tensorrt_llm/metrics/collector.py) or `finish_reason` (as captured from a
running trtllm-serve). Speculative decoding: the iteration counters `spec_decode_num_*`, else
the per-request `spec_decode_{drafted,accepted}_tokens`, and `spec_decode_acceptance_length`.
Offload: `kv_cache_host_utilization` (the host tier's 0..1 usage)."""

from __future__ import annotations

from inferwatch import catalog as c
from inferwatch.catalog import MetricSpec
from inferwatch.exporter.collectors.engines.mapping import (
    HISTOGRAM,
    MEAN,
    PRODUCT,
    RATIO,
    SUM,
    Mapping,
    Part,
    Rule,
    Source,
)

PREFIXES = ("trtllm_", "trtllm:", "")
REASONS = (("stop", "stop"), ("length", "length"), ("abort", "abort"), ("error", "error"),
           ("repetition", "stop"), ("cancelled", "abort"))


def _names(name: str) -> tuple[str, ...]:
    return tuple(p + name for p in PREFIXES)


def _rule(spec: MetricSpec, *names: str, op: str = SUM, **part: object) -> Rule:
    """Every prefix variant of each name, in precedence order."""
    return Rule(spec, tuple(Source((Part(n, **part),), op)  # type: ignore[arg-type]
                            for name in names for n in _names(name)))


KV_CAPACITY = Rule(c.ENGINE_KV_CACHE_CAPACITY, tuple(
    Source((Part(p + "kv_cache_max_blocks"), Part(p + "kv_cache_tokens_per_block")), PRODUCT)
    for p in PREFIXES))

RULES = (
    _rule(c.ENGINE_REQUESTS_RUNNING, "num_requests_running"),
    _rule(c.ENGINE_REQUESTS_WAITING, "num_requests_waiting"),
    _rule(c.ENGINE_REQUESTS_CAPACITY, "max_num_active_requests", "max_batch_size_runtime",
          "max_batch_size_static"),
    _rule(c.ENGINE_KV_CACHE_USAGE, "kv_cache_utilization", op=RATIO),
    KV_CAPACITY,
    _rule(c.ENGINE_BATCH_MAX_TOKENS, "max_num_tokens_runtime"),
    _rule(c.ENGINE_TTFT, "time_to_first_token_seconds", op=HISTOGRAM),
    _rule(c.ENGINE_TPOT, "time_per_output_token_seconds", op=HISTOGRAM),
    _rule(c.ENGINE_REQUEST_DURATION, "e2e_request_latency_seconds", op=HISTOGRAM),
    _rule(c.ENGINE_QUEUE_DURATION, "request_queue_time_seconds", op=HISTOGRAM),
    _rule(c.ENGINE_PROMPT_TOKENS, "prompt_tokens"),
    _rule(c.ENGINE_GENERATION_TOKENS, "generation_tokens"),
    _rule(c.ENGINE_PROMPT_CACHED_TOKENS, "prompt_cached_tokens"),
    _rule(c.ENGINE_PREFIX_HIT_RATIO, "kv_cache_hit_rate", op=RATIO),
    _rule(c.ENGINE_REQUESTS_FINISHED, "request_success",
          reason_label=("finished_reason", "finish_reason"), reasons=REASONS),
    _rule(c.ENGINE_SPEC_DRAFT_TOKENS, "spec_decode_num_draft_tokens",
          "spec_decode_drafted_tokens"),
    _rule(c.ENGINE_SPEC_ACCEPTED_TOKENS, "spec_decode_num_accepted_tokens",
          "spec_decode_accepted_tokens"),
    _rule(c.ENGINE_SPEC_ACCEPT_LENGTH, "spec_decode_acceptance_length", op=MEAN),
    _rule(c.ENGINE_KV_HOST_USAGE, "kv_cache_host_utilization", op=RATIO),
)

KNOWN = tuple(p + n for p in ("trtllm_", "trtllm:") for n in (
    "kv_cache_free_blocks", "kv_cache_used_blocks", "kv_cache_host_utilization",
    "kv_cache_reused_blocks", "kv_cache_missed_blocks", "num_context_requests",
    "num_generation_requests", "num_paused_requests", "num_scheduled_requests",
    "total_context_tokens", "iteration_latency_seconds", "max_batch_size_",
    "gpu_memory_usage_bytes", "cpu_memory_usage_bytes", "pinned_memory_usage_bytes",
    "request_prefill_time_seconds", "request_decode_time_seconds",
    "request_inference_time_seconds", "num_requests_completed", "spec_decode_",
    "prompt_cache_hit_tokens", "prompt_cached_tokens_per_request", "prefill_perplexity",
    "generation_perplexity", "request_error", "scheduled_batch_size", "kv_cache_iter_",
    "kv_cache_gen_alloc_blocks", "kv_cache_onboard_bytes", "kv_cache_offload_bytes",
    "kv_cache_disk_prefetch_blocks", "kv_cache_intra_device_copy_bytes",
    "avg_decoded_tokens_per_iter", "prefill_batch_", "model_config_info",
    "parallel_config_info", "speculative_config_info", "kv_cache_config_info"))

TRTLLM = Mapping("trtllm", RULES, KNOWN)
