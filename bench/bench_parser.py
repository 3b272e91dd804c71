"""Engine /metrics parser: our parse() against prometheus_client's text parser, same bodies.

Run from the repository root: `python bench/bench_parser.py [--repeat N]`. Bodies are the
captured vLLM V1 pages in ../shared/testdata/engines, as captured and with their `engine="0"`
series replicated over engine ranks and served models (all histograms included). Prints, per
body: size, our best ms, prometheus_client's best ms, and the speed-up.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from inferwatch.exposition.parser import parse  # noqa: E402

ENGINES = ROOT.parent / "shared" / "testdata" / "engines"
KSERVE = "vllm-kserve-odc-context-nixl.prom"
MINDIE = "vllm-mindie-pymotor-metrics-example.prom"
MODELS = ("TinyLlama", "Qwen/Qwen2.5-7B-Instruct", "meta-llama/Llama-3.1-8B-Instruct")

Row = tuple[str, tuple[tuple[str, str], ...], object]


def replicate(text: str, ranks: int, models: tuple[str, ...]) -> str:
    """The body with each run of `engine="0"` lines repeated per engine rank and model."""
    out: list[str] = []
    block: list[str] = []
    for line in text.splitlines() + ["#"]:
        if not line.startswith("#"):
            block.append(line)
            continue
        out.extend(row for row in block if 'engine="0"' not in row)
        series = [row for row in block if 'engine="0"' in row]
        for rank in range(ranks):
            for model in models:
                for row in series:
                    if model != models[0] and "model_name=" not in row:
                        continue  # engine-wide series (cache_config_info): once per rank
                    row = row.replace('engine="0"', f'engine="{rank}"')
                    out.append(row.replace('model_name="TinyLlama"', f'model_name="{model}"'))
        block = []
        out.append(line)
    return "\n".join(out[:-1]) + "\n"


def bodies() -> dict[str, str]:
    """Name -> body: two captured pages as they are, and two built from the larger one."""
    kserve = (ENGINES / KSERVE).read_text()
    return {
        "vLLM V1 page, 1 engine (mindie)": (ENGINES / MINDIE).read_text(),
        "vLLM V1 page, 1 engine (kserve)": kserve,
        "4 engine ranks x 1 model": replicate(kserve, 4, MODELS[:1]),
        "4 engine ranks x 3 models": replicate(kserve, 4, MODELS),
    }


def ours(text: str) -> list[Row]:
    return sorted(
        (name, labels, _value(value))
        for family in parse(text).values()
        for name, labels, value in family.samples
    )


def theirs(text: str) -> list[Row]:
    return sorted(
        (s.name, tuple(sorted(s.labels.items())), _value(s.value))
        for family in text_string_to_metric_families(text)
        for s in family.samples
    )


def _value(value: float) -> object:
    """A value that compares equal to itself, NaN included."""
    return "NaN" if math.isnan(value) else float(value)


def best_ms(repeat: int, *calls: Callable[[], object]) -> list[float]:
    """Best of `repeat` timed runs of each call, in ms; runs alternate so both see the same load."""
    best = [math.inf] * len(calls)
    for _ in range(repeat):
        for i, call in enumerate(calls):
            start = time.perf_counter()
            call()
            best[i] = min(best[i], time.perf_counter() - start)
    return [seconds * 1000 for seconds in best]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per parser and body")
    args = parser.parse_args()
    print(f"{'body':34} {'KiB':>7} {'samples':>8} {'ours ms':>9} {'client ms':>10} {'speed-up':>9}")
    worst = math.inf
    for label, text in bodies().items():
        expected = theirs(text)
        if ours(text) != expected:
            print(f"{label}: samples differ from prometheus_client", file=sys.stderr)
            return 1
        mine, client = best_ms(
            args.repeat,
            lambda text=text: parse(text),
            lambda text=text: list(text_string_to_metric_families(text)),
        )
        worst = min(worst, client / mine)
        size = len(text.encode()) / 1024
        print(
            f"{label:34} {size:7.1f} {len(expected):8} {mine:9.3f} {client:10.2f} "
            f"{client / mine:8.1f}x"
        )
    print(f"samples identical on every body; smallest speed-up {worst:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
