"""llama.cpp `llama-server --metrics` (tools/server/server-context.cpp).

No labels; counters first, then gauges (the metrics JSON object is key-sorted); values
written by a C++ ostream with its default 6 significant digits, so big counters turn into
`1.23457e+06`. Some "counters" hold a maximum or an average. No KV, TTFT or preemption metric.
"""

from __future__ import annotations

from inferwatch.simulate.engines.expo import SimFamily, family, llamacpp_text
from inferwatch.simulate.engines.kinds.base import Kind, View, total
from inferwatch.simulate.engines.load import EngineConfig

CONFIG = EngineConfig(kv_capacity_tokens=16384, max_running=4, base_rate=0.3,
                      prompt_median=300.0, gen_median=120.0, prefill_tokens_per_s=2000.0,
                      itl_base=0.025, itl_per_seq=0.004, max_tokens=256, prefix_hit_prob=0.0)


def families(view: View) -> list[SimFamily]:
    m = view.ranks[0]
    steps = max(1.0, total(view, "steps"))
    counters = (
        ("prompt_tokens_total", "Number of prompt tokens processed.", total(view,
                                                                            "prompt_tokens")),
        ("prompt_seconds_total", "Prompt process time", total(view, "prompt_seconds")),
        ("tokens_predicted_total", "Number of generation tokens processed.",
         total(view, "generation_tokens")),
        ("tokens_predicted_seconds_total", "Predict process time", total(view,
                                                                         "decode_seconds")),
        ("n_decode_total", "Total number of llama_decode() calls", total(view, "iterations")),
        ("n_tokens_max", "Largest observed n_tokens.", total(view, "max_batch_tokens")),
        ("n_busy_slots_per_decode", "Average number of busy slots per llama_decode() call",
         total(view, "generation_tokens") / max(1.0, total(view, "iterations"))))
    gauges = (
        ("prompt_tokens_seconds", "Average prompt throughput in tokens/s.",
         total(view, "prompt_tokens") / (steps * CONFIG.dt)),
        ("predicted_tokens_seconds", "Average generation throughput in tokens/s.",
         m.last_gen_tps),
        ("requests_processing", "Number of requests processing.", float(len(m.running))),
        ("requests_deferred", "Number of requests deferred.", float(len(m.waiting))))
    return ([family("llamacpp:" + n, "counter", h, [((), float(v))]) for n, h, v in counters]
            + [family("llamacpp:" + n, "gauge", h, [((), float(v))]) for n, h, v in gauges])


def render(view: View) -> bytes:
    return llamacpp_text(families(view))


LLAMACPP = Kind("llamacpp", {}, render, config=CONFIG, extra=lambda view: {
    "/props": {"total_slots": CONFIG.max_running, "model_path": view.model_name,
               "default_generation_settings": {"n_ctx": CONFIG.kv_capacity_tokens},
               "modalities": {"vision": False, "audio": False}, "build_info": "b7100-1a2b3c4d"}})
