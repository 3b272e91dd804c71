"""Scenarios: how offered load changes with simulated time, and the named phases.

`steady`: constant load for ever (phase `steady`).

`incident` (default timings, simulated seconds; `--speed` compresses them in wall time):

    0   .. 60   steady      baseline load, KV cache well below 0.9, no queue
    60  .. 150  spike       arrivals ramp to 4x over 15 s and prompts grow 1.6x: the KV cache
                            fills (> 0.9), the queue grows, TTFT p95 passes 2 s, preemptions
    150 .. 240  recovery    load back to baseline; the queue drains, the KV cache empties
    240 ..      recovered   baseline again, every signal back to normal
"""

from __future__ import annotations

from dataclasses import dataclass

INF = float("inf")


@dataclass(frozen=True)
class Phase:
    name: str
    start: float
    end: float


@dataclass(frozen=True)
class IncidentTimings:
    """Incident shape in simulated seconds and load factors."""

    spike_start: float = 60.0
    ramp: float = 15.0
    spike_end: float = 150.0
    recovered: float = 240.0
    rate_factor: float = 3.0
    prompt_factor: float = 1.5


@dataclass(frozen=True)
class Scenario:
    """A named load shape: `load_at(t)` gives (arrival-rate factor, prompt-length factor)."""

    name: str
    phases: tuple[Phase, ...]
    timings: IncidentTimings | None = None

    def phase_at(self, t: float) -> str:
        return next(p.name for p in self.phases if p.start <= t < p.end)

    def load_at(self, t: float) -> tuple[float, float]:
        tm = self.timings
        if tm is None or t < tm.spike_start or t >= tm.spike_end:
            return 1.0, 1.0
        ramp = min(1.0, (t - tm.spike_start) / tm.ramp) if tm.ramp > 0 else 1.0
        return (1.0 + (tm.rate_factor - 1.0) * ramp, 1.0 + (tm.prompt_factor - 1.0) * ramp)


def steady() -> Scenario:
    return Scenario("steady", (Phase("steady", 0.0, INF),))


def incident(timings: IncidentTimings | None = None) -> Scenario:
    tm = timings or IncidentTimings()
    phases = (Phase("steady", 0.0, tm.spike_start),
              Phase("spike", tm.spike_start, tm.spike_end),
              Phase("recovery", tm.spike_end, tm.recovered),
              Phase("recovered", tm.recovered, INF))
    return Scenario("incident", phases, tm)


SCENARIOS = {"steady": steady, "incident": incident}


def by_name(name: str) -> Scenario:
    """The scenario called `name` with its default timings (KeyError when unknown)."""
    return SCENARIOS[name]()
