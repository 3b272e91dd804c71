"""TensorRT-LLM `trtllm-serve` (tensorrt_llm/metrics/collector.py), at /prometheus/metrics.

`trtllm_` names with labels model_name and engine_type, vLLM 0.10 buckets, prometheus_client
exposition with `_created`. KV figures are in blocks as well as a 0..1 utilisation. The same
server answers `/version` (`{"version": VERSION}`, tensorrt_llm/serve/openai_server.py).
"""

from __future__ import annotations

import math

from inferwatch.simulate.engines.expo import SimFamily, family, python_text
from inferwatch.simulate.engines.kinds.base import (
    E2E,
    ITL,
    TTFT,
    Kind,
    View,
    counter,
    finished,
    gauge,
    histogram,
    python_runtime,
)
from inferwatch.simulate.engines.load import EngineConfig, LoadModel
from inferwatch.simulate.engines.stats import Layout

CONFIG = EngineConfig(block_size=32)
MAX_BLOCKS = CONFIG.kv_capacity_tokens // CONFIG.block_size
LAYOUTS = {"ttft": Layout("ttft", TTFT), "tpot": Layout("tpot", ITL), "e2e": Layout("e2e", E2E),
           "queue": Layout("queue", E2E), "prefill": Layout("prefill", TTFT),
           "decode": Layout("decode", E2E), "inference": Layout("inference", E2E)}
HISTOGRAMS = (
    ("trtllm_time_to_first_token_seconds", "Histogram of time to first token in seconds.",
     "ttft"),
    ("trtllm_time_per_output_token_seconds", "Histogram of time per output token in seconds.",
     "tpot"),
    ("trtllm_e2e_request_latency_seconds", "Histogram of end to end request latency in seconds.",
     "e2e"),
    ("trtllm_request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.",
     "queue"),
    ("trtllm_request_prefill_time_seconds",
     "Histogram of time spent in PREFILL phase for request.", "prefill"),
    ("trtllm_request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.",
     "decode"),
    ("trtllm_request_inference_time_seconds",
     "Histogram of time spent in RUNNING phase for request.", "inference"))


def used_blocks(m: LoadModel) -> float:
    return float(min(MAX_BLOCKS, math.ceil(m.kv_used / CONFIG.block_size)))


def families(view: View) -> list[SimFamily]:
    def lb(_i: int) -> tuple[tuple[str, str], ...]:
        return (("model_name", view.model_name), ("engine_type", "trtllm"))

    gauges = (
        ("trtllm_num_requests_running", "Number of requests currently running.",
         lambda m: len(m.running)),
        ("trtllm_num_requests_waiting", "Number of requests waiting to be processed.",
         lambda m: len(m.waiting)),
        ("trtllm_kv_cache_utilization", "KV cache utilization (0..1).",
         lambda m: used_blocks(m) / MAX_BLOCKS),
        ("trtllm_kv_cache_max_blocks", "Maximum number of KV cache blocks.",
         lambda m: float(MAX_BLOCKS)),
        ("trtllm_kv_cache_free_blocks", "Number of free KV cache blocks.",
         lambda m: MAX_BLOCKS - used_blocks(m)),
        ("trtllm_kv_cache_used_blocks", "Number of used KV cache blocks.", used_blocks),
        ("trtllm_kv_cache_tokens_per_block", "Number of tokens per KV cache block.",
         lambda m: float(CONFIG.block_size)),
        ("trtllm_max_batch_size_static", "Static maximum batch size.",
         lambda m: float(CONFIG.max_running)),
        ("trtllm_num_context_requests", "Number of context (prefill) requests.",
         lambda m: m.prefilling),
        ("trtllm_num_generation_requests", "Number of generation requests.",
         lambda m: len(m.running) - m.prefilling),
        ("trtllm_iteration_latency_seconds", "Latency of the last iteration in seconds.",
         lambda m: m.last_itl))
    fams = [gauge(view, lb, n, h, f) for n, h, f in gauges]
    fams += [
        counter(view, lb, "trtllm_prompt_tokens", "Number of prefill tokens processed.",
                "prompt_tokens"),
        counter(view, lb, "trtllm_generation_tokens", "Number of generation tokens processed.",
                "generation_tokens"),
        family("trtllm_request_success", "counter", "Count of successfully processed requests.",
               [((*lb(0), ("finished_reason", r)), finished(view.ranks[0], r))
                for r in ("stop", "length", "abort", "error")])]
    fams += [histogram(view, lb, n, h, lay) for n, h, lay in HISTOGRAMS]
    return fams


def render(view: View) -> bytes:
    return python_text([*python_runtime(view), *families(view)], view.epoch)


TRTLLM_SERVE = Kind("trtllm-serve", LAYOUTS, render, metrics_path="/prometheus/metrics",
                    config=CONFIG, extra=lambda view: {"/version": {"version": "1.2.0rc1"}})
