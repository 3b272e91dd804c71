"""What every engine kind shares: the view it renders from, its spec, native bucket sets."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from inferwatch.simulate.engines.expo import HistValue, Labels, SimFamily, family
from inferwatch.simulate.engines.load import EngineConfig, LoadModel
from inferwatch.simulate.engines.stats import Layout

# vLLM V1 (vllm/v1/metrics/loggers.py), reused by trtllm-serve, LMDeploy and Ray.
TTFT = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
        10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
ITL = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
       20.0, 40.0, 80.0)
E2E = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0,
       240.0, 480.0, 960.0, 1920.0, 7680.0)
ITERATION = (1.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0,
             16384.0)
PARAMS_N = (1.0, 2.0, 5.0, 10.0, 20.0)


def buckets_1_2_5(limit: int) -> tuple[float, ...]:
    """vLLM's build_1_2_5_buckets(max_model_len): 1, 2, 5, 10, 20, 50, ... up to `limit`."""
    out, scale = [], 1
    while True:
        for m in (1, 2, 5):
            if m * scale > limit:
                return tuple(out)
            out.append(float(m * scale))
        scale *= 10


@dataclass
class View:
    """What a kind renders from: the ranks (one load model each) and the deployment."""

    ranks: list[LoadModel]
    model_name: str
    epoch: float

    @property
    def t(self) -> float:
        return self.ranks[0].t


@dataclass(frozen=True)
class Kind:
    """An engine kind: native histograms, how its page is written, where it is served."""

    name: str
    layouts: Mapping[str, Layout]
    render: Callable[[View], bytes]
    metrics_path: str = "/metrics"
    extra: Callable[[View], dict[str, dict]] = field(default=lambda view: {})
    config: EngineConfig = field(default_factory=EngineConfig)
    data_parallel: bool = False


def per_rank(view: View, labels: Callable[[int], Labels],
             value: Callable[[LoadModel], float]) -> list[tuple[Labels, float]]:
    return [(labels(i), value(m)) for i, m in enumerate(view.ranks)]


def counter(view: View, labels: Callable[[int], Labels], name: str, help_text: str | None,
            key: str) -> SimFamily:
    return family(name, "counter", help_text,
                  per_rank(view, labels, lambda m: m.stats.get(key)))


def gauge(view: View, labels: Callable[[int], Labels], name: str, help_text: str | None,
          value: Callable[[LoadModel], float]) -> SimFamily:
    return family(name, "gauge", help_text, per_rank(view, labels, value))


def histogram(view: View, labels: Callable[[int], Labels], name: str, help_text: str | None,
              layout: str) -> SimFamily:
    return family(name, "histogram", help_text,
                  [(labels(i), HistValue.of(m.stats.hists[layout]))
                   for i, m in enumerate(view.ranks)])


def merged(view: View, layout: str) -> HistValue:
    """One histogram over every rank (a frontend that sees all of them)."""
    values = [HistValue.of(m.stats.hists[layout]) for m in view.ranks]
    cumulative = tuple(sum(c) for c in zip(*(v.cumulative for v in values), strict=True))
    return HistValue(values[0].bounds, cumulative, sum(v.sum for v in values))


def total(view: View, key: str) -> float:
    return sum(m.stats.get(key) for m in view.ranks)


def finished(m: LoadModel, *reasons: str) -> float:
    return sum(m.stats.get("finished_" + r) for r in reasons)


def python_runtime(view: View) -> list[SimFamily]:
    """The python_* and process_* families prometheus_client adds to every Python server."""
    t, n = view.t, len(view.ranks)
    gens = (("generation", "0"),), (("generation", "1"),), (("generation", "2"),)
    collected = (15000 + 40 * t, 2300 + 3 * t, 300 + t / 10)
    return [
        family("python_gc_objects_collected", "counter", "Objects collected during gc",
               [(g, float(int(c))) for g, c in zip(gens, collected, strict=True)], False),
        family("python_info", "gauge", "Python platform information",
               [((("implementation", "CPython"), ("major", "3"), ("minor", "12"),
                  ("patchlevel", "9"), ("version", "3.12.9")), 1.0)]),
        family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
               [((), 1.19552e09 + 4096.0 * int(t) * n)]),
        family("process_start_time_seconds", "gauge",
               "Start time of the process since unix epoch in seconds.", [((), view.epoch)]),
        family("process_cpu_seconds", "counter", "Total user and system CPU time spent in seconds.",
               [((), round(0.9 * t, 2))], False),
    ]
