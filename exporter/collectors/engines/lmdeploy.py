"""LMDeploy (engines.md §2.9, §7): vLLM-style names under `lmdeploy:`, summed over the
`engine` (DP) label; `iter_token_latency` (seconds, no unit suffix) is the inter-token latency;
finish reasons are `ResponseType.*` enum reprs."""

from __future__ import annotations

from inferwatch import catalog as c
from inferwatch.exporter.collectors.engines.mapping import RATIO, Mapping, hist, one, rule

ERRORS = ("ENGINE_STOP_ERROR", "INPUT_LENGTH_ERROR", "INTERNAL_ENGINE_ERROR", "OUT_OF_MEMORY",
          "SESSION_REPEAT", "SESSION_NOT_EXIST", "HANDLER_NOT_EXIST")
REASONS = (("ResponseType.FINISH", "other"), ("ResponseType.SUCCESS", "other"),
           ("ResponseType.CANCEL", "abort"), ("ResponseType.NO_QUEUE", "rejected"),
           *(("ResponseType." + e, "error") for e in ERRORS))

RULES = (
    rule(c.ENGINE_REQUESTS_RUNNING, one("lmdeploy:num_requests_running")),
    rule(c.ENGINE_REQUESTS_WAITING, one("lmdeploy:num_requests_waiting")),
    rule(c.ENGINE_KV_CACHE_USAGE, one("lmdeploy:gpu_cache_usage_perc", RATIO)),
    rule(c.ENGINE_TTFT, hist("lmdeploy:time_to_first_token_seconds")),
    rule(c.ENGINE_ITL, hist("lmdeploy:iter_token_latency")),
    rule(c.ENGINE_TPOT, hist("lmdeploy:time_per_output_token_seconds")),
    rule(c.ENGINE_REQUEST_DURATION, hist("lmdeploy:e2e_request_latency_seconds")),
    rule(c.ENGINE_QUEUE_DURATION, hist("lmdeploy:request_queue_time_seconds")),
    rule(c.ENGINE_PROMPT_TOKENS, one("lmdeploy:prompt_tokens")),
    rule(c.ENGINE_GENERATION_TOKENS, one("lmdeploy:generation_tokens")),
    rule(c.ENGINE_PROMPT_CACHED_TOKENS, one("lmdeploy:cached_tokens")),
    rule(c.ENGINE_PREFIX_HIT_RATIO, one("lmdeploy:prefix_cache_hit_rate", RATIO)),
    rule(c.ENGINE_REQUESTS_FINISHED, one("lmdeploy:request_success",
                                         reason_label="finished_reason", reasons=REASONS)),
    rule(c.ENGINE_REQUEST_PROMPT_TOKENS, hist("lmdeploy:request_prompt_tokens")),
    rule(c.ENGINE_REQUEST_GENERATION_TOKENS, hist("lmdeploy:request_generation_tokens")),
)

KNOWN = tuple("lmdeploy:" + n for n in (
    "num_api_requests_", "num_requests_succeeded", "num_requests_failed",
    "request_cached_tokens", "request_cache_hit_ratio", "request_inference_time_seconds",
    "request_prefill_time_seconds", "request_decode_time_seconds", "iteration_tokens_total"))

LMDEPLOY = Mapping("lmdeploy", RULES, KNOWN)
