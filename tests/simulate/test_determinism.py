"""Same seed and simulated time give the same bytes; --speed scales simulated time."""

from __future__ import annotations

import pytest

from inferwatch.simulate.engines.kinds import KINDS
from inferwatch.simulate.engines.sim import Simulation


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_same_seed_same_time_same_bytes(kind: str) -> None:
    a = Simulation(kind, seed=11, scenario="incident").body(42.0)
    b = Simulation(kind, seed=11, scenario="incident").body(42.0)
    assert a == b
    assert a != Simulation(kind, seed=12, scenario="incident").body(42.0)


def test_going_back_in_time_replays_from_zero() -> None:
    sim = Simulation("vllm", seed=4)
    early = sim.body(10.0)
    sim.body(50.0)
    assert sim.body(10.0) == early == Simulation("vllm", seed=4).body(10.0)


def test_time_within_one_step_gives_the_same_page() -> None:
    sim = Simulation("sglang", seed=4)
    assert sim.body(10.0) == sim.body(10.05)
    assert sim.body(10.0) != sim.body(12.0)


async def test_speed_compresses_time(engine, clock) -> None:
    client = await engine("vllm", speed=10.0, scenario="incident")
    clock.now += 12.0
    state = await (await client.get("/simulator/state")).json()
    assert state["sim_time"] == pytest.approx(120.0)
    assert state["phase"] == "spike"
    assert state["speed"] == 10.0


async def test_scrapes_advance_with_the_clock(engine, clock) -> None:
    client = await engine("tgi", seed=2)
    clock.now += 5
    first = await (await client.get("/metrics")).read()
    assert first == await (await client.get("/metrics")).read()
    clock.now += 5
    assert first != await (await client.get("/metrics")).read()
