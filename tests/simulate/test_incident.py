"""The incident scenario: the spike fills the KV cache, grows the queue, breaks TTFT, recovers.

Signals are read the way a scraper reads them: from the served page (histogram deltas between
two scrapes, Prometheus-style quantiles) and from /simulator/state.
"""

from __future__ import annotations

import pytest

from inferwatch.simulate.engines.scenarios import IncidentTimings, by_name, incident
from inferwatch.simulate.engines.sim import Simulation
from inferwatch.simulate.engines.stats import quantile
from tests.simulate.conftest import parse

TTFT = "vllm:time_to_first_token_seconds"


def ttft_p95(before: dict, after: dict) -> float:
    """p95 of the TTFT observed between two parsed vLLM pages."""
    def buckets(fams: dict) -> list[tuple[float, float]]:
        return [(float(s.labels["le"]), s.value) for s in fams[TTFT].samples
                if s.name.endswith("_bucket")]
    b0, b1 = buckets(before), buckets(after)
    bounds = [le for le, _ in b1[:-1]]
    return quantile(bounds, [v1 - v0 for (_, v0), (_, v1) in zip(b0, b1, strict=True)], 0.95)


def gauge(fams: dict, name: str) -> float:
    return fams[name].samples[0].value


async def test_spike_then_recovery_over_http(engine, clock) -> None:
    client = await engine("vllm", seed=7, scenario="incident")

    async def scrape(t: float) -> tuple[dict, dict]:
        clock.now = 1000.0 + t
        page = parse(await (await client.get("/metrics")).text())
        return page, await (await client.get("/simulator/state")).json()

    base0, _ = await scrape(20)
    base1, state = await scrape(55)
    assert state["phase"] == "steady"
    assert gauge(base1, "vllm:kv_cache_usage_perc") < 0.5
    assert ttft_p95(base0, base1) < 1.0
    pre = gauge(base1, "vllm:num_preemptions")

    spike0, _ = await scrape(100)
    spike1, state = await scrape(145)
    assert state["phase"] == "spike"
    assert gauge(spike1, "vllm:kv_cache_usage_perc") > 0.9
    assert gauge(spike1, "vllm:num_requests_waiting") > 50
    assert ttft_p95(spike0, spike1) > 2.0
    assert gauge(spike1, "vllm:num_preemptions") > pre

    late0, _ = await scrape(250)
    late1, state = await scrape(290)
    assert state["phase"] == "recovered"
    assert gauge(late1, "vllm:kv_cache_usage_perc") < 0.5
    assert gauge(late1, "vllm:num_requests_waiting") < 5
    assert ttft_p95(late0, late1) < 1.0


@pytest.mark.parametrize(("kind", "seed"), [("sglang", 1), ("triton-trtllm", 2), ("tgi", 3),
                                            ("llamacpp", 4)])
def test_every_engine_config_queues_in_the_spike_and_drains_after(kind: str, seed: int) -> None:
    sim = Simulation(kind, seed=seed, scenario="incident")
    steady, spike = sim.state(55.0)["ranks"][0], sim.state(145.0)["ranks"][0]
    after = sim.state(300.0)["ranks"][0]
    assert steady["waiting"] < 5
    assert spike["waiting"] > 5
    assert after["waiting"] < 5


def test_phases_follow_the_documented_timings() -> None:
    sc = by_name("incident")
    assert [(p.name, p.start) for p in sc.phases] == [
        ("steady", 0.0), ("spike", 60.0), ("recovery", 150.0), ("recovered", 240.0)]
    assert sc.load_at(30) == (1.0, 1.0)
    assert sc.load_at(100)[0] == pytest.approx(3.0)
    assert sc.load_at(200) == (1.0, 1.0)
    assert by_name("steady").phase_at(1e6) == "steady"


def test_custom_timings_move_the_spike() -> None:
    late = incident(IncidentTimings(spike_start=120.0, spike_end=200.0, recovered=300.0))
    sim = Simulation("vllm", seed=5, scenario=late)
    assert sim.state(110.0)["phase"] == "steady"
    assert sim.state(110.0)["ranks"][0]["kv_usage"] < 0.5
    assert sim.state(190.0)["ranks"][0]["kv_usage"] > 0.9
