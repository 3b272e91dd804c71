"""A simulated engine deployment: load models per rank, a kind, bodies at simulated times.

`Simulation.body(t)` is a pure function of (kind, model name, seed, scenario, ranks, epoch,
t quantised to the model step): the same inputs give byte-identical bodies. Asking for an
earlier time than the last one replays the models from zero.
"""

from __future__ import annotations

from typing import Any

from inferwatch.simulate.engines.kinds import KINDS
from inferwatch.simulate.engines.kinds.base import Kind, View
from inferwatch.simulate.engines.load import LoadModel
from inferwatch.simulate.engines.scenarios import Scenario, by_name
from inferwatch.simulate.engines.stats import Stats

# A fixed start time (2026-01-05 09:12:44 UTC) for `_created` and start-time series, so that
# bodies do not depend on the wall clock.
DEFAULT_EPOCH = 1767604364.0

DEFAULT_MODELS = {"triton": "tensorrt_llm", "triton-trtllm": "tensorrt_llm",
                  "llamacpp": "qwen2.5-7b-instruct-q4_k_m.gguf"}
DEFAULT_MODEL = "meta-llama/Llama-3.1-8B-Instruct"


class Simulation:
    """One engine of `kind` (with `ranks` data-parallel engines where the kind has them)."""

    def __init__(self, kind: str, model_name: str | None = None, seed: int = 0,
                 scenario: Scenario | str = "steady", ranks: int = 1,
                 epoch: float = DEFAULT_EPOCH) -> None:
        self.kind: Kind = KINDS[kind]
        self.model_name = model_name or DEFAULT_MODELS.get(kind, DEFAULT_MODEL)
        self.seed = seed
        self.scenario = by_name(scenario) if isinstance(scenario, str) else scenario
        self.ranks = ranks if self.kind.data_parallel else 1
        self.epoch = epoch
        self._models = self._fresh()
        self._cache: tuple[int, bytes] | None = None

    def _fresh(self) -> list[LoadModel]:
        return [LoadModel(self.kind.config, self.scenario, f"{self.seed}:{rank}",
                          Stats(self.kind.layouts)) for rank in range(self.ranks)]

    def advance_to(self, t: float) -> View:
        """The view at simulated time `t` (seconds since the engine started)."""
        if t < self._models[0].t:
            self._models, self._cache = self._fresh(), None
        for m in self._models:
            m.advance_to(t)
        return View(self._models, self.model_name, self.epoch)

    def body(self, t: float) -> bytes:
        """The engine's metrics page at simulated time `t`."""
        view = self.advance_to(t)
        step = view.ranks[0].steps
        if self._cache is None or self._cache[0] != step:
            self._cache = (step, self.kind.render(view))
        return self._cache[1]

    def busy(self) -> float:
        """How busy the engine keeps its GPUs (0..1) at its last step, for a simulated GPU's
        utilisation and power: kernels run whenever a batch is running or prefilling, and the
        work grows with the batch (saturating at 32 sequences) and the prefill load. Reads the
        models without stepping them, so another thread (the NVML collector's) may call it."""
        loads = []
        for m in self._models:
            active = bool(m.running) or m.prefilling > 0
            work = max(min(1.0, len(m.running) / 32),
                       min(1.0, m.last_prompt_tps / m.config.prefill_tokens_per_s))
            loads.append(min(1.0, 0.35 * active + 0.65 * work))
        return sum(loads) / len(loads)

    def extra(self, t: float) -> dict[str, dict]:
        """The engine's other JSON endpoints (version, info, props) by path."""
        return self.kind.extra(self.advance_to(t))

    def state(self, t: float) -> dict[str, Any]:
        """The load model's state for tests and demos: phase, KV usage, queue, preemptions."""
        view = self.advance_to(t)
        ranks = [{"rank": i, "running": len(m.running), "waiting": len(m.waiting),
                  "kv_usage": round(m.kv_usage, 4), "preemptions": m.stats.get("preemptions"),
                  "finished": sum(m.stats.get("finished_" + r)
                                  for r in ("stop", "length", "abort", "error"))}
                 for i, m in enumerate(view.ranks)]
        return {"kind": self.kind.name, "model": self.model_name, "seed": self.seed,
                "scenario": self.scenario.name, "sim_time": round(view.t, 3),
                "phase": self.scenario.phase_at(view.t),
                "phases": [{"name": p.name, "start": p.start,
                            "end": None if p.end == float("inf") else p.end}
                           for p in self.scenario.phases],
                "metrics_path": self.kind.metrics_path, "ranks": ranks}
