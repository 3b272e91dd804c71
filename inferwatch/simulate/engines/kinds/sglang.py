"""SGLang (python/sglang/srt/observability/metrics_collector.py), `--enable-metrics` on.

Scheduler families carry model_name, engine_type, tp_rank, pp_rank (and dp_rank with data
parallelism); tokenizer families carry model_name only and see every rank. SGLang runs
prometheus_client in multiprocess mode: sorted labels, `_sum` first, no `_created`.
`sglang-prefill` and `sglang-decode` are the two halves of a disaggregated deployment
(`--disaggregation-mode`): `engine_type` says the mode, the PD queues hold part of the
waiting requests (prefill: prealloc = bootstrap, inflight = transfers of finished prefills;
decode: prealloc, transfer), the KV-transfer gauges are the latest transfers' mean. In
`unified` mode SGLang logs the PD gauges as 0, as here. `sglang-spec` is a unified engine
with speculative decoding (`--speculative-algorithm EAGLE`, 3 steps): the gauges
`spec_accept_length` (accepted tokens per verify step, the bonus token included) and
`spec_accept_rate` (accepted over drafted tokens), of the last decode batch.
"""

from __future__ import annotations

from dataclasses import replace

from inferwatch.simulate.engines.expo import SimFamily, family, python_text
from inferwatch.simulate.engines.kinds.base import (
    Kind,
    View,
    counter,
    gauge,
    histogram,
    merged,
    python_runtime,
    total,
)
from inferwatch.simulate.engines.load import EngineConfig
from inferwatch.simulate.engines.stats import Layout

CONFIG = EngineConfig()
TTFT = (0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 2.0, 4.0, 6.0, 8.0, 10.0, 20.0, 40.0, 60.0, 80.0, 100.0,
        200.0, 400.0)
ITL = (0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.06, 0.08,
       0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 2.0, 4.0, 6.0, 8.0)
E2E = (0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 2.0, 4.0, 6.0, 8.0, 10.0, 20.0, 40.0, 60.0, 80.0, 100.0,
       200.0, 400.0, 600.0, 1200.0, 1800.0, 2400.0)
QUEUE = (0.0, 0.1, 0.2, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 15.0, 20.0,
         *(float(s) for s in range(30, 101, 10)), *(float(s) for s in range(200, 1001, 100)),
         1200.0, 1400.0, 1600.0, 1800.0, 2000.0, 2500.0, 3000.0)
LAYOUTS = {"ttft": Layout("ttft", TTFT), "itl": Layout("itl", ITL), "e2e": Layout("e2e", E2E),
           "queue": Layout("queue", QUEUE)}


PD_QUEUES = {"prefill": ("num_prefill_prealloc_queue_reqs", "num_prefill_inflight_queue_reqs"),
             "decode": ("num_decode_prealloc_queue_reqs", "num_decode_transfer_queue_reqs")}


def pd_families(view: View, lb, mode: str) -> list[SimFamily]:
    """The disaggregation gauges and counters; the queues split the load model's waiting
    requests, a transfer per running request's prompt."""
    def queue(name: str, share: int):
        def value(m) -> float:
            return float(len(m.waiting) // share) if mode != "unified" and \
                name in PD_QUEUES[mode] else 0.0
        return value

    names = [n for pair in PD_QUEUES.values() for n in pair]
    fams = [gauge(view, lb, "sglang:" + n, f"The number of requests in the {n[4:-11]} queue.",
                  queue(n, 2 + k % 2)) for k, n in enumerate(names)]
    busy = mode != "unified"
    fams += [
        gauge(view, lb, "sglang:kv_transfer_speed_gb_s", "The transfer speed of the KV cache in "
              "GB/s.", lambda m: 18.5 if busy and m.running else 0.0),
        gauge(view, lb, "sglang:kv_transfer_latency_ms", "The transfer latency of the KV cache "
              "in ms.", lambda m: 4.0 + 0.5 * len(m.running) if busy and m.running else 0.0),
        family("sglang:num_transfer_failed_reqs", "counter", "The number of transfer failed "
               "requests.", [(lb(i), 0.0) for i in range(len(view.ranks))]),
        family("sglang:num_bootstrap_failed_reqs", "counter", "The number of bootstrap failed "
               "requests.", [(lb(i), 0.0) for i in range(len(view.ranks))])]
    return fams


def spec_families(view: View, lb) -> list[SimFamily]:
    """SchedulerMetricsCollector's speculative-decoding gauges (collector.py @00ae9c15)."""
    def length(m) -> float:
        drafts, accepted, _ = m.spec_last
        return 1.0 + accepted / drafts if drafts else 0.0

    def rate(m) -> float:
        _, accepted, drafted = m.spec_last
        return accepted / drafted if drafted else 0.0

    return [gauge(view, lb, "sglang:spec_accept_length", "The average acceptance length of "
                  "speculative decoding.", length),
            gauge(view, lb, "sglang:spec_accept_rate", "The average acceptance rate of "
                  "speculative decoding (`accepted tokens / total draft tokens` in batch).", rate)]


def scheduler_families(view: View, mode: str = "unified", spec: bool = False) -> list[SimFamily]:
    def lb(i: int) -> tuple[tuple[str, str], ...]:
        dp = (("dp_rank", str(i)),) if len(view.ranks) > 1 else ()
        return (("model_name", view.model_name), ("engine_type", mode), ("tp_rank", "0"),
                ("pp_rank", "0"), *dp)

    cap = float(CONFIG.kv_capacity_tokens)
    return [
        gauge(view, lb, "sglang:num_running_reqs", "The number of running requests.",
              lambda m: len(m.running)),
        gauge(view, lb, "sglang:num_used_tokens", "The number of used tokens.",
              lambda m: m.kv_used),
        gauge(view, lb, "sglang:token_usage", "The token usage.", lambda m: m.kv_usage),
        gauge(view, lb, "sglang:max_total_num_tokens",
              "Maximum total number of tokens in the KV cache pool.", lambda m: cap),
        gauge(view, lb, "sglang:gen_throughput", "The generation throughput (token/s).",
              lambda m: m.last_gen_tps),
        gauge(view, lb, "sglang:num_queue_reqs", "The number of requests in the waiting queue.",
              lambda m: len(m.waiting)),
        gauge(view, lb, "sglang:num_grammar_queue_reqs",
              "The number of requests in the grammar waiting queue.", lambda m: 0.0),
        gauge(view, lb, "sglang:cache_hit_rate", "The prefix cache hit rate.",
              lambda m: m.stats.get("prefix_hits") / max(1.0, m.stats.get("prefix_queries"))),
        *(spec_families(view, lb) if spec else ()),
        counter(view, lb, "sglang:num_retracted_requests",
                "Total number of retracted requests due to kv cache pressure.", "preemptions"),
        counter(view, lb, "sglang:num_retracted_input_tokens",
                "Total number of retracted input tokens.", "preempted_tokens"),
        histogram(view, lb, "sglang:queue_time_seconds",
                  "Histogram of queueing time in seconds.", "queue"),
        family("sglang:cache_config_info", "gauge", "Cache configuration info.",
               [((*lb(i), ("num_pages", str(int(cap))), ("page_size", "1")), 1.0)
                for i in range(len(view.ranks))]),
        *pd_families(view, lb, mode)]


def tokenizer_families(view: View) -> list[SimFamily]:
    lb = (("model_name", view.model_name),)
    aborted = total(view, "finished_abort") + total(view, "finished_error")
    return [
        family("sglang:prompt_tokens", "counter", "Number of prefill tokens processed.",
               [(lb, total(view, "prompt_tokens"))]),
        family("sglang:generation_tokens", "counter", "Number of generation tokens processed.",
               [(lb, total(view, "generation_tokens"))]),
        family("sglang:num_requests", "counter", "Number of requests processed.",
               [(lb, sum(total(view, "finished_" + r) for r in ("stop", "length", "abort",
                                                                 "error")))]),
        family("sglang:num_aborted_requests", "counter", "Number of requests aborted.",
               [(lb, aborted)]),
        family("sglang:time_to_first_token_seconds", "histogram",
               "Histogram of time to first token in seconds.", [(lb, merged(view, "ttft"))]),
        family("sglang:inter_token_latency_seconds", "histogram",
               "Histogram of inter-token latency in seconds.", [(lb, merged(view, "itl"))]),
        family("sglang:e2e_request_latency_seconds", "histogram",
               "Histogram of End-to-end request latency in seconds", [(lb, merged(view, "e2e"))])]


def renderer(mode: str, spec: bool = False):
    def render(view: View) -> bytes:
        fams = [*python_runtime(view), *scheduler_families(view, mode, spec),
                *tokenizer_families(view)]
        return python_text(fams, None, hist_order="sum_bucket_count")
    return render


def _info(view: View) -> dict[str, dict]:
    """`/get_server_info` as http_server.py builds it: `dataclasses.asdict(server_args)` (a
    subset: what a launch with `--dtype bfloat16` and defaults otherwise says; unset arguments
    are null), the scheduler's info, `internal_states` and `version`."""
    cap = CONFIG.kv_capacity_tokens
    return {"/get_server_info": {
        "model_path": view.model_name, "tokenizer_path": view.model_name,
        "served_model_name": view.model_name, "dtype": "bfloat16", "kv_cache_dtype": "auto",
        "quantization": None, "context_length": None, "page_size": 1, "tp_size": 1,
        "pp_size": 1, "dp_size": len(view.ranks), "mem_fraction_static": 0.88,
        "max_running_requests": None, "chunked_prefill_size": 8192, "enable_metrics": True,
        "max_total_num_tokens": cap, "max_req_input_len": CONFIG.max_model_len - 7,
        "internal_states": [{"last_gen_throughput": round(m.last_gen_tps, 3),
                             "memory_usage": {"weight": 15.1, "kvcache": 8.0}}
                            for m in view.ranks],
        "version": "0.5.4"}}


SGLANG = Kind("sglang", LAYOUTS, renderer("unified"), config=CONFIG, data_parallel=True,
              extra=_info)
SGLANG_PREFILL = Kind("sglang-prefill", LAYOUTS, renderer("prefill"), config=CONFIG,
                      data_parallel=True, extra=_info)
SGLANG_DECODE = Kind("sglang-decode", LAYOUTS, renderer("decode"), config=CONFIG,
                     data_parallel=True, extra=_info)
SGLANG_SPEC = Kind("sglang-spec", LAYOUTS, renderer("unified", spec=True),
                   config=replace(CONFIG, spec_tokens=3, spec_accept=0.7), data_parallel=True,
                   extra=_info)
