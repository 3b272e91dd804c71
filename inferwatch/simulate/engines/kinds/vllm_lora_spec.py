"""vLLM V1 launched with `--enable-lora --max-loras 2` and a `--speculative-config` (3 tokens).

A newer V1 release than the `vllm` kind's (the late-2025/2026 `vllm/v1/metrics/loggers.py`
that engines.md §2.1 reads): `num_requests_waiting_by_reason{reason}` beside
`num_requests_waiting` (capacity, and deferred: skipped for the LoRA budget; the two sum to
waiting), `lora_requests_info{max_lora,running_lora_adapters,waiting_lora_adapters}` set to
the current time on every step (one series per label set ever seen, each keeping the time it
was last set, as `set_to_current_time` leaves them), and `SpecDecodingProm`'s counters
(vllm/v1/spec_decode/metrics.py: `spec_decode_num_drafts`, `_num_draft_tokens`,
`_num_accepted_tokens`, `_num_accepted_tokens_per_pos{position}`), registered before the
scheduler's gauges and so first on the page. The other families are the `vllm` kind's.
"""

from __future__ import annotations

from dataclasses import replace

from inferwatch.simulate.engines.expo import SimFamily, family, python_text
from inferwatch.simulate.engines.kinds.base import Kind, View, counter, python_runtime
from inferwatch.simulate.engines.kinds.vllm import CONFIG as V1_CONFIG
from inferwatch.simulate.engines.kinds.vllm import V1_LAYOUTS, info, v1_families

ADAPTERS = ("sql-lora", "chat-lora", "summarise-lora")
CONFIG = replace(V1_CONFIG, lora_adapters=ADAPTERS, max_loras=2, lora_share=0.6,
                 spec_tokens=3, spec_accept=0.7)
WAITING_HELP = ("Number of waiting requests by reason. Reason labels: 'capacity' = waiting for "
                "scheduling capacity; 'deferred' = deferred by transient constraints (LoRA "
                "budget, KV transfer, blocked status). Sum of all reasons equals "
                "vllm:num_requests_waiting.")


def _labels(view: View):
    def lb(i: int) -> tuple[tuple[str, str], ...]:
        return (("model_name", view.model_name), ("engine", str(i)))
    return lb


def spec_families(view: View) -> list[SimFamily]:
    lb = _labels(view)
    return [
        counter(view, lb, "vllm:spec_decode_num_drafts", "Number of spec decoding drafts.",
                "spec_drafts"),
        counter(view, lb, "vllm:spec_decode_num_draft_tokens", "Number of draft tokens.",
                "spec_draft_tokens"),
        counter(view, lb, "vllm:spec_decode_num_accepted_tokens", "Number of accepted tokens.",
                "spec_accepted"),
        family("vllm:spec_decode_num_accepted_tokens_per_pos", "counter",
               "Accepted tokens per draft position.",
               [((*lb(i), ("position", str(pos))), m.stats.get(f"spec_accepted_pos_{pos}"))
                for i, m in enumerate(view.ranks) for pos in range(CONFIG.spec_tokens)])]


def waiting_by_reason(view: View) -> SimFamily:
    lb = _labels(view)
    return family("vllm:num_requests_waiting_by_reason", "gauge", WAITING_HELP,
                  [((*lb(i), ("reason", reason)), float(n)) for i, m in enumerate(view.ranks)
                   for reason, n in (("capacity", len(m.waiting) - m.deferred),
                                     ("deferred", m.deferred))])


def lora_info(view: View) -> SimFamily:
    """Every (running, waiting) label set the ranks have set, at the time it was last set."""
    seen: dict[tuple[str, str], float] = {}
    for m in view.ranks:
        for key, t in m.lora_seen.items():
            seen[key] = max(t, seen.get(key, t))
    return family("vllm:lora_requests_info", "gauge", "Running stats on lora requests.",
                  [((("max_lora", str(CONFIG.max_loras)), ("running_lora_adapters", running),
                     ("waiting_lora_adapters", waiting)), view.epoch + t)
                   for (running, waiting), t in seen.items()])


def render(view: View) -> bytes:
    fams = v1_families(view, "vllm:", ())
    at = next(i for i, f in enumerate(fams) if f.name == "vllm:num_requests_waiting") + 1
    fams.insert(at, waiting_by_reason(view))
    fams.insert(len(fams) - 1, lora_info(view))  # before cache_config_info, logged at start-up
    return python_text([*python_runtime(view), *spec_families(view), *fams], view.epoch)


VLLM_LORA_SPEC = Kind("vllm-lora-spec", V1_LAYOUTS, render, config=CONFIG, data_parallel=True,
                      extra=info)
