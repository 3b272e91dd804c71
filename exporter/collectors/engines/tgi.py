"""Hugging Face TGI (engines.md §2.4, §7): no TTFT, no KV usage, no model label (the model
comes from `/info`); token counters from the `_sum` of the token-length histograms; failures
by `err` as rejected or error."""

from __future__ import annotations

from inferwatch import catalog as c
from inferwatch.exporter.collectors.engines.mapping import Mapping, Part, Source, hist, one, rule

FAILURES = (("validation", "rejected"), ("overloaded", "rejected"), ("template", "rejected"),
            ("generation", "error"), ("dropped", "error"), ("incomplete", "error"))

FINISHED = Source((
    Part("tgi_request_success", reason="other"),
    Part("tgi_request_failure", reason_label="err", reasons=FAILURES),
))

RULES = (
    rule(c.ENGINE_REQUESTS_RUNNING, one("tgi_batch_current_size")),
    rule(c.ENGINE_REQUESTS_WAITING, one("tgi_queue_size")),
    rule(c.ENGINE_BATCH_MAX_TOKENS, one("tgi_batch_current_max_tokens")),
    rule(c.ENGINE_KV_CACHE_CAPACITY, one("tgi_batch_max_total_tokens")),
    rule(c.ENGINE_TPOT, hist("tgi_request_mean_time_per_token_duration")),
    rule(c.ENGINE_REQUEST_DURATION, hist("tgi_request_duration")),
    rule(c.ENGINE_QUEUE_DURATION, hist("tgi_request_queue_duration")),
    rule(c.ENGINE_PROMPT_TOKENS, one("tgi_request_input_length", suffix="_sum")),
    rule(c.ENGINE_GENERATION_TOKENS, one("tgi_request_generated_tokens", suffix="_sum")),
    rule(c.ENGINE_REQUESTS_FINISHED, FINISHED),
    rule(c.ENGINE_REQUEST_PROMPT_TOKENS, hist("tgi_request_input_length")),
    rule(c.ENGINE_REQUEST_GENERATION_TOKENS, hist("tgi_request_generated_tokens")),
)

KNOWN = ("tgi_batch_", "tgi_request_count", "tgi_request_max_new_tokens",
         "tgi_request_inference_duration", "tgi_request_skipped_tokens",
         "tgi_request_validation_duration")

TGI = Mapping("tgi", RULES, KNOWN, model_from_info=True)
