"""Golden cases for the engine normalisers: captured bodies, our own fixtures and simulated
bodies, each rendered to the exposition text the exporter would publish for it. Shared by the
tests and `regen`.

Captured bodies are read in place from ../shared/testdata/engines (absent there: their cases
carry None and the tests skip). Our own fixtures, tests/testdata/engines, are written from each
engine's source (see SOURCES.md there), independently of the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prometheus_client.exposition import generate_latest

from inferwatch.exporter.collectors.engines import publish
from inferwatch.exporter.collectors.engines.detect import detect
from inferwatch.exporter.collectors.engines.kinds import MAPPINGS
from inferwatch.exporter.collectors.engines.normalise import normalise
from inferwatch.exposition.parser import parse
from inferwatch.simulate.engines.kinds import KINDS
from inferwatch.simulate.engines.sim import Simulation

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
# Verbatim captures from public sources (read in place; see their SOURCES.md).
CAPTURED = HERE.parents[2].parent / "shared" / "testdata" / "engines"
# Our own fixtures, one per engine and version (tests/testdata/engines/SOURCES.md).
OWN = HERE.parents[1] / "testdata" / "engines"
SIM_TIME = 120.0
SIM_RANKS = 2


class _Families:
    def __init__(self, families):
        self.families = families

    def collect(self):
        return iter(self.families)


def render(body: bytes, target: str = "golden") -> bytes:
    """The normalised exposition of one native body, with its provenance families."""
    families = parse(body)
    kind = detect(families)
    if kind is None:
        raise ValueError("no engine detected")
    norm = normalise(families, MAPPINGS[kind])
    ident = publish.Identity(kind, target, role=norm.role or "both")
    out = publish.series(ident, norm) + publish.provenance(ident, norm.sources, {},
                                                           len(norm.unmapped))
    return generate_latest(_Families(sorted(out, key=lambda f: f.name)))


def simulated(kind: str) -> bytes:
    return Simulation(kind, ranks=SIM_RANKS).body(SIM_TIME)


def own_fixtures() -> list[Path]:
    return sorted(OWN.glob("*.prom"))


def cases() -> Iterator[tuple[str, bytes | None]]:
    """(golden name, native body) pairs; the body is None where the captures are absent."""
    for kind in sorted(KINDS):
        yield f"sim-{kind}", simulated(kind)
    for path in own_fixtures():
        yield f"own-{path.stem}", path.read_bytes()
    for name in ("triton-core-trtllm-backend-readme", "triton-server-docs-queue-summary",
                 "triton-trtllm-backend-readme-ifb", "triton-vllm-backend-readme",
                 "vllm-aibrix-runtime-docs-v0", "vllm-kserve-odc-context-nixl",
                 "vllm-mindie-pymotor-metrics-example"):
        path = CAPTURED / f"{name}.prom"
        yield name, path.read_bytes() if path.exists() else None
