"""Triton Inference Server core metrics, and the TensorRT-LLM backend's `nv_trt_llm_*`.

prometheus-cpp exposition (core/src/metrics.cc, metric_model_reporter.cc): labels in
std::map order, counters without `_total`, cumulative durations in integer microseconds,
`_count` and `_sum` before the buckets with `le` last, and the opt-in
`nv_inference_first_response_histogram_ms` (milliseconds, buckets 100/500/2000/5000).
The TRT-LLM backend (custom_metrics_reporter.cc) adds gauge families split by a sub-type label
in the order its README shows, and token-length histograms; its engine queue is
`request_type="waiting"`, while Triton's own pending count stays near 0.
"""

from __future__ import annotations

import math

from inferwatch.simulate.engines.expo import HistValue, SimFamily, cpp_text, family
from inferwatch.simulate.engines.kinds.base import Kind, View, finished, total
from inferwatch.simulate.engines.load import EngineConfig, LoadModel
from inferwatch.simulate.engines.stats import Layout

CONFIG = EngineConfig(block_size=64)
MAX_BLOCKS = CONFIG.kv_capacity_tokens // CONFIG.block_size
GPU_UUID = "GPU-8f1c2a3b-4d5e-6f70-8192-a3b4c5d6e7f8"
CORE_LAYOUTS = {"ttft_ms": Layout("ttft", (100.0, 500.0, 2000.0, 5000.0), 1000.0)}
TRT_LAYOUTS = {**CORE_LAYOUTS,
               "input_len": Layout("prompt_tokens", (10.0, 50.0, 100.0, 500.0, 1000.0)),
               "output_len": Layout("generation_tokens", (10.0, 50.0, 100.0, 500.0, 1000.0))}


def core_families(view: View, engine_queue: bool) -> list[SimFamily]:
    """nv_inference_*: `engine_queue` when Triton's scheduler is the queue (no LLM batcher)."""
    m = view.ranks[0]
    lb = (("model", view.model_name), ("version", "1"))
    ok = finished(m, "stop", "length")
    hists = m.stats.hists

    def us(layout_sum: float) -> float:
        return float(int(layout_sum * 1e6))

    queue_us = us(_sum(m, "queue")) if engine_queue else float(int(ok * 48))
    rows = (
        ("nv_inference_request_success", "Number of successful inference requests, all batch "
         "sizes", "counter", ok),
        ("nv_inference_count", "Number of inferences performed (does not include cached "
         "requests)", "counter", ok),
        ("nv_inference_exec_count", "Number of model executions performed (does not include "
         "cached requests)", "counter", ok),
        ("nv_inference_request_duration_us", "Cumulative inference request duration in "
         "microseconds (includes cached requests)", "counter", us(_sum(m, "e2e"))),
        ("nv_inference_queue_duration_us", "Cumulative inference queuing duration in "
         "microseconds (includes cached requests)", "counter", queue_us),
        ("nv_inference_compute_input_duration_us", "Cumulative compute input duration in "
         "microseconds (does not include cached requests)", "counter", float(int(ok * 112))),
        ("nv_inference_compute_infer_duration_us", "Cumulative compute inference duration in "
         "microseconds (does not include cached requests)", "counter",
         us(_sum(m, "inference"))),
        ("nv_inference_compute_output_duration_us", "Cumulative inference compute output "
         "duration in microseconds (does not include cached requests)", "counter",
         float(int(ok * 57))),
        ("nv_inference_pending_request_count", "Instantaneous number of pending requests "
         "awaiting execution per-model.", "gauge",
         float(len(m.waiting)) if engine_queue else 0.0))
    fams = [family(n, t, h, [(lb, v)]) for n, h, t, v in rows]
    fams.insert(1, family(
        "nv_inference_request_failure", "counter", "Number of failed inference requests, all "
        "batch sizes", [((*lb, ("reason", r)), v) for r, v in (
            ("REJECTED", 0.0), ("CANCELED", finished(m, "abort")),
            ("BACKEND", finished(m, "error")), ("OTHER", 0.0))]))
    fams.append(family("nv_inference_first_response_histogram_ms", "histogram",
                       "Duration from request to first response in milliseconds",
                       [(lb, HistValue.of(hists["ttft_ms"]))]))
    return fams + gpu_families(view)


def _sum(m: LoadModel, concept: str) -> float:
    """Seconds accumulated for `concept`, kept by the load model beside the native layouts."""
    return m.stats.get("sum_" + concept)


def gpu_families(view: View) -> list[SimFamily]:
    m, lb = view.ranks[0], (("gpu_uuid", GPU_UUID),)
    busy = min(1.0, len(m.running) / 16)
    return [
        family("nv_gpu_utilization", "gauge", "GPU utilization rate [0.0 - 1.0)",
               [(lb, round(busy, 2))]),
        family("nv_gpu_memory_total_bytes", "gauge", "GPU total memory, in bytes",
               [(lb, 85899345920.0)]),
        family("nv_gpu_memory_used_bytes", "gauge", "GPU used memory, in bytes",
               [(lb, 77309411328.0)])]


def trtllm_families(view: View) -> list[SimFamily]:
    m = view.ranks[0]
    used = min(MAX_BLOCKS, math.ceil(m.kv_used / CONFIG.block_size))

    def sub(name: str, help_text: str, label: str, values: tuple[tuple[str, float], ...],
            mtype: str = "gauge") -> SimFamily:
        return family(name, mtype, help_text, [
            ((("model", view.model_name), (label, k), ("version", "1")), float(v))
            for k, v in values])

    return [
        sub("nv_trt_llm_request_metrics", "TRT LLM request metrics", "request_type", (
            ("waiting", len(m.waiting)), ("context", m.prefilling),
            ("scheduled", len(m.running)), ("max", CONFIG.max_running),
            ("active", len(m.running)))),
        sub("nv_trt_llm_runtime_memory_metrics", "TRT LLM runtime memory metrics",
            "memory_type", (("pinned", 0), ("gpu", 1610236), ("cpu", 0))),
        sub("nv_trt_llm_kv_cache_block_metrics", "TRT LLM KV cache block metrics",
            "kv_cache_block_type", (
                ("fraction", used / MAX_BLOCKS), ("tokens_per", CONFIG.block_size),
                ("used", used), ("free", MAX_BLOCKS - used), ("max", MAX_BLOCKS),
                ("reused", int(m.stats.get("prefix_hits") // CONFIG.block_size)))),
        sub("nv_trt_llm_inflight_batcher_metrics", "TRT LLM inflight_batcher-specific metrics",
            "inflight_batcher_specific_metric", (
                ("micro_batch_id", 0), ("generation_requests", len(m.running) - m.prefilling),
                ("total_context_tokens", int(m.last_prompt_tps * CONFIG.dt)),
                ("paused_requests", 0))),
        sub("nv_trt_llm_general_metrics", "General TRT LLM metrics", "general_type", (
            ("iteration_counter", total(view, "iterations")),
            ("timestamp", int((view.epoch + view.t) * 1e6)))),
        sub("nv_trt_llm_disaggregated_serving_metrics", "TRT LLM disaggregated serving metrics",
            "disaggregated_serving_type", (("kv_cache_transfer_ms", 0), ("request_count", 0)),
            "counter"),
        *(family(name, "histogram", help_text, [(
            (("model", view.model_name), ("response_metric_type", kind), ("version", "1")),
            HistValue.of(m.stats.hists[layout]))])
          for name, help_text, kind, layout in (
              ("nv_llm_input_token_len", "TRT LLM response input token length",
               "total_input_tokens", "input_len"),
              ("nv_llm_output_token_len", "TRT LLM response output token length",
               "total_output_tokens", "output_len")))]


def render_core(view: View) -> bytes:
    return cpp_text(core_families(view, engine_queue=True))


def render_trtllm(view: View) -> bytes:
    return cpp_text([*core_families(view, engine_queue=False), *trtllm_families(view)])


def server_metadata(view: View) -> dict[str, dict]:
    return {"/v2": {"name": "triton", "version": "2.59.0",
                    "extensions": ["classification", "sequence", "model_repository",
                                   "statistics", "trace", "logging"]}}


TRITON = Kind("triton", CORE_LAYOUTS, render_core, config=CONFIG, extra=server_metadata)
TRITON_TRTLLM = Kind("triton-trtllm", TRT_LAYOUTS, render_trtllm, config=CONFIG,
                     extra=server_metadata)
