"""The simulated LoRA/speculative-decoding kinds through the engine mappings: the published
concepts agree with one another at every time (accepted <= drafted, waiting by reason summing
to waiting, running adapters at most max_loras), and SGLang's acceptance length is a mean."""

from __future__ import annotations

import pytest

from inferwatch import catalog as c
from inferwatch.exporter.collectors.engines.kinds import MAPPINGS
from inferwatch.exporter.collectors.engines.normalise import normalise
from inferwatch.exposition.parser import parse
from inferwatch.simulate.engines.sim import Simulation

TIMES = (20.0, 80.0, 130.0)


def published(kind: str, mapping: str) -> list[dict]:
    sim = Simulation(kind, seed=2, scenario="incident", ranks=2)
    return [normalise(parse(sim.body(t)), MAPPINGS[mapping]).values for t in TIMES]


def total(values: dict, spec: c.MetricSpec) -> float:
    return sum(values[spec].values())


def test_vllm_lora_spec_concepts_agree() -> None:
    deferred = 0.0
    for values in published("vllm-lora-spec", "vllm"):
        assert 0 < total(values, c.ENGINE_SPEC_ACCEPTED_TOKENS) < \
            total(values, c.ENGINE_SPEC_DRAFT_TOKENS)
        by_reason = {k[-1]: v for k, v in values[c.ENGINE_WAITING_BY_REASON].items()}
        assert set(by_reason) == {"capacity", "deferred"}
        assert sum(by_reason.values()) == total(values, c.ENGINE_REQUESTS_WAITING)
        deferred = max(deferred, by_reason["deferred"])
        (limit,) = values[c.ENGINE_LORA_ADAPTERS_MAX].values()
        assert limit == 2
        states = {k[-1]: v for k, v in values[c.ENGINE_LORA_ADAPTERS].items()}
        assert set(states) == {"running", "waiting"}
        assert 0 <= states["running"] <= limit and 0 <= states["waiting"] <= 3
    assert deferred > 0


@pytest.mark.parametrize("t", range(len(TIMES)))
def test_sglang_accept_length_is_the_mean_over_ranks(t: int) -> None:
    sim = Simulation("sglang-spec", seed=2, scenario="incident", ranks=2)
    body = sim.body(TIMES[t])
    native = [v for n, _, v in parse(body)["sglang:spec_accept_length"].samples]
    (length,) = normalise(parse(body), MAPPINGS["sglang"]).values[
        c.ENGINE_SPEC_ACCEPT_LENGTH].values()
    assert len(native) == 2 and length == pytest.approx(sum(native) / 2)
    assert 1 < length < 4
