"""llama.cpp `llama-server` (engines.md §2.8, §7): no labels (the model comes from `/props`),
no latency histograms, KV usage only in builds before its removal. `n_tokens_max` is typed a
counter but is a maximum; it is published as the batch token gauge."""

from __future__ import annotations

from inferwatch import catalog as c
from inferwatch.exporter.collectors.engines.mapping import RATIO, Mapping, one, rule

RULES = (
    rule(c.ENGINE_REQUESTS_RUNNING, one("llamacpp:requests_processing")),
    rule(c.ENGINE_REQUESTS_WAITING, one("llamacpp:requests_deferred")),
    rule(c.ENGINE_KV_CACHE_USAGE, one("llamacpp:kv_cache_usage_ratio", RATIO)),
    rule(c.ENGINE_BATCH_MAX_TOKENS, one("llamacpp:n_tokens_max")),
    rule(c.ENGINE_PROMPT_TOKENS, one("llamacpp:prompt_tokens")),
    rule(c.ENGINE_GENERATION_TOKENS, one("llamacpp:tokens_predicted")),
)

KNOWN = tuple("llamacpp:" + n for n in (
    "prompt_seconds", "tokens_predicted_seconds", "n_decode", "n_busy_slots_per_decode",
    "prompt_tokens_seconds", "predicted_tokens_seconds", "kv_cache_tokens"))

LLAMACPP = Mapping("llamacpp", RULES, KNOWN, model_from_info=True)
