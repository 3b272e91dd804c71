"""NVIDIA Dynamo's frontend (lib/llm/src/http/service/metrics.rs): `dynamo_frontend_*` over
every worker behind it (the ranks), written by the Rust `prometheus` crate's text encoder.

Families by name, labels sorted with `le` last, `_bucket` then `_sum` then `_count`, integer
counts and gauges bare. Histogram bounds are `generate_log_buckets(min, max, count)` with the
default settings (2 significant figures, a leading 0). Requests are queued until their first
token, inflight until their response ends; finished ones are counted by status and error type.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from inferwatch.simulate.engines.expo import SimFamily, _expand, _labelstr, family, shortest
from inferwatch.simulate.engines.kinds.base import Kind, View, finished, merged, total
from inferwatch.simulate.engines.load import EngineConfig
from inferwatch.simulate.engines.stats import Layout

CONFIG = EngineConfig(block_size=16)
PREFIX = "dynamo_frontend_"


def log_buckets(low: float, high: float, count: int) -> tuple[float, ...]:
    """Dynamo's generate_log_buckets: 0, then log-spaced from low to high, 2 significant
    figures (rounded half away from zero, as Rust's f64::round), duplicates removed."""
    out = [0.0]
    for i in range(1, count):
        value = math.exp(math.log(low) + (math.log(high) - math.log(low)) * i / (count - 1))
        scale = 10.0 ** (1 - math.floor(math.log10(value)))
        rounded = math.floor(value * scale + 0.5) / scale
        if rounded != out[-1]:
            out.append(rounded)
    return tuple(out)


LAYOUTS = {"ttft": Layout("ttft", log_buckets(0.001, 480.0, 18)),
           "itl": Layout("itl", log_buckets(0.001, 2.0, 13)),
           "e2e": Layout("e2e", log_buckets(1.0, 512.0, 10)),
           "isl": Layout("prompt_tokens", log_buckets(50.0, 128000.0, 12)),
           "osl": Layout("generation_tokens", log_buckets(50.0, 32000.0, 10))}
HISTOGRAMS = (("time_to_first_token_seconds", "Time to first token in seconds", "ttft"),
              ("inter_token_latency_seconds", "Inter-token latency in seconds", "itl"),
              ("request_duration_seconds", "Duration of LLM requests", "e2e"),
              ("input_sequence_tokens", "Input sequence length in tokens", "isl"),
              ("output_sequence_tokens", "Output sequence length in tokens", "osl"))


def rust_prometheus_text(families: Iterable[SimFamily]) -> bytes:
    """The Rust `prometheus` crate's TextEncoder: by name, sorted labels, `le` last."""
    lines: list[str] = []
    for fam in sorted(families, key=lambda f: f.name):
        lines += [f"# HELP {fam.name} {fam.help}", f"# TYPE {fam.name} {fam.type}"]
        for sname, labels, value in _expand(fam, shortest, "bucket_sum_count"):
            head = sorted(kv for kv in labels if kv[0] != "le")
            lines.append(f"{sname}{_labelstr(head + [kv for kv in labels if kv[0] == 'le'])} "
                         f"{shortest(value)}")
    return ("\n".join(lines) + "\n").encode()


def families(view: View) -> list[SimFamily]:
    model = (("model", view.model_name),)
    queued = sum(len(m.waiting) + m.prefilling for m in view.ranks)
    inflight = sum(len(m.waiting) + len(m.running) for m in view.ranks)

    def req(status: str, error_type: str) -> tuple[tuple[str, str], ...]:
        return (*model, ("endpoint", "chat_completions"), ("request_type", "stream"),
                ("status", status), ("error_type", error_type))

    outcomes = [(req("success", ""), ("stop", "length")), (req("error", "cancelled"), ("abort",)),
                (req("error", "internal"), ("error",))]
    done = [(labels, sum(finished(m, *reasons) for m in view.ranks))
            for labels, reasons in outcomes]
    gauges = (("inflight_requests", "Number of inflight requests", inflight),
              ("queued_requests", "Number of requests in HTTP processing queue", queued),
              ("model_total_kv_blocks", "Total KV cache blocks available for a worker serving "
               "the model", CONFIG.kv_capacity_tokens // CONFIG.block_size),
              ("model_kv_cache_block_size", "KV cache block size in tokens for a worker serving "
               "the model", CONFIG.block_size),
              ("model_max_num_seqs", "Maximum number of sequences for a worker serving the "
               "model", CONFIG.max_running))
    fams = [family(PREFIX + n, "gauge", h, [(model, float(v))]) for n, h, v in gauges]
    fams += [family(PREFIX + "disconnected_clients", "gauge", "Number of disconnected clients",
                    [((), 0.0)]),
             family(PREFIX + "requests_total", "counter", "Total number of LLM requests "
                    "processed", done),
             family(PREFIX + "output_tokens_total", "counter", "Total number of output tokens "
                    "generated (updates in real-time)",
                    [(model, total(view, "generation_tokens"))])]
    fams += [family(PREFIX + n, "histogram", h, [(model, merged(view, lay))])
             for n, h, lay in HISTOGRAMS]
    return fams


def render(view: View) -> bytes:
    return rust_prometheus_text(families(view))


DYNAMO = Kind("dynamo", LAYOUTS, render, config=CONFIG, data_parallel=True)
