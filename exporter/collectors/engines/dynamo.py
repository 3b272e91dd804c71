"""NVIDIA Dynamo: its HTTP frontend (`dynamo_frontend_*`, lib/llm/src/http/service/metrics.rs)
and its workers (`dynamo_component_*`, lib/runtime/src/metrics/prometheus_names.rs), whose
pages also carry the engine they run (vLLM, SGLang or TRT-LLM names, passed through).

Frontend: running is `inflight_requests` minus `queued_requests` (a request is queued from the
handler's start until its first token, inflight until its response ends, so the queued ones
are a subset), waiting is `queued_requests`; TTFT, ITL and request duration are histograms with
a `model` label; prompt and cached tokens come from the `_sum` of the per-request histograms
(they advance when a request's first token is out); `requests_total{status,error_type}` gives
the finished requests: success as `other` (Dynamo does not say stop or length), cancelled as
`abort`, refusals (validation, not_found, overload, unavailable, not_implemented) as
`rejected`, the rest as `error`.

Workers: the passed-through engine's own names take precedence; Dynamo's KV stats
(`kvstats_gpu_cache_usage_percent`, a 0..1 ratio despite its name, weighted by
`kvstats_total_blocks`) and the work handler's request duration only stand in for them.
A worker running SGLang says its role in `engine_type`; the disaggregation concepts of the
passed-through engine (queues, KV transfer) come with its rules.
"""

from __future__ import annotations

from inferwatch import catalog as c
from inferwatch.exporter.collectors.engines.mapping import (
    RATIO,
    Mapping,
    Part,
    Source,
    compose,
    hist,
    one,
    rule,
)
from inferwatch.exporter.collectors.engines.sglang import SGLANG
from inferwatch.exporter.collectors.engines.trtllm import TRTLLM
from inferwatch.exporter.collectors.engines.vllm import VLLM

FRONTEND = "dynamo_frontend_"
COMPONENT = "dynamo_component_"
ERRORS = (("cancelled", "abort"), ("validation", "rejected"), ("not_found", "rejected"),
          ("overload", "rejected"), ("unavailable", "rejected"),
          ("not_implemented", "rejected"), ("response_timeout", "error"),
          ("internal", "error"), ("", "error"))


def _f(name: str) -> str:
    return FRONTEND + name


def _running(inflight: str) -> Source:
    return Source((Part(_f(inflight)), Part(_f("queued_requests"), sign=-1.0)))


FINISHED = Source((
    Part(_f("requests"), where=(("status", "success"),), reason="other"),
    Part(_f("requests"), where=(("status", "error"),), reason_label="error_type",
         reasons=ERRORS),
))
KV_BLOCKS = one(COMPONENT + "kvstats_total_blocks")

FRONTEND_RULES = (
    rule(c.ENGINE_REQUESTS_RUNNING, _running("inflight_requests"),
         _running("active_requests")),
    rule(c.ENGINE_REQUESTS_WAITING, one(_f("queued_requests"))),
    rule(c.ENGINE_TTFT, hist(_f("time_to_first_token_seconds"))),
    rule(c.ENGINE_ITL, hist(_f("inter_token_latency_seconds"))),
    rule(c.ENGINE_REQUEST_DURATION, hist(_f("request_duration_seconds"))),
    rule(c.ENGINE_PROMPT_TOKENS, one(_f("input_sequence_tokens"), suffix="_sum")),
    rule(c.ENGINE_GENERATION_TOKENS, one(_f("output_tokens"))),
    rule(c.ENGINE_PROMPT_CACHED_TOKENS, one(_f("cached_tokens"), suffix="_sum")),
    rule(c.ENGINE_REQUESTS_FINISHED, FINISHED),
    rule(c.ENGINE_REQUEST_PROMPT_TOKENS, hist(_f("input_sequence_tokens"))),
    rule(c.ENGINE_REQUEST_GENERATION_TOKENS, hist(_f("output_sequence_tokens"))),
)

WORKER_RULES = (
    rule(c.ENGINE_KV_CACHE_USAGE, Source((Part(COMPONENT + "kvstats_gpu_cache_usage_percent"),),
                                         RATIO, weight=KV_BLOCKS)),
    rule(c.ENGINE_PREFIX_HIT_RATIO, one(COMPONENT + "kvstats_gpu_prefix_cache_hit_rate", RATIO)),
    rule(c.ENGINE_REQUEST_DURATION, hist(COMPONENT + "request_duration_seconds")),
)

KNOWN = tuple(_f(n) for n in (
    "requests_started", "disconnected_clients", "tokenizer_latency_ms", "embedding_latency_",
    "images_per_request", "videos_per_request", "audio_per_request",
    "image_tokens_per_request", "model_", "worker_", "lora_", "router_", "stage_",
    "kv_hit_rate", "kv_transfer_", "shared_cache_", "tokenize_seconds", "template_seconds",
    "detokenize_", "event_loop_")) + (COMPONENT, "dynamo_", "nats_", "tokio_")

DYNAMO = compose("dynamo", Mapping("dynamo", FRONTEND_RULES), VLLM, SGLANG, TRTLLM,
                 Mapping("dynamo", WORKER_RULES), known=KNOWN,
                 model_labels=SGLANG.model_labels, role_label=SGLANG.role_label,
                 roles=SGLANG.roles)
