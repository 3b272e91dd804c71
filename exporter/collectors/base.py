"""What a collector is: a named source of metric families, run by the loop on its interval."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol

from prometheus_client.core import Metric


class CollectorFailed(Exception):
    """A run failed; `families` holds what could still be reported (e.g. `gpu_up 0`)."""

    def __init__(self, reason: str, families: list[Metric] | None = None):
        super().__init__(reason)
        self.families = families or []


class Collector(Protocol):
    """A source of families. `collect` blocks (it runs in a worker thread) or is async."""

    name: str
    interval: float
    timeout: float

    def collect(self) -> list[Metric] | Awaitable[list[Metric]]: ...

    def close(self) -> None: ...
