"""Fixtures for the simulated engines: a settable clock and an app client per kind."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from inferwatch.simulate.engines.app import make_app
from inferwatch.simulate.engines.sim import Simulation


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def parse(body: str) -> dict:
    """{family name: Metric} as prometheus_client's parser reads the page."""
    return {f.name: f for f in text_string_to_metric_families(body)}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(aiohttp_client: Callable, clock: FakeClock) -> Callable[..., Awaitable[TestClient]]:
    """engine(kind, **simulation options) -> a client of the real app on 127.0.0.1."""
    async def start(kind: str, speed: float = 1.0, **options: object) -> TestClient:
        return await aiohttp_client(make_app(Simulation(kind, **options), speed, clock))
    return start
