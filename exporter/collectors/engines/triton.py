"""Triton Inference Server: core `nv_inference_*` metrics, the TensorRT-LLM backend's
`nv_trt_llm_*` sub-label families, and the vLLM backend's `vllm:` re-export (engines.md §2.5,
§2.6, §2.13, §7).

Precedence per concept: the vLLM backend, then the TensorRT-LLM backend, then Triton core.
Sub-label families are pivoted (`request_type="waiting"` is the queue, `"max"` the capacity).
Core durations are cumulative µs counters: they become histograms known only by `_sum` (÷1e6)
and `_count` (successes + failures); the first-response histogram is in ms (÷1e3, bounds too).
Token counters come from the `_sum` of the backend's token-length histograms. The backend's
disaggregated-serving counters (`kv_cache_transfer_ms`, `request_count`: the KV transfers of the
completed requests, TensorRT-LLM `triton_backend/inflight_batcher_llm/src/model_instance_state.cc`
at 0c8de69a) are the KV-transfer duration histogram known by its sum (÷1e3) and count.
"""

from __future__ import annotations

from inferwatch import catalog as c
from inferwatch.exporter.collectors.engines.mapping import (
    PRODUCT,
    RATIO,
    SUM_COUNT,
    Mapping,
    Part,
    Source,
    compose,
    hist,
    one,
    rule,
)
from inferwatch.exporter.collectors.engines.vllm import VLLM

US, MS = 1e-6, 1e-3
REQUESTS = "nv_trt_llm_request_metrics"
BLOCKS = "nv_trt_llm_kv_cache_block_metrics"
DISAGG = "nv_trt_llm_disaggregated_serving_metrics"
FAILURES = (("REJECTED", "rejected"), ("CANCELED", "abort"), ("BACKEND", "error"),
            ("OTHER", "error"), ("", "error"))
COUNT = (Part("nv_inference_request_success"), Part("nv_inference_request_failure"))


def _pivot(family: str, label: str, value: str, op: str = "sum") -> Source:
    return one(family, op, where=((label, value),))


def _sum_count(family: str, suffix: str | None = None) -> Source:
    """A µs accumulator as a histogram of sum and count."""
    if suffix is None:
        return Source((Part(family, scale=US), *COUNT), SUM_COUNT)
    return Source((Part(family, suffix="_sum", scale=US), Part(family, suffix="_count")),
                  SUM_COUNT)


FINISHED = Source((
    Part("nv_inference_request_success", reason="other"),
    Part("nv_inference_request_failure", reason_label="reason", reasons=FAILURES),
))

KV_CAPACITY = Source((Part(BLOCKS, where=(("kv_cache_block_type", "max"),)),
                      Part(BLOCKS, where=(("kv_cache_block_type", "tokens_per"),))), PRODUCT)

# cumulative ms of the KV transfers of the requests completed with disaggregated-serving stats,
# and their count (model_instance_state.cc): a histogram known by its sum and count
KV_TRANSFER = Source((Part(DISAGG, where=(("disaggregated_serving_type", "kv_cache_transfer_ms"),),
                           scale=MS),
                      Part(DISAGG, where=(("disaggregated_serving_type", "request_count"),))),
                     SUM_COUNT)

TRTLLM_BACKEND = Mapping("triton", (
    rule(c.ENGINE_REQUESTS_RUNNING, _pivot(REQUESTS, "request_type", "active")),
    rule(c.ENGINE_REQUESTS_WAITING, _pivot(REQUESTS, "request_type", "waiting")),
    rule(c.ENGINE_REQUESTS_CAPACITY, _pivot(REQUESTS, "request_type", "max")),
    rule(c.ENGINE_KV_CACHE_USAGE, _pivot(BLOCKS, "kv_cache_block_type", "fraction", RATIO)),
    rule(c.ENGINE_KV_CACHE_CAPACITY, KV_CAPACITY),
    rule(c.ENGINE_PROMPT_TOKENS, one("nv_llm_input_token_len", suffix="_sum")),
    rule(c.ENGINE_GENERATION_TOKENS, one("nv_llm_output_token_len", suffix="_sum")),
    rule(c.ENGINE_REQUEST_PROMPT_TOKENS, hist("nv_llm_input_token_len")),
    rule(c.ENGINE_REQUEST_GENERATION_TOKENS, hist("nv_llm_output_token_len")),
    rule(c.ENGINE_KV_TRANSFER_DURATION, KV_TRANSFER),
), ("nv_trt_llm_",))

CORE = Mapping("triton", (
    rule(c.ENGINE_REQUESTS_WAITING, one("nv_inference_pending_request_count")),
    rule(c.ENGINE_TTFT, hist("nv_inference_first_response_histogram_ms", MS)),
    rule(c.ENGINE_REQUEST_DURATION, _sum_count("nv_inference_request_duration_us"),
         _sum_count("nv_inference_request_summary_us", "_sum")),
    rule(c.ENGINE_QUEUE_DURATION, _sum_count("nv_inference_queue_duration_us"),
         _sum_count("nv_inference_queue_summary_us", "_sum")),
    rule(c.ENGINE_REQUESTS_FINISHED, FINISHED),
), ("nv_inference_count", "nv_inference_exec_count", "nv_inference_compute_", "nv_gpu_",
    "nv_cpu_", "nv_energy_", "nv_pinned_memory_pool_", "nv_cache_", "nv_model_load_"))

TRITON = compose("triton", VLLM, TRTLLM_BACKEND, CORE)
