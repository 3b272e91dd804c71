"""The aiohttp app that serves a simulated engine: its metrics path, its info endpoints,
`/health`, and `/simulator/state` (JSON: phase, KV usage, queue) for tests and demos.

Simulated time is `(clock() - start) * speed`; tests inject `clock`. The load model runs in a
worker thread under a lock, so a large jump in time never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from inferwatch.simulate.engines.sim import Simulation

TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Clocked:
    """A simulation on a clock: simulated seconds = (clock() - start) * speed."""

    sim: Simulation
    speed: float = 1.0
    clock: Callable[[], float] = time.monotonic
    start: float = field(init=False)
    lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.start = self.clock()

    def now(self) -> float:
        return max(0.0, (self.clock() - self.start) * self.speed)


SIM_KEY = web.AppKey("simulation", Clocked)


async def _run(request: web.Request, fn: Callable[[Clocked], object]) -> object:
    clocked = request.app[SIM_KEY]
    async with clocked.lock:
        return await asyncio.to_thread(fn, clocked)


async def metrics(request: web.Request) -> web.Response:
    body = await _run(request, lambda c: c.sim.body(c.now()))
    return web.Response(body=body, headers={"Content-Type": TEXT_FORMAT})


async def state(request: web.Request) -> web.Response:
    data = await _run(request, lambda c: {**c.sim.state(c.now()), "speed": c.speed})
    return web.json_response(data)


async def health(request: web.Request) -> web.Response:
    return web.Response(text="")


def _json_route(path: str) -> Callable[[web.Request], object]:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(await _run(request, lambda c: c.sim.extra(c.now())[path]))
    return handler


def make_app(sim: Simulation, speed: float = 1.0,
             clock: Callable[[], float] = time.monotonic) -> web.Application:
    """An app serving `sim` as its engine kind serves metrics."""
    app = web.Application()
    app[SIM_KEY] = Clocked(sim, speed, clock)
    app.router.add_get(sim.kind.metrics_path, metrics)
    app.router.add_get("/health", health)
    app.router.add_get("/simulator/state", state)
    for path in sim.extra(0.0):
        app.router.add_get(path, _json_route(path))
    return app
