"""Hugging Face TGI (router/src/server.rs, backends/v3), Rust metrics-exporter-prometheus.

No model label; counters without `_total`; `*_duration` histograms in seconds on 35 geometric
buckets; token histograms on 100 linear buckets; a blank line after every family; one gauge
(`tgi_batch_current_max_tokens`) with a TYPE line and no HELP, because it is described under
another name. No TTFT, KV usage or preemption metric exists.
"""

from __future__ import annotations

from inferwatch.simulate.engines.expo import HistValue, SimFamily, family, rust_text
from inferwatch.simulate.engines.kinds.base import (
    Kind,
    View,
    counter,
    finished,
    gauge,
    histogram,
    total,
)
from inferwatch.simulate.engines.load import EngineConfig
from inferwatch.simulate.engines.stats import Layout

CONFIG = EngineConfig(kv_capacity_tokens=49152)
MAX_INPUT, MAX_TOTAL = 7680, 8192
DURATION = tuple(0.0001 * 1.5 ** k for k in range(1, 36))
LAYOUTS = {
    "e2e": Layout("e2e", DURATION), "queue": Layout("queue", DURATION),
    "inference": Layout("inference", DURATION), "tpot": Layout("tpot", DURATION),
    "prefill": Layout("prefill", DURATION), "decode": Layout("itl", DURATION),
    "input": Layout("prompt_tokens", tuple(MAX_INPUT / 100 * (x + 1) for x in range(100))),
    "generated": Layout("generation_tokens",
                        tuple(MAX_TOTAL / 100 * (x + 1) for x in range(100))),
    "max_new": Layout("max_tokens", tuple(MAX_TOTAL / 100 * (x + 1) for x in range(100))),
    "next_size": Layout("batch_next", tuple(float(x) for x in range(1, 1025)))}
HISTOGRAMS = (
    ("tgi_request_duration", "Request duration", "e2e"),
    ("tgi_request_queue_duration", "Time spend in the queue", "queue"),
    ("tgi_request_inference_duration", "Request inference duration", "inference"),
    ("tgi_request_mean_time_per_token_duration", "Mean time per token per request", "tpot"),
    ("tgi_request_input_length", "Input token length per request", "input"),
    ("tgi_request_generated_tokens", "Generated tokens per request", "generated"),
    ("tgi_request_max_new_tokens", "Maximum new tokens per request", "max_new"),
    ("tgi_batch_next_size", "Batch size of the next batch", "next_size"))


def families(view: View) -> list[SimFamily]:
    def lb(_i: int) -> tuple[tuple[str, str], ...]:
        return ()

    m0 = view.ranks[0]
    steps = total(view, "steps")
    fams = [
        counter(view, lb, "tgi_request_count", "Total number of requests", "requests_received"),
        family("tgi_request_success", "counter", "Number of successful requests",
               [((), finished(m0, "stop", "length"))]),
        family("tgi_batch_inference_count", "counter",
               "Inference calls per method (prefill or decode)",
               [((("method", "prefill"),), steps), ((("method", "decode"),), steps)]),
        family("tgi_batch_inference_success", "counter",
               "Number of successful inference calls per method",
               [((("method", "prefill"),), steps), ((("method", "decode"),), steps)]),
        gauge(view, lb, "tgi_queue_size", "Current queue size", lambda m: len(m.waiting)),
        gauge(view, lb, "tgi_batch_current_size", "Current batch size", lambda m: len(m.running)),
        gauge(view, lb, "tgi_batch_current_max_tokens", None, lambda m: m.kv_used),
        gauge(view, lb, "tgi_batch_max_total_tokens", "Maximum tokens for the current batch",
              lambda m: CONFIG.kv_capacity_tokens)]
    failed = finished(m0, "error")
    if failed:
        fams.append(family("tgi_request_failure", "counter", "Number of failed requests",
                           [((("err", "generation"),), failed)]))
    fams += [histogram(view, lb, n, h, lay) for n, h, lay in HISTOGRAMS]
    fams.append(family("tgi_batch_inference_duration", "histogram", "Batch inference duration",
                       [((("method", meth),), HistValue.of(m0.stats.hists[lay]))
                        for meth, lay in (("prefill", "prefill"), ("decode", "decode"))]))
    return fams


def render(view: View) -> bytes:
    return rust_text(families(view))


TGI = Kind("tgi", LAYOUTS, render, config=CONFIG, extra=lambda view: {
    "/info": {"model_id": view.model_name, "version": "3.3.4", "max_input_tokens": MAX_INPUT,
              "max_total_tokens": MAX_TOTAL, "router": "text-generation-router",
              "model_sha": None, "model_pipeline_tag": "text-generation", "sha": None,
              "docker_label": None}})
