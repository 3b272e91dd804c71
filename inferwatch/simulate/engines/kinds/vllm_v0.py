"""vLLM V0 (vllm/engine/metrics.py, about 0.6 to 0.7): `model_name` only, old names, old buckets.

Written in prometheus_client's multiprocess order, as the AIBrix capture shows it: labels
sorted with `le`, `_sum` before the buckets, `_count` last, no `_created`. Prefix caching is
off, so the prefix-cache hit-rate gauges hold the `-1` sentinel.
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
    python_runtime,
)
from inferwatch.simulate.engines.load import EngineConfig
from inferwatch.simulate.engines.stats import Layout

CONFIG = EngineConfig(prefix_hit_prob=0.0)
TOKENS = buckets_1_2_5(CONFIG.max_model_len)
TTFT_V0 = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
           7.5, 10.0)
TPOT_V0 = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
E2E_V0 = (1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0)
CUDA_GRAPH = (1.0, 2.0, 4.0, *(8.0 * i for i in range(1, 33)))
LAYOUTS = {
    "iteration": Layout("iteration_tokens", CUDA_GRAPH), "ttft": Layout("ttft", TTFT_V0),
    "tpot": Layout("itl", TPOT_V0), "e2e": Layout("e2e", E2E_V0),
    "queue": Layout("queue", E2E_V0), "prompt": Layout("prompt_tokens", TOKENS),
    "generation": Layout("generation_tokens", TOKENS), "n": Layout("n", (1.0, 2.0, 5.0, 10.0,
                                                                         20.0)),
    "max_gen": Layout("generation_tokens", TOKENS)}
HISTOGRAMS = (
    ("iteration_tokens_total", "Histogram of number of tokens per engine_step.", "iteration"),
    ("time_to_first_token_seconds", "Histogram of time to first token in seconds.", "ttft"),
    ("time_per_output_token_seconds", "Histogram of time per output token in seconds.", "tpot"),
    ("e2e_request_latency_seconds", "Histogram of end to end request latency in seconds.",
     "e2e"),
    ("request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.",
     "queue"),
    ("request_prompt_tokens", "Number of prefill tokens processed.", "prompt"),
    ("request_generation_tokens", "Number of generation tokens processed.", "generation"),
    ("request_max_num_generation_tokens",
     "Histogram of maximum number of requested generation tokens.", "max_gen"),
    ("request_params_n", "Histogram of the n request parameter.", "n"))


def families(view: View) -> list[SimFamily]:
    def lb(_i: int) -> tuple[tuple[str, str], ...]:
        return (("model_name", view.model_name),)

    cfg, m0 = CONFIG, view.ranks[0]
    config_labels = (("block_size", str(cfg.block_size)), ("cache_dtype", "auto"),
                     ("enable_prefix_caching", "False"), ("gpu_memory_utilization", "0.9"),
                     ("num_cpu_blocks", "4096"),
                     ("num_gpu_blocks", str(cfg.kv_capacity_tokens // cfg.block_size)),
                     ("num_gpu_blocks_override", "None"), ("sliding_window", "None"))
    fams = [
        family("vllm:cache_config_info", "gauge", "information of cache_config",
               [(config_labels, 1.0)]),
        gauge(view, lb, "vllm:num_requests_running",
              "Number of requests currently running on GPU.", lambda m: len(m.running)),
        gauge(view, lb, "vllm:num_requests_swapped", "Number of requests swapped to CPU.",
              lambda m: 0.0),
        gauge(view, lb, "vllm:num_requests_waiting", "Number of requests waiting to be processed.",
              lambda m: len(m.waiting)),
        gauge(view, lb, "vllm:gpu_cache_usage_perc",
              "GPU KV-cache usage. 1 means 100 percent usage.", lambda m: m.kv_usage),
        gauge(view, lb, "vllm:cpu_cache_usage_perc",
              "CPU KV-cache usage. 1 means 100 percent usage.", lambda m: 0.0),
        gauge(view, lb, "vllm:cpu_prefix_cache_hit_rate", "CPU prefix cache block hit rate.",
              lambda m: -1.0),
        gauge(view, lb, "vllm:gpu_prefix_cache_hit_rate", "GPU prefix cache block hit rate.",
              lambda m: -1.0),
        gauge(view, lb, "vllm:avg_prompt_throughput_toks_per_s",
              "Average prefill throughput in tokens/s.", lambda m: m.last_prompt_tps),
        gauge(view, lb, "vllm:avg_generation_throughput_toks_per_s",
              "Average generation throughput in tokens/s.", lambda m: m.last_gen_tps),
        family("vllm:lora_requests_info", "gauge", "Running stats on lora requests.",
               [((("max_lora", "0"), ("running_lora_adapters", ""),
                  ("waiting_lora_adapters", "")), view.epoch + m0.t)]),
        counter(view, lb, "vllm:num_preemptions", "Cumulative number of preemption from the "
                "engine.", "preemptions"),
        counter(view, lb, "vllm:prompt_tokens", "Number of prefill tokens processed.",
                "prompt_tokens"),
        counter(view, lb, "vllm:generation_tokens", "Number of generation tokens processed.",
                "generation_tokens"),
        family("vllm:request_success", "counter", "Count of successfully processed requests.",
               [((("finished_reason", r), ("model_name", view.model_name)), v)
                for r, v in (("stop", finished(m0, "stop")), ("length", finished(m0, "length")),
                             ("abort", finished(m0, "abort", "error"))) if v > 0])]
    fams += [histogram(view, lb, "vllm:" + n, h, lay) for n, h, lay in HISTOGRAMS]
    return fams


def render(view: View) -> bytes:
    return python_text([*python_runtime(view), *families(view)], None,
                       hist_order="sum_bucket_count")


VLLM_V0 = Kind("vllm-v0", LAYOUTS, render, config=CONFIG,
               extra=lambda view: {"/version": {"version": "0.7.2"}})
