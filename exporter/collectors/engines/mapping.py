"""Mappings as data: which native families feed which catalogue metric, and how.

A `Rule` names a catalogue spec and its `Source`s in alias precedence: the first source whose
primary family has samples wins, the others are never added to it. A source combines `Part`s
(one native family each, with a sub-label pivot, a unit scale, a reason mapping) by an op:
SUM (gauges and counters, summed over ranks), RATIO (capacity-weighted mean over ranks),
PRODUCT (per-rank product, then summed), HISTOGRAM (re-bucketed), SUM_COUNT (a histogram
known only by its sum and count), MEAN (the plain mean over ranks of an engine-computed average,
unbounded) or LATEST (per rank, the labels of the series with the newest timestamp value, as
vLLM's `lora_requests_info` writes them) or QUOTIENT (per model, the first part summed over
ranks over the others summed: a pooled ratio of used over total, as SGLang's HiCache host tier
says it) or AVERAGE (QUOTIENT unbounded: a histogram's mean, its `_sum` over its `_count`).
A spec with a label past `engine, model, target`
(`reason`, `state`) takes it from the part's `reason_label` (several names: the first present),
`reasons` or `reason`. `role_label` names the label in which an engine says its role in a
disaggregated deployment (SGLang's `engine_type`), `roles` maps its values onto `prefill`,
`decode` and `both`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from inferwatch.catalog import MetricSpec

SUM, RATIO, PRODUCT, HISTOGRAM, SUM_COUNT = "sum", "ratio", "product", "histogram", "sum_count"
MEAN, LATEST, QUOTIENT, AVERAGE = "mean", "latest", "quotient", "average"
Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Part:
    """One native family's contribution."""

    family: str  # the parser's family name (a counter's without `_total`)
    where: Pairs = ()  # keep only samples with these label values (sub-label pivot)
    scale: float = 1.0  # unit conversion (1e-6 for µs); applied to `le` bounds too
    suffix: str | None = None  # `_sum`, `_count`: which samples; None: the value samples
    from_labels: tuple[str, ...] = ()  # multiply by these numeric label values (info gauges)
    reason_label: str | tuple[str, ...] = ""  # the native label(s) holding a reason or state
    reasons: Pairs = ()  # native reason value -> catalogue reason; unknown ones -> other
    reason: str = ""  # one fixed reason for all samples
    sign: float = 1.0
    count_label: str = ""  # LATEST: the value is the number of items in this comma list


@dataclass(frozen=True)
class Source:
    """One way to feed a concept; `weight` gives per-rank capacities for RATIO."""

    parts: tuple[Part, ...]
    op: str = SUM
    weight: Source | None = None

    @property
    def name(self) -> str:
        """The native metric(s) behind it, as `source_info` reports them."""
        return "+".join(dict.fromkeys(p.family for p in self.parts))


@dataclass(frozen=True)
class Rule:
    spec: MetricSpec
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class Mapping:
    """One engine family's mapping. `known` lists families (or prefixes) deliberately left
    out, so that only new or renamed families count as unmapped."""

    engine: str
    rules: tuple[Rule, ...]
    known: tuple[str, ...] = ()
    rename: Callable[[str], str] | None = None
    model_from_info: bool = False  # its metrics name no model: its info endpoint does
    model_labels: tuple[str, ...] = ()  # labels naming the model besides model_name/model
    instance_label: str = ""  # a gateway's label naming each worker: one set of series each
    role_label: str = ""  # the label saying prefill or decode, where the engine says it
    roles: Pairs = ()  # its values -> prefill, decode, both

    def families(self) -> set[str]:
        """Every native family any rule reads."""
        out: set[str] = set()
        for rule in self.rules:
            for source in rule.sources:
                out.update(_source_families(source))
        return out


def _source_families(source: Source) -> set[str]:
    names = {p.family for p in source.parts}
    return names | (_source_families(source.weight) if source.weight else set())


def one(family: str, op: str = SUM, **part: object) -> Source:
    """A source of one part."""
    return Source((Part(family, **part),), op)  # type: ignore[arg-type]


def hist(family: str, scale: float = 1.0) -> Source:
    """A native histogram, re-bucketed."""
    return Source((Part(family, scale=scale),), HISTOGRAM)


def rule(spec: MetricSpec, *sources: Source) -> Rule:
    return Rule(spec, sources)


def compose(engine: str, *mappings: Mapping, known: tuple[str, ...] = (),
            **fields: object) -> Mapping:
    """Mappings joined: for each spec, the sources of earlier mappings take precedence;
    `fields` are the joined mapping's other fields (model_labels, rename)."""
    by_spec: dict[MetricSpec, list[Source]] = {}
    for m in mappings:
        for r in m.rules:
            by_spec.setdefault(r.spec, []).extend(r.sources)
    rules = tuple(Rule(spec, tuple(srcs)) for spec, srcs in by_spec.items())
    return Mapping(engine, rules, sum((m.known for m in mappings), known),
                   **fields)  # type: ignore[arg-type]
