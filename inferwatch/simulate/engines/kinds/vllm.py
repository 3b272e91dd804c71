"""vLLM V1 (`engine` label per data-parallel rank), vLLM V0, and Ray Serve LLM's re-export.

Names, HELP texts, buckets and order follow vllm/v1/metrics/loggers.py as a recent V1 release
exposes them (the kserve capture in shared/testdata/engines), vllm/engine/metrics.py for V0
(the AIBrix capture: multiprocess order, `_sum` first, no `_created`) and
vllm/v1/metrics/ray_wrappers.py for Ray (`:` sanitised to `_`, Ray's labels, `le` last).
The V1 kinds also answer `/v1/models` and `/version` as vLLM's OpenAI server does
(tests/testdata/engines/info/SOURCES.md names the source read).
"""

from __future__ import annotations

from inferwatch.simulate.engines.expo import HistValue, SimFamily, family, python_text
from inferwatch.simulate.engines.kinds.base import (
    E2E,
    ITERATION,
    ITL,
    PARAMS_N,
    TTFT,
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

CONFIG = EngineConfig()
TOKENS = buckets_1_2_5(CONFIG.max_model_len)
V1_LAYOUTS = {
    "ttft": Layout("ttft", TTFT), "itl": Layout("itl", ITL), "tpot": Layout("tpot", ITL),
    "e2e": Layout("e2e", E2E), "queue": Layout("queue", E2E),
    "inference": Layout("inference", E2E), "prefill": Layout("prefill", E2E),
    "decode": Layout("decode", E2E), "prompt": Layout("prompt_tokens", TOKENS),
    "generation": Layout("generation_tokens", TOKENS), "iteration": Layout("iteration_tokens",
                                                                           ITERATION),
    "max_gen": Layout("generation_tokens", TOKENS), "n": Layout("n", PARAMS_N),
    "max_tokens": Layout("max_tokens", TOKENS),
    "prefill_computed": Layout("prefill_computed", TOKENS)}
V1_COUNTERS = (
    ("prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.",
     "prefix_queries"),
    ("prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.",
     "prefix_hits"),
    ("num_preemptions", "Cumulative number of preemption from the engine.", "preemptions"),
    ("prompt_tokens", "Number of prefill tokens processed.", "prompt_tokens"))
V1_HISTOGRAMS = (
    ("request_prompt_tokens", "Number of prefill tokens processed.", "prompt"),
    ("request_generation_tokens", "Number of generation tokens processed.", "generation"),
    ("iteration_tokens_total", "Histogram of number of tokens per engine_step.", "iteration"),
    ("request_max_num_generation_tokens",
     "Histogram of maximum number of requested generation tokens.", "max_gen"),
    ("request_params_n", "Histogram of the n request parameter.", "n"),
    ("request_params_max_tokens", "Histogram of the max_tokens request parameter.",
     "max_tokens"),
    ("time_to_first_token_seconds", "Histogram of time to first token in seconds.", "ttft"),
    ("inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", "itl"),
    ("request_time_per_output_token_seconds",
     "Histogram of time_per_output_token_seconds per request.", "tpot"),
    ("e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", "e2e"),
    ("request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.",
     "queue"),
    ("request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.",
     "inference"),
    ("request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.",
     "prefill"),
    ("request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.",
     "decode"),
    ("request_prefill_kv_computed_tokens",
     "Histogram of new KV tokens computed during prefill (excluding cached tokens).",
     "prefill_computed"))
REASONS_V1 = ("stop", "length", "abort", "error", "repetition")


def v1_families(view: View, prefix: str, extra: tuple[tuple[str, str], ...]) -> list[SimFamily]:
    """Every V1 family under `prefix`, each child labelled model_name, engine and `extra`."""
    def lb(i: int) -> tuple[tuple[str, str], ...]:
        return (("model_name", view.model_name), ("engine", str(i)), *extra)

    cfg, ranks = CONFIG, view.ranks
    fams = [
        gauge(view, lb, prefix + "num_requests_running",
              "Number of requests in model execution batches.", lambda m: len(m.running)),
        gauge(view, lb, prefix + "num_requests_waiting",
              "Number of requests waiting to be processed.", lambda m: len(m.waiting)),
        family(prefix + "engine_sleep_state", "gauge",
               "Engine sleep state; awake = 0 means engine is sleeping; awake = 1 means engine "
               "is awake; weights_offloaded = 1 means sleep level 1; discard_all = 1 means "
               "sleep level 2.",
               [((*lb(i), ("sleep_state", s)), float(s == "awake")) for i in range(len(ranks))
                for s in ("awake", "weights_offloaded", "discard_all")]),
        gauge(view, lb, prefix + "kv_cache_usage_perc",
              "KV-cache usage. 1 means 100 percent usage.", lambda m: m.kv_usage)]
    fams += [counter(view, lb, prefix + n, h, k) for n, h, k in V1_COUNTERS]
    fams += [
        family(prefix + "prompt_tokens_by_source", "counter", "Number of prompt tokens by source.",
               [((*lb(i), ("source", src)), m.stats.get(key)) for i, m in enumerate(ranks)
                for src, key in (("local_compute", "prompt_compute_tokens"),
                                 ("local_cache_hit", "prefix_hits"),
                                 ("external_kv_transfer", "external"))]),
        counter(view, lb, prefix + "prompt_tokens_cached",
                "Number of cached prompt tokens (local + external).", "prefix_hits"),
        counter(view, lb, prefix + "prompt_tokens_recomputed",
                "Number of cached tokens recomputed for forward pass.", "recomputed_tokens"),
        counter(view, lb, prefix + "generation_tokens", "Number of generation tokens processed.",
                "generation_tokens"),
        family(prefix + "request_success", "counter", "Count of successfully processed requests.",
               [((*lb(i), ("finished_reason", r)), finished(m, r)) for i, m in enumerate(ranks)
                for r in REASONS_V1])]
    fams += [histogram(view, lb, prefix + n, h, lay) for n, h, lay in V1_HISTOGRAMS]
    fams.append(family(prefix + "cache_config_info", "gauge",
                       "Information of the LLMEngine CacheConfig",
                       [((("block_size", str(cfg.block_size)), ("cache_dtype", "auto"),
                          ("enable_prefix_caching", "True"), ("engine", str(i)),
                          ("gpu_memory_utilization", "0.9"),
                          ("num_gpu_blocks", str(cfg.kv_capacity_tokens // cfg.block_size)),
                          ("num_gpu_blocks_override", "None"), ("sliding_window", "None")),
                         1.0) for i in range(len(ranks))]))
    return fams


def render_v1(view: View) -> bytes:
    return python_text([*python_runtime(view), *v1_families(view, "vllm:", ())], view.epoch)


KV_BYTES_PER_TOKEN = 131_072  # an 8B model's KV per token (32 layers x 2 x 8 heads x 128 x 2 B)


def nixl_families(view: View) -> list[SimFamily]:
    """A decode engine's NIXL connector families (nixl_connector.py `NixlPromMetrics`): each
    prompt token pulled is KV_BYTES_PER_TOKEN bytes, a transfer per first token; transfer
    durations are the TTFT histogram scaled down (a pull is part of the first token's wait)."""
    def lb(i: int) -> tuple[tuple[str, str], ...]:
        return (("model_name", view.model_name), ("engine", str(i)))

    ttft = [HistValue.of(m.stats.hists["ttft"]) for m in view.ranks]
    xfer = [(lb(i), HistValue(tuple(b * 0.05 for b in h.bounds), h.cumulative, h.sum * 0.05))
            for i, h in enumerate(ttft)]
    sizes = [(lb(i), HistValue((float(1 << 30),), (h.count, h.count),
                               m.stats.get("prompt_tokens") * KV_BYTES_PER_TOKEN))
             for i, (h, m) in enumerate(zip(ttft, view.ranks, strict=True))]
    zero = [(lb(i), 0.0) for i in range(len(view.ranks))]
    return [
        family("vllm:nixl_xfer_time_seconds", "histogram", "Histogram of transfer duration for "
               "NIXL KV Cache transfers.", xfer),
        family("vllm:nixl_bytes_transferred", "histogram", "Histogram of bytes transferred per "
               "NIXL KV Cache transfers.", sizes),
        *(family("vllm:" + n, "counter", h, zero) for n, h in (
            ("nixl_num_failed_transfers", "Number of failed NIXL KV Cache transfers."),
            ("nixl_num_failed_notifications", "Number of failed NIXL KV Cache notifications."),
            ("nixl_num_kv_expired_reqs", "Number of requests that had their KV expire.")))]


def render_nixl(view: View) -> bytes:
    return python_text([*python_runtime(view), *v1_families(view, "vllm:", ()),
                        *nixl_families(view)], view.epoch)


def ray_labels(view: View) -> tuple[tuple[str, str], ...]:
    return (("Component", "core_worker"), ("NodeAddress", "10.0.4.17"),
            ("ReplicaId", "llm-server-0"), ("SessionName", "session_2026-01-05_09-12-44_1234"),
            ("Version", "2.49.0"), ("WorkerId", "5f2a0c9e8d7b6a5f4e3d2c1b0a99887766554433"))


def render_ray(view: View) -> bytes:
    return python_text(v1_families(view, "ray_vllm_", ray_labels(view)), None, le_last=True)


def info(view: View) -> dict[str, dict]:
    """`/v1/models`: `ModelList.model_dump()` of the base model's `ModelCard` (id, root and
    max_model_len set by `show_available_models`, one default `ModelPermission`); `/version`:
    `{"version": VLLM_VERSION}`."""
    created = int(view.epoch)
    permission = {"id": "modelperm-9f1c2e4b7a3d4c6e8b0a1f2d3c4b5a69", "object": "model_permission",
                  "created": created, "allow_create_engine": False, "allow_sampling": True,
                  "allow_logprobs": True, "allow_search_indices": False, "allow_view": True,
                  "allow_fine_tuning": False, "organization": "*", "group": None,
                  "is_blocking": False}
    card = {"id": view.model_name, "object": "model", "created": created, "owned_by": "vllm",
            "root": view.model_name, "parent": None, "max_model_len": CONFIG.max_model_len,
            "permission": [permission]}
    return {"/v1/models": {"object": "list", "data": [card]}, "/version": {"version": "0.11.0"}}


VLLM = Kind("vllm", V1_LAYOUTS, render_v1, config=CONFIG, data_parallel=True, extra=info)
RAY_VLLM = Kind("ray-vllm", V1_LAYOUTS, render_ray, config=CONFIG, data_parallel=True)
VLLM_NIXL = Kind("vllm-nixl-decode", V1_LAYOUTS, render_nixl, config=CONFIG, data_parallel=True,
                 extra=info)
