"""NVIDIA NIM for LLMs 1.x (engines.md §2.10, §7): vLLM-V0-style names with no prefix.
`request_finish_total{finished_reason}` is preferred; without it, successes count as `other`
and failures as `error`."""

from __future__ import annotations

from inferwatch import catalog as c
from inferwatch.exporter.collectors.engines.mapping import (
                            RATIO,
                            Mapping,
                            Part,
                            Source,
                            hist,
                            one,
                            rule,
)
from inferwatch.exporter.collectors.engines.vllm import REASONS

FALLBACK_FINISHED = Source((Part("request_success", reason="other"),
                            Part("request_failure", reason="error")))

RULES = (
    rule(c.ENGINE_REQUESTS_RUNNING, one("num_requests_running")),
    rule(c.ENGINE_REQUESTS_WAITING, one("num_requests_waiting")),
    rule(c.ENGINE_REQUESTS_CAPACITY, one("num_request_max")),
    rule(c.ENGINE_KV_CACHE_USAGE, one("gpu_cache_usage_perc", RATIO)),
    rule(c.ENGINE_TTFT, hist("time_to_first_token_seconds")),
    rule(c.ENGINE_ITL, hist("time_per_output_token_seconds")),
    rule(c.ENGINE_REQUEST_DURATION, hist("e2e_request_latency_seconds")),
    rule(c.ENGINE_PROMPT_TOKENS, one("prompt_tokens")),
    rule(c.ENGINE_GENERATION_TOKENS, one("generation_tokens")),
    rule(c.ENGINE_PREEMPTIONS, one("num_preemptions")),
    rule(c.ENGINE_REQUESTS_FINISHED,
         one("request_finish", reason_label="finished_reason", reasons=REASONS),
         FALLBACK_FINISHED),
    rule(c.ENGINE_REQUEST_PROMPT_TOKENS, hist("request_prompt_tokens")),
    rule(c.ENGINE_REQUEST_GENERATION_TOKENS, hist("request_generation_tokens")),
)

KNOWN = ("num_requests_swapped", "cpu_cache_usage_perc", "cache_config_info",
         "avg_prompt_throughput_toks_per_s", "avg_generation_throughput_toks_per_s")

NIM = Mapping("nim", RULES, KNOWN)
