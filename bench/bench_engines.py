"""The normaliser's cost per target per cycle: what the engine collector spends on one
target's body after the HTTP fetch (parse, detect, map onto the catalogue, build the published
families), for each engine kind, on realistic bodies.

Run from the repository root: `python bench/bench_engines.py [--repeat N]`. Bodies: our own
fixtures (tests/testdata/engines, one per engine and version), and the captured vLLM V1 page of
../shared/testdata/engines replicated over 4 engine ranks x 3 models as bench_parser.py builds
it (skipped where that folder is absent). Prints per body: size, native samples, the best ms of
each stage and the total per target per cycle. The parser's speed-up over prometheus_client is
measured by bench_parser.py, not here.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_parser import ENGINES, KSERVE, MODELS, replicate  # noqa: E402

from inferwatch.exporter.collectors.engines import publish  # noqa: E402
from inferwatch.exporter.collectors.engines.detect import detect  # noqa: E402
from inferwatch.exporter.collectors.engines.kinds import MAPPINGS  # noqa: E402
from inferwatch.exporter.collectors.engines.normalise import normalise  # noqa: E402
from inferwatch.exposition.parser import parse  # noqa: E402

OWN = ROOT / "tests" / "testdata" / "engines"


def bodies() -> dict[str, bytes]:
    out = {p.stem: p.read_bytes() for p in sorted(OWN.glob("*.prom"))}
    kserve = ENGINES / KSERVE
    if kserve.exists():
        out["kserve vLLM V1, 4 ranks x 3 models"] = replicate(
            kserve.read_text(), 4, MODELS).encode()
    else:
        print(f"(skipping the replicated capture: {kserve} absent)", file=sys.stderr)
    return out


def cycle(body: bytes) -> tuple[float, float, float]:
    """One target's work in one cycle: seconds to parse, to normalise, to publish."""
    t0 = time.perf_counter()
    families = parse(body)
    t1 = time.perf_counter()
    kind = detect(families)
    norm = normalise(families, MAPPINGS[kind])
    t2 = time.perf_counter()
    ident = publish.Identity(kind, "http://10.0.0.1:8000/metrics", (("namespace", "llm"),
                                                                      ("pod", "engine-0")))
    publish.series(ident, norm)
    publish.provenance(ident, norm.sources, {}, len(norm.unmapped))
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20, help="timed runs per body (default 20)")
    args = ap.parse_args()
    print(f"{'body':40} {'KiB':>6} {'samples':>8} {'parse':>7} {'normalise':>9} "
          f"{'publish':>7} {'total ms':>8}")
    totals = []
    for name, body in bodies().items():
        samples = sum(len(f.samples) for f in parse(body).values())
        runs = [cycle(body) for _ in range(args.repeat)]
        best = [min(r[i] for r in runs) * 1e3 for i in range(3)]
        total = min(sum(r) for r in runs) * 1e3
        totals.append(total)
        print(f"{name:40} {len(body) / 1024:6.1f} {samples:8d} {best[0]:7.2f} {best[1]:9.2f} "
              f"{best[2]:7.2f} {total:8.2f}")
    print(f"mean per target per cycle: {sum(totals) / len(totals):.2f} ms over "
          f"{len(totals)} bodies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
