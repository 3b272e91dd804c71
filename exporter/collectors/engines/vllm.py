"""vLLM (V1 and V0 names), Ray Serve LLM's re-export of it, and Triton's vLLM backend.

engines.md §2.1, §2.2, §2.11, §2.13 and §7. Alias precedence: `kv_cache_usage_perc` over
`gpu_cache_usage_perc`, `inter_token_latency_seconds` over `time_per_output_token_seconds`,
`prefix_cache_*` over `gpu_prefix_cache_*`. KV usage is weighted by each engine's capacity
from `cache_config_info` (num_gpu_blocks × block_size). Ray's `ray_vllm:`/`ray_vllm_` and
OpenTelemetry's `vllm_` prefixes are read as `vllm:`; Ray's worker labels are summed away.
Triton's vLLM backend uses `model` for `model_name`, which the normaliser reads alike.
Newer concepts: sleep state (`engine_sleep_state{sleep_state}`, ranks per state), waiting by
reason, LoRA adapters from `lora_requests_info` (the newest series' comma-separated adapter
lists counted, `max_lora` read) and speculative decoding's draft and accepted tokens.
Disaggregation through the NIXL KV connector (`NixlPromMetrics`, nixl_connector.py; published
by the engine that pulls the KV, the decode side): bytes from `nixl_bytes_transferred`'s
`_sum`, transfer durations from `nixl_xfer_time_seconds`, failures by stage (failed transfers,
failed notifications, expired requests). vLLM's metrics do not say the engine's role (it is in
`--kv-transfer-config`): the target's `role` or pod annotation gives it. Offload: the external
prefix cache counters, and V0's CPU (swap) KV cache as the host tier. `num_preemptions` carries
no reason label: preemptions by reason are not published.
"""

from __future__ import annotations

from inferwatch import catalog as c
from inferwatch.exporter.collectors.engines.mapping import (
    LATEST,
    RATIO,
    Mapping,
    Part,
    Source,
    hist,
    one,
    rule,
)

RAY_PREFIXES = ("ray_vllm:", "ray_vllm_", "vllm_")

CAPACITY = one("vllm:cache_config_info", from_labels=("num_gpu_blocks", "block_size"))
REASONS = (("stop", "stop"), ("length", "length"), ("abort", "abort"), ("error", "error"),
           ("repetition", "stop"))


def ray_name(name: str) -> str:
    """`ray_vllm_x`, `ray_vllm:x` and `vllm_x` as `vllm:x`."""
    for prefix in RAY_PREFIXES:
        if name.startswith(prefix):
            return "vllm:" + name[len(prefix):]
    return name


def _ratio(family: str) -> Source:
    return Source((Part(family),), RATIO, weight=CAPACITY)


def _cached_by_source() -> Source:
    """Prompt tokens served from a cache: the local prefix cache plus KV transfers."""
    family = "vllm:prompt_tokens_by_source"
    return Source((Part(family, where=(("source", "local_cache_hit"),)),
                   Part(family, where=(("source", "external_kv_transfer"),))))


SLEEP_STATES = (("awake", "awake"), ("weights_offloaded", "weights_offloaded"),
                ("discard_all", "discard_all"))
WAIT_REASONS = (("capacity", "capacity"), ("deferred", "deferred"))
LORA = "vllm:lora_requests_info"
LORA_ADAPTERS = Source((Part(LORA, count_label="running_lora_adapters", reason="running"),
                        Part(LORA, count_label="waiting_lora_adapters", reason="waiting")),
                       LATEST)

NIXL_FAILURES = Source((Part("vllm:nixl_num_failed_transfers", reason="transfer"),
                       Part("vllm:nixl_num_failed_notifications", reason="notification"),
                       Part("vllm:nixl_num_kv_expired_reqs", reason="expired")))

RULES = (
    rule(c.ENGINE_REQUESTS_RUNNING, one("vllm:num_requests_running")),
    rule(c.ENGINE_REQUESTS_WAITING, one("vllm:num_requests_waiting")),
    rule(c.ENGINE_KV_CACHE_USAGE, _ratio("vllm:kv_cache_usage_perc"),
         _ratio("vllm:gpu_cache_usage_perc")),
    rule(c.ENGINE_KV_CACHE_CAPACITY, CAPACITY),
    rule(c.ENGINE_TTFT, hist("vllm:time_to_first_token_seconds")),
    rule(c.ENGINE_ITL, hist("vllm:inter_token_latency_seconds"),
         hist("vllm:time_per_output_token_seconds")),
    rule(c.ENGINE_TPOT, hist("vllm:request_time_per_output_token_seconds")),
    rule(c.ENGINE_REQUEST_DURATION, hist("vllm:e2e_request_latency_seconds")),
    rule(c.ENGINE_QUEUE_DURATION, hist("vllm:request_queue_time_seconds"),
         hist("vllm:time_in_queue_requests")),
    rule(c.ENGINE_PROMPT_TOKENS, one("vllm:prompt_tokens")),
    rule(c.ENGINE_GENERATION_TOKENS, one("vllm:generation_tokens")),
    rule(c.ENGINE_PROMPT_CACHED_TOKENS, one("vllm:prompt_tokens_cached"), _cached_by_source()),
    rule(c.ENGINE_PREFIX_QUERIED_TOKENS, one("vllm:prefix_cache_queries"),
         one("vllm:gpu_prefix_cache_queries")),
    rule(c.ENGINE_PREFIX_HIT_TOKENS, one("vllm:prefix_cache_hits"),
         one("vllm:gpu_prefix_cache_hits")),
    rule(c.ENGINE_PREFIX_HIT_RATIO, one("vllm:gpu_prefix_cache_hit_rate", RATIO)),
    rule(c.ENGINE_PREEMPTIONS, one("vllm:num_preemptions")),
    rule(c.ENGINE_REQUESTS_FINISHED,
         one("vllm:request_success", reason_label="finished_reason", reasons=REASONS)),
    rule(c.ENGINE_REQUEST_PROMPT_TOKENS, hist("vllm:request_prompt_tokens")),
    rule(c.ENGINE_REQUEST_GENERATION_TOKENS, hist("vllm:request_generation_tokens")),
    rule(c.ENGINE_SLEEP_STATE, one("vllm:engine_sleep_state", reason_label="sleep_state",
                                   reasons=SLEEP_STATES)),
    rule(c.ENGINE_WAITING_BY_REASON, one("vllm:num_requests_waiting_by_reason",
                                         reason_label="reason", reasons=WAIT_REASONS)),
    rule(c.ENGINE_LORA_ADAPTERS, LORA_ADAPTERS),
    rule(c.ENGINE_LORA_ADAPTERS_MAX, one(LORA, LATEST, from_labels=("max_lora",))),
    rule(c.ENGINE_SPEC_DRAFT_TOKENS, one("vllm:spec_decode_num_draft_tokens")),
    rule(c.ENGINE_SPEC_ACCEPTED_TOKENS, one("vllm:spec_decode_num_accepted_tokens")),
    rule(c.ENGINE_KV_TRANSFER_BYTES, one("vllm:nixl_bytes_transferred", suffix="_sum")),
    rule(c.ENGINE_KV_TRANSFER_DURATION, hist("vllm:nixl_xfer_time_seconds")),
    rule(c.ENGINE_KV_TRANSFER_FAILURES, NIXL_FAILURES),
    rule(c.ENGINE_EXTERNAL_QUERIED_TOKENS, one("vllm:external_prefix_cache_queries")),
    rule(c.ENGINE_EXTERNAL_HIT_TOKENS, one("vllm:external_prefix_cache_hits")),
    rule(c.ENGINE_KV_HOST_USAGE, one("vllm:cpu_cache_usage_perc", RATIO)),
)

KNOWN = tuple("vllm:" + n for n in (
    "num_requests_swapped", "cpu_cache_usage_perc",
    "cpu_prefix_cache_hit_rate", "iteration_tokens_total",
    "request_max_num_generation_tokens", "request_params_", "request_inference_time_seconds",
    "request_prefill_time_seconds", "request_decode_time_seconds",
    "request_prefill_kv_computed_tokens", "request_num_preemptions", "engine_healthy",
    "prompt_tokens_recomputed", "external_prefix_cache_", "mm_cache_",
    "spec_decode_", "kv_block_", "nixl_", "estimated_", "avg_prompt_throughput_toks_per_s",
    "avg_generation_throughput_toks_per_s", "model_forward_time_milliseconds",
    "model_execute_time_milliseconds", "admission_rejections", "corrupted_requests")) + (
    "http_", "ray_")

VLLM = Mapping("vllm", RULES, KNOWN, rename=ray_name)
