"""NVIDIA NIM for LLMs 1.0 (the DataDog integrations-core capture's inventory).

vLLM-V0-derived names with no prefix and a `model_name` label, V0 buckets, written in
prometheus_client's multiprocess order (`_sum` first, no `_created`).
"""

from __future__ import annotations

from inferwatch.simulate.engines.expo import SimFamily, family, python_text
from inferwatch.simulate.engines.kinds.base import (
    Kind,
    View,
    buckets_1_2_5,
    counter,
    finished,
    gauge,
    histogram,
)
from inferwatch.simulate.engines.kinds.vllm_v0 import E2E_V0, TPOT_V0, TTFT_V0
from inferwatch.simulate.engines.load import EngineConfig
from inferwatch.simulate.engines.stats import Layout

CONFIG = EngineConfig(max_running=256)
TOKENS = buckets_1_2_5(CONFIG.max_model_len)
LAYOUTS = {"ttft": Layout("ttft", TTFT_V0), "tpot": Layout("itl", TPOT_V0),
           "e2e": Layout("e2e", E2E_V0), "prompt": Layout("prompt_tokens", TOKENS),
           "generation": Layout("generation_tokens", TOKENS)}


def families(view: View) -> list[SimFamily]:
    def lb(_i: int) -> tuple[tuple[str, str], ...]:
        return (("model_name", view.model_name),)

    m0 = view.ranks[0]
    return [
        gauge(view, lb, "num_requests_running", "Number of requests currently running on GPU.",
              lambda m: len(m.running)),
        gauge(view, lb, "num_requests_waiting", "Number of requests waiting to be processed.",
              lambda m: len(m.waiting)),
        gauge(view, lb, "num_request_max",
              "Max number of concurrently running requests.", lambda m: CONFIG.max_running),
        gauge(view, lb, "gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage.",
              lambda m: m.kv_usage),
        counter(view, lb, "prompt_tokens", "Number of prefill tokens processed.",
                "prompt_tokens"),
        counter(view, lb, "generation_tokens", "Number of generation tokens processed.",
                "generation_tokens"),
        histogram(view, lb, "time_to_first_token_seconds",
                  "Histogram of time to first token in seconds.", "ttft"),
        histogram(view, lb, "time_per_output_token_seconds",
                  "Histogram of time per output token in seconds.", "tpot"),
        histogram(view, lb, "e2e_request_latency_seconds",
                  "Histogram of end to end request latency in seconds.", "e2e"),
        histogram(view, lb, "request_prompt_tokens", "Number of prefill tokens processed.",
                  "prompt"),
        histogram(view, lb, "request_generation_tokens",
                  "Number of generation tokens processed.", "generation"),
        family("request_finish", "counter", "Count of finished requests by reason.",
               [((("finished_reason", r), *lb(0)), finished(m0, r))
                for r in ("stop", "length", "abort", "error")]),
        family("request_success", "counter", "Count of successfully processed requests.",
               [(lb(0), finished(m0, "stop", "length"))]),
        family("request_failure", "counter", "Count of failed requests.",
               [(lb(0), finished(m0, "abort", "error"))])]


def render(view: View) -> bytes:
    return python_text(families(view), None, hist_order="sum_bucket_count")


NIM = Kind("nim", LAYOUTS, render, config=CONFIG,
           extra=lambda view: {"/v1/version": {"release": "1.0.0", "api": "1.0.0"}})
