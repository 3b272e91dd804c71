"""Serving features that change what a queue or a token rate means: speculative decoding,
LoRA adapters, and why requests wait.

Speculative decoding pays off only while the target model accepts enough of the draft: the
acceptance rate is accepted over drafted tokens as rates (vLLM, TensorRT-LLM counters), and
engines that only average it themselves (SGLang, TensorRT-LLM) show their mean acceptance
length. LoRA serving holds at most `max_loras` adapters in a batch: with as many running, a
request for another adapter waits even with free slots, which vLLM counts as waiting
`deferred`, apart from waiting for `capacity` (slots or KV cache).
"""

from __future__ import annotations

from inferwatch import catalog as c
from inferwatch.dashboards import panels as p
from inferwatch.dashboards.promql import Query, agg, ratio, sel, sum_rate

BY = ("engine", "model")
PER = "{{engine}} {{model}}"
PER_TARGET = ("target",)


def row() -> p.Row:
    accepted = sum_rate(c.ENGINE_SPEC_ACCEPTED_TOKENS, BY)
    drafted = sum_rate(c.ENGINE_SPEC_DRAFT_TOKENS, BY)
    return p.Row("Speculative decoding, LoRA and waiting reasons", [
        p.timeseries("Speculative decoding acceptance rate", "Draft tokens the target model "
                     "accepted over draft tokens proposed, per second, per engine and model. "
                     "A falling rate means the draft model no longer predicts the traffic: each "
                     "step then costs the draft's work for fewer tokens.",
                     [Query(ratio(accepted, drafted), PER)], p.RATIO, min=0, max=1, w=8),
        p.timeseries("Draft and accepted tokens / s", "Tokens proposed by speculative decoding "
                     "and those accepted, per second, per engine and model.",
                     [Query(drafted, "drafted " + PER), Query(accepted, "accepted " + PER)],
                     p.TOKENS_PER_SECOND, w=8),
        p.timeseries("Mean acceptance length (engine's own)", "Tokens accepted per "
                     "speculative step as the engine averages it (SGLang, TensorRT-LLM), the "
                     "mean over targets per engine and model; 1 means no draft token is "
                     "accepted.",
                     [Query(agg("avg", sel(c.ENGINE_SPEC_ACCEPT_LENGTH), BY), PER)], p.COUNT,
                     w=8),
        p.timeseries("LoRA adapters", "Adapters with requests running and waiting per target, "
                     "and the most it holds at once (max_loras): running at the maximum with "
                     "adapters waiting means requests wait for an adapter slot, not for "
                     "capacity.",
                     [Query(agg("max", sel(c.ENGINE_LORA_ADAPTERS), ("target", "state")),
                            "{{state}} {{target}}"),
                      Query(agg("max", sel(c.ENGINE_LORA_ADAPTERS_MAX), PER_TARGET),
                            "max {{target}}")], p.COUNT, w=12),
        p.timeseries("Requests waiting by reason", "Requests waiting per reason, engine and "
                     "model: capacity (no slot or KV cache free) or deferred (held back by the "
                     "LoRA adapter budget, a KV transfer or a blocked state); the reasons sum "
                     "to the requests waiting.",
                     [Query(agg("sum", sel(c.ENGINE_WAITING_BY_REASON), ("reason", *BY)),
                            "{{reason}} " + PER)], p.COUNT, stack=True, w=12),
    ])
