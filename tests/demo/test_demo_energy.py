"""Joules per token in the demo read the same with --fast as at 1x (issue 15).

The simulated GPUs' energy runs on their engine's simulated clock, as its token counters do
(demo.pods.place, Stack._tick). Each run is the demo's Stack in this process; over the same
simulated window of the incident's steady phase (the load model is deterministic in simulated
time, so both speeds count the same tokens in it), each engine's joules per token is worked
out from the raw counters: its GPUs' NVML energy counters and its load model's prompt and
generation token counters, read together under the engines' locks at the window's edges.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from pathlib import Path

from inferwatch.demo import pods
from inferwatch.demo.settings import ENGINES, FAST_SPEED, Timing
from inferwatch.demo.stack import Stack
from inferwatch.simulate.nvml.hardware import NAME

START, END = 3.0, 9.0  # simulated seconds, inside the steady phase (spike at 60 s)
# The GPUs sample their engine's load every 0.05 wall seconds (0.2 simulated at --fast) and
# the window's edges are read a few hundredths of a second late: 10% holds that noise on a
# loaded machine (measured within 2.5% per engine), while the two clocks apart read 1/speed
# (75% off at 4x) and a GPU-hour priced per wall hour puts the cost 1/speed off.
TOLERANCE = 0.10


def counters(stack: Stack, at: float) -> dict[str, tuple[float, float]]:
    """{engine kind: (joules its GPUs have used, tokens it has prompted and generated)}, the
    load model stepped to simulated time `at`."""
    lib, found = stack.nvml, {}
    for engine, gpus in zip(stack.engines, pods.PLACEMENT, strict=True):
        view = engine.clocked.sim.advance_to(at)
        tokens = sum(m.stats.get("prompt_tokens") + m.stats.get("generation_tokens")
                     for m in view.ranks)
        millijoules = sum(lib.nvmlDeviceGetTotalEnergyConsumption(
            lib.nvmlDeviceGetHandleByIndex(gpu)) for gpu in gpus)
        found[engine.kind] = (millijoules / 1000, tokens)
    return found


async def read_at(stack: Stack, at: float) -> tuple[float, dict[str, tuple[float, float]]]:
    """(wall clock, the counters) once the engines' simulated time has reached `at`."""
    clocked = stack.engines[0].clocked
    deadline = time.monotonic() + 60
    while clocked.now() < at:
        assert time.monotonic() < deadline, clocked.now()
        await asyncio.sleep(0.01)
    async with contextlib.AsyncExitStack() as locks:
        for engine in stack.engines:
            await locks.enter_async_context(engine.clocked.lock)
        return time.monotonic(), await asyncio.to_thread(counters, stack, at)


def recorded(stack: Stack, record: str) -> float:
    """The one value of a price rule as the demo's rules recorded it."""
    values = {v for labels, v in stack.source.evaluate_text(record, time.time())
              if labels.get("name", NAME) == NAME}
    assert len(values) == 1, (record, values)
    return values.pop()


async def figures(tmp: Path, speed: float) -> dict[str, tuple[float, float, float]]:
    """{engine kind: (joules per token and USD per million tokens over START..END, tokens in
    it)} at `speed`. The cost is worked out from the counters, the
    wall time between the reads and the prices the demo's rules recorded."""
    tmp.mkdir()
    stack = Stack(tmp, Timing(speed), 0, lambda _event: None)
    try:
        await stack.start()
        (began, first), (ended, last) = await read_at(stack, START), await read_at(stack, END)
        gpu_hour = recorded(stack, "inferwatch:gpu_price_usd_per_hour")
        kwh = recorded(stack, "inferwatch:energy_price_usd_per_kwh")
    finally:
        await stack.stop()
    found = {}
    for kind, gpus in zip(first, pods.PLACEMENT, strict=True):
        joules, tokens = (b - a for a, b in zip(first[kind], last[kind], strict=True))
        dollars = len(gpus) * gpu_hour * (ended - began) / 3600 + joules / 3.6e6 * kwh
        found[kind] = (joules / tokens, dollars / tokens * 1e6, tokens)
    return found


async def test_fast_and_normal_speed_read_the_same_joules_and_cost_per_token(
        tmp_path: Path) -> None:
    normal = await figures(tmp_path / "1x", 1.0)
    fast = await figures(tmp_path / "fast", FAST_SPEED)
    assert normal.keys() == fast.keys() == {kind for kind, _model in ENGINES}
    for kind, (jpt, cost, tokens) in normal.items():
        fast_jpt, fast_cost, fast_tokens = fast[kind]
        assert tokens > 1000 and tokens == fast_tokens, (kind, tokens, fast_tokens)
        assert math.isclose(fast_jpt, jpt, rel_tol=TOLERANCE), (kind, jpt, fast_jpt)
        assert math.isclose(fast_cost, cost, rel_tol=TOLERANCE), (kind, cost, fast_cost)
