"""The families of one engine target: its normalised series, its health, the scrapes refused
by a limit, and where each concept came from (`source_info`, `source_lost`,
`unmapped_families`). A gateway's workers (`Normalised.instances`) are published with a
`worker` label, joined into one family per name. Every series of a target carries its `role`
(prefill, decode or both: what the engine says, else the target's config or pod annotation,
else both)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

from prometheus_client.core import Metric
from prometheus_client.utils import floatToGoString

from inferwatch import catalog
from inferwatch.catalog import MetricSpec
from inferwatch.exporter.collectors.engines.limits import NAMES as LIMITS
from inferwatch.exporter.collectors.engines.normalise import Normalised
from inferwatch.exporter.collectors.engines.rebucket import Histogram

Provenance = dict[tuple[str, str], str]  # (concept, model) -> native source


@dataclass(frozen=True)
class Identity:
    """The labels every series of one target carries; `extra` is namespace/pod when known."""

    engine: str
    target: str
    extra: tuple[tuple[str, str], ...] = ()
    role: str = "both"

    def family(self, spec: MetricSpec) -> Metric:
        return spec.family([*spec.labels, "role", *(k for k, _ in self.extra)])

    def values(self, spec: MetricSpec, model: str = "", **more: str) -> list[str]:
        known = {"engine": self.engine, "target": self.target, "model": model, **more}
        return [*(known.get(n, "") for n in spec.labels), self.role,
                *(v for _, v in self.extra)]


def series(ident: Identity, norm: Normalised) -> list[Metric]:
    """The normalised families; histograms on the spec's canonical bounds plus `+Inf`."""
    out = _series(ident, norm)
    for worker, sub in sorted(norm.instances.items()):
        out += _series(replace(ident, extra=(("worker", worker), *ident.extra)), sub)
    return _joined(out)


def _series(ident: Identity, norm: Normalised) -> list[Metric]:
    out = []
    for spec, values in norm.values.items():
        fam = ident.family(spec)
        sub_label = spec.labels[3] if len(spec.labels) > 3 else "reason"
        for key, value in sorted(values.items()):
            labels = ident.values(spec, key[0], **{sub_label: key[1] if len(key) > 1 else ""})
            if isinstance(value, Histogram):
                buckets = list(zip(_bounds(spec.buckets), value.buckets, strict=False))
                fam.add_metric(labels, [*buckets, ("+Inf", value.count)], value.sum)
            else:
                fam.add_metric(labels, value)
        out.append(fam)
    return out


@cache
def _bounds(buckets: tuple[float, ...]) -> tuple[str, ...]:
    """A spec's canonical bounds as `le` values (the catalogue's few layouts, formatted once)."""
    return tuple(floatToGoString(b) for b in buckets)


def _joined(families: list[Metric]) -> list[Metric]:
    """One family per name (a gateway's workers add families of the same names)."""
    by_name: dict[str, Metric] = {}
    for fam in families:
        if fam.name in by_name:
            by_name[fam.name].samples += fam.samples
        else:
            by_name[fam.name] = fam
    return list(by_name.values())


def provenance(ident: Identity, sources: Provenance, lost: Provenance,
               unmapped: int) -> list[Metric]:
    """Which native metric fed each concept, which concepts lost theirs, what is unmapped."""
    out = []
    for spec, entries in ((catalog.ENGINE_SOURCE_INFO, sources),
                          (catalog.ENGINE_SOURCE_LOST, lost)):
        fam = ident.family(spec)
        for (concept, model), source in sorted(entries.items()):
            fam.add_metric(ident.values(spec, model, concept=concept, source_metric=source), 1)
        out.append(fam)
    fam = ident.family(catalog.ENGINE_UNMAPPED_FAMILIES)
    fam.add_metric(ident.values(catalog.ENGINE_UNMAPPED_FAMILIES), unmapped)
    return [*out, fam]


def health(ident: Identity, model: str, up: bool, duration: float) -> list[Metric]:
    """`engine_up` and the scrape duration, reported whether or not the scrape worked."""
    up_fam = ident.family(catalog.ENGINE_UP)
    up_fam.add_metric(ident.values(catalog.ENGINE_UP, model), 1.0 if up else 0.0)
    took = ident.family(catalog.ENGINE_SCRAPE_DURATION)
    took.add_metric(ident.values(catalog.ENGINE_SCRAPE_DURATION, model), duration)
    return [up_fam, took]


def no_limits_exceeded() -> dict[str, int]:
    """A target's refused scrapes per limit, before any: every limit at 0."""
    return dict.fromkeys(LIMITS, 0)


def limits_exceeded(ident: Identity, exceeded: dict[str, int]) -> list[Metric]:
    """Scrapes of this target refused by each limit, for the limits it has broken (a target
    that never broke one publishes no such series)."""
    if not any(exceeded.values()):
        return []
    spec = catalog.ENGINE_SCRAPE_LIMIT_EXCEEDED
    fam = ident.family(spec)
    for limit, count in sorted(exceeded.items()):
        if count:
            fam.add_metric(ident.values(spec, limit=limit), count)
    return [fam]
