"""LMDeploy api_server (lmdeploy/metrics/loggers.py), metrics on by default.

vLLM's naming under `lmdeploy:`, labels model_name and engine (DP rank), `_created` series;
finish reasons are Python enum reprs, succeeded/failed counts live in gauges, and the
inter-token histogram is `lmdeploy:iter_token_latency` with no unit suffix.
"""

from __future__ import annotations

from inferwatch.simulate.engines.expo import SimFamily, family, python_text
from inferwatch.simulate.engines.kinds.base import (
    E2E,
    ITERATION,
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
from inferwatch.simulate.engines.load import EngineConfig
from inferwatch.simulate.engines.stats import Layout

CONFIG = EngineConfig()
TPOT = (0.005, *ITL)
RATIO = tuple(round(0.1 * i, 1) for i in range(11))
LAYOUTS = {"ttft": Layout("ttft", TTFT), "tpot": Layout("tpot", TPOT), "itl": Layout("itl", TPOT),
           "e2e": Layout("e2e", E2E), "queue": Layout("queue", E2E),
           "inference": Layout("inference", E2E), "prefill": Layout("prefill", E2E),
           "decode": Layout("decode", E2E), "iteration": Layout("iteration_tokens", ITERATION),
           "hit_ratio": Layout("cache_hit_ratio", RATIO)}
REASONS = (("ResponseType.FINISH", ("stop", "length")), ("ResponseType.CANCEL", ("abort",)),
           ("ResponseType.INTERNAL_ENGINE_ERROR", ("error",)))
HISTOGRAMS = (
    ("time_to_first_token_seconds", "Histogram of time to first token in seconds.", "ttft"),
    ("time_per_output_token_seconds", "Histogram of time per output token in seconds.", "tpot"),
    ("iter_token_latency", "Histogram of inter-token latency in seconds.", "itl"),
    ("e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", "e2e"),
    ("request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.",
     "queue"),
    ("request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.",
     "inference"),
    ("request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.",
     "prefill"),
    ("request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.",
     "decode"),
    ("iteration_tokens_total", "Histogram of number of tokens per engine_step.", "iteration"),
    ("request_cache_hit_ratio", "Histogram of prefix cache hit ratio per request.",
     "hit_ratio"))


def families(view: View) -> list[SimFamily]:
    def lb(i: int) -> tuple[tuple[str, str], ...]:
        return (("model_name", view.model_name), ("engine", str(i)))

    fams = [
        gauge(view, lb, "lmdeploy:num_requests_running",
              "Number of requests in model execution batches.", lambda m: len(m.running)),
        gauge(view, lb, "lmdeploy:num_requests_waiting",
              "Number of requests waiting to be processed.", lambda m: len(m.waiting)),
        gauge(view, lb, "lmdeploy:gpu_cache_usage_perc",
              "GPU KV-cache usage. 1 means 100 percent usage.", lambda m: m.kv_usage),
        gauge(view, lb, "lmdeploy:prefix_cache_hit_rate", "Prefix cache hit rate.",
              lambda m: m.stats.get("prefix_hits") / max(1.0, m.stats.get("prefix_queries"))),
        gauge(view, lb, "lmdeploy:num_requests_succeeded", "Number of successful requests.",
              lambda m: finished(m, "stop", "length")),
        gauge(view, lb, "lmdeploy:num_requests_failed", "Number of failed requests.",
              lambda m: finished(m, "abort", "error")),
        counter(view, lb, "lmdeploy:prompt_tokens", "Number of prefill tokens processed.",
                "prompt_tokens"),
        counter(view, lb, "lmdeploy:generation_tokens", "Number of generation tokens processed.",
                "generation_tokens"),
        counter(view, lb, "lmdeploy:cached_tokens", "Number of cached prompt tokens.",
                "prefix_hits"),
        family("lmdeploy:request_success", "counter", "Count of successfully processed requests.",
               [((*lb(i), ("finished_reason", name)), finished(m, *reasons))
                for i, m in enumerate(view.ranks) for name, reasons in REASONS])]
    fams += [histogram(view, lb, "lmdeploy:" + n, h, lay) for n, h, lay in HISTOGRAMS]
    return fams


def render(view: View) -> bytes:
    return python_text([*python_runtime(view), *families(view)], view.epoch)


LMDEPLOY = Kind("lmdeploy", LAYOUTS, render, config=CONFIG, data_parallel=True)
