"""Apply a `Mapping` to parsed native families: the engine-independent values of one scrape.

Series are keyed by model (and finish reason). Ranks (vLLM `engine`, SGLang `dp_rank`) and Ray
worker labels are summed away, except for ratios, which take the capacity-weighted mean (the
plain mean where capacities are unknown) and are never summed. SGLang duplicates from non-zero
`tp_rank`/`pp_rank` are ignored; `-1` sentinels and NaN are dropped; a ratio above 1 is dropped
and reported, never guessed into range. Placeholder model names (`undefined`, `unknown`,
empty) are published as `model=""`, reported once as a problem when the engine wrote one. A
gateway page (`Mapping.instance_label`, SGLang's `worker_addr`) is normalised per worker: each
worker's series in `Normalised.instances`, published with a `worker` label. `Normalised.role`
is the role the engine says it has (`Mapping.role_label`): `prefill`, `decode`, `both`, or ""
when it says none or several.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field, replace

from inferwatch.catalog import MetricSpec
from inferwatch.exporter.collectors.engines.mapping import (
    AVERAGE,
    HISTOGRAM,
    LATEST,
    MEAN,
    PRODUCT,
    QUOTIENT,
    RATIO,
    SUM_COUNT,
    Mapping,
    Part,
    Source,
)
from inferwatch.exporter.collectors.engines.rebucket import Histogram, rebucket
from inferwatch.exporter.collectors.engines.selection import (
    MODEL_LABELS,
    PLACEHOLDER_MODELS,
    Context,
    Sample,
    number,
)
from inferwatch.exposition.parser import Family

DROP_PREFIXES = ("python_", "process_")
DROP_SUFFIXES = ("_created",)
PREFIX = "inferwatch_engine_"

Key = tuple[str, ...]  # (model,) or (model, reason or state)
Value = float | Histogram


@dataclass
class Normalised:
    """One scrape, mapped: values per spec and key, the source of each concept, and what is
    left over."""

    values: dict[MetricSpec, dict[Key, Value]] = field(default_factory=dict)
    sources: dict[tuple[str, str], str] = field(default_factory=dict)  # (concept, model)
    unmapped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    instances: dict[str, Normalised] = field(default_factory=dict)  # per gateway worker
    role: str = ""  # prefill, decode or both, as the engine says; "" when it does not


def concept(spec: MetricSpec) -> str:
    """The concept name of a catalogue spec (`kv_cache_usage_ratio`)."""
    return spec.name.removeprefix(PREFIX)


def normalise(families: dict[str, Family], mapping: Mapping,
              default_model: str = "") -> Normalised:
    """Map one parsed body with `mapping`."""
    if mapping.rename:
        families = {mapping.rename(name): fam for name, fam in reversed(families.items())}
    if mapping.instance_label and _labelled(families, mapping.instance_label):
        split = _split(families, mapping.instance_label)
        if len(split) > 1 or "" not in split:
            return _per_instance(split, mapping, default_model)
    models = MODEL_LABELS + mapping.model_labels
    ctx = Context(families, _default_model(families, default_model, models), models)
    out = Normalised(role=_role(families, mapping))
    for r in mapping.rules:
        for source in r.sources:
            if not ctx.present(source):
                continue
            values = _evaluate(ctx, source, r.spec, out.problems)
            if values:
                out.values[r.spec] = values
                for key in values:
                    out.sources[concept(r.spec), key[0]] = source.name
            break
    used = mapping.families()
    out.unmapped = sorted(n for n in families if n not in used and not _dropped(n)
                          and n.removesuffix("_total") not in used
                          and not n.startswith(mapping.known))
    out.problems += [f"model name {name!r} is a placeholder; published as model=\"\""
                     for name in sorted(ctx.placeholders)]
    return out


def _labelled(families: dict[str, Family], label: str) -> bool:
    """Whether any family's first sample carries `label` (a cheap look before splitting)."""
    return any(k == label for fam in families.values() for _, pairs, _ in fam.samples[:1]
               for k, _ in pairs)


def _split(families: dict[str, Family], label: str) -> dict[str, dict[str, Family]]:
    """The families of each value of `label` ("": samples without it)."""
    out: dict[str, dict[str, Family]] = defaultdict(dict)
    for name, fam in families.items():
        by: dict[str, list] = defaultdict(list)
        for sample in fam.samples:
            by[next((v for k, v in sample[1] if k == label), "")].append(sample)
        for value, samples in by.items():
            out[value][name] = replace(fam, samples=samples)
    return dict(out)


def _per_instance(split: dict[str, dict[str, Family]], mapping: Mapping,
                  default_model: str) -> Normalised:
    """A gateway page: each worker normalised alone; provenance and problems joined."""
    plain = replace(mapping, instance_label="", rename=None)
    out = normalise(split.pop("", {}), plain, default_model)
    for worker, fams in sorted(split.items()):
        sub = out.instances[worker] = normalise(fams, plain, default_model)
        out.sources.update(sub.sources)
        out.problems += [p for p in sub.problems if p not in out.problems]
        out.unmapped = sorted(set(out.unmapped) | set(sub.unmapped))
    roles = {sub.role for sub in out.instances.values()} - {""}
    out.role = roles.pop() if len(roles) == 1 else ""
    return out


def _role(families: dict[str, Family], mapping: Mapping) -> str:
    """The one role the page's first samples say (`role_label`), else ""."""
    if not mapping.role_label:
        return ""
    roles = dict(mapping.roles)
    said = {roles.get(v, "") for fam in families.values() for _, pairs, _ in fam.samples[:8]
            for k, v in pairs if k == mapping.role_label} - {""}
    return said.pop() if len(said) == 1 else ""


def _dropped(name: str) -> bool:
    return name.startswith(DROP_PREFIXES) or name.endswith(DROP_SUFFIXES)


def _default_model(families: dict[str, Family], fallback: str,
                   model_labels: tuple[str, ...] = MODEL_LABELS) -> str:
    """The one model a body names, for its samples that carry no model label."""
    models: set[str] = set()
    for fam in families.values():
        models.update(v for _, labels, _ in fam.samples[:64] for k, v in labels
                      if k in model_labels)
        models -= PLACEHOLDER_MODELS
        if len(models) > 1:  # several: none is the one
            break
    return models.pop() if len(models) == 1 else _model_name(fallback)


def _model_name(name: str) -> str:
    return "" if name.strip().lower() in PLACEHOLDER_MODELS else name


def _evaluate(ctx: Context, source: Source, spec: MetricSpec,
              problems: list[str]) -> dict[Key, Value]:
    if source.op == HISTOGRAM:
        return _histogram(ctx, source.parts[0], spec)
    if source.op == SUM_COUNT:
        return _sum_count(ctx, source)
    if source.op in (RATIO, MEAN):
        return _ratio(ctx, source, problems)
    if source.op == PRODUCT:
        return _by_model(_per_rank(ctx, source))
    if source.op in (QUOTIENT, AVERAGE):
        return _quotient(ctx, source, problems, bounded=source.op == QUOTIENT)
    if source.op == LATEST:
        return _latest(ctx, source, reasons=len(spec.labels) > 3)
    return _sum(ctx, source, reasons=len(spec.labels) > 3)


def _reason(part: Part, labels: dict[str, str]) -> str:
    """The reason (or state) of a sample: fixed, mapped, or `other` when unknown."""
    if part.reason:
        return part.reason
    names = (part.reason_label,) if isinstance(part.reason_label, str) else part.reason_label
    native = next((labels[n] for n in names if n in labels), "")
    return dict(part.reasons).get(native, "other")


def _latest(ctx: Context, source: Source, reasons: bool) -> dict[Key, Value]:
    """Per part and rank, the series with the newest value (a timestamp); its label read as a
    number (`from_labels`) or as a count of comma-separated items (`count_label`); summed per
    model (and reason or state)."""
    out: dict[Key, Value] = defaultdict(float)
    for part in source.parts:
        newest: dict[tuple[str, str], Sample] = {}
        for s in ctx.select(replace(part, from_labels=())):
            if (s.model, s.rank) not in newest or s.value > newest[s.model, s.rank].value:
                newest[s.model, s.rank] = s
        for (model, _rank), s in newest.items():
            if part.count_label:
                value = float(sum(1 for x in s.labels.get(part.count_label, "").split(",")
                                  if x.strip()))
            else:
                value = math.prod(number(s.labels.get(k)) for k in part.from_labels)
            if not math.isnan(value):
                out[(model, _reason(part, s.labels)) if reasons else (model,)] += value
    return dict(out)


def _sum(ctx: Context, source: Source, reasons: bool) -> dict[Key, Value]:
    out: dict[Key, Value] = defaultdict(float)
    for part in source.parts:
        for s in ctx.select(part):
            if math.isnan(s.value):
                continue
            key = (s.model, _reason(part, s.labels)) if reasons else (s.model,)
            out[key] += s.value
    return {k: max(v, 0.0) if reasons else v for k, v in out.items()}


def _per_rank(ctx: Context, source: Source) -> dict[tuple[str, str], float]:
    """Values by (model, rank): one part summed, or several multiplied."""
    out: dict[tuple[str, str], float] = {}
    for i, part in enumerate(source.parts):
        seen: dict[tuple[str, str], float] = defaultdict(float)
        for s in ctx.select(part):
            seen[s.model, s.rank] += s.value
        out = dict(seen) if i == 0 else {k: v * seen[k] for k, v in out.items() if k in seen}
    return {k: v for k, v in out.items() if not math.isnan(v)}



def _by_model(values: dict[tuple[str, str], float]) -> dict[Key, Value]:
    out: dict[Key, Value] = defaultdict(float)
    for (model, _rank), v in values.items():
        out[(model,)] += v
    return dict(out)


def _ratio(ctx: Context, source: Source, problems: list[str]) -> dict[Key, Value]:
    """Capacity-weighted mean per model; the plain mean where a rank's capacity is unknown.
    A ratio above 1 is dropped; a MEAN (an engine's average, e.g. accepted tokens per step)
    has no upper bound."""
    weights: dict[str, float] = defaultdict(float)
    if source.weight is not None:
        for (_model, rank), w in _per_rank(ctx, source.weight).items():
            weights[rank] += w
    by_model: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for s in ctx.select(source.parts[0]):
        if math.isnan(s.value) or s.value < 0:  # -1: "no data"
            continue
        if s.value > 1 and source.op == RATIO:
            problems.append(f"{source.parts[0].family}={s.value:g} is above 1; dropped")
            continue
        by_model[s.model].append((s.rank, s.value))
    out: dict[Key, Value] = {}
    for model, pairs in by_model.items():
        ws = [weights.get(rank, 0.0) for rank, _ in pairs]
        if all(w > 0 for w in ws):
            out[(model,)] = sum(w * v for w, (_, v) in zip(ws, pairs, strict=True)) / sum(ws)
        else:
            out[(model,)] = sum(v for _, v in pairs) / len(pairs)
    return out


def _histogram(ctx: Context, part: Part, spec: MetricSpec) -> dict[Key, Value]:
    """Each native series re-bucketed, then summed per model."""
    series: dict[tuple, dict[str, object]] = {}
    counts = replace(part, scale=1.0)  # the scale converts bounds and sums, not counts
    entries: dict[tuple, dict[str, object]] = {}  # (model, labels as written less `le`)
    bounds: dict[str | None, float] = {}  # `le` as written -> the bound, scaled
    for suffix in ("_bucket", "_sum", "_count"):
        for s in ctx.select(counts, suffix):
            written, le = s.pairs, s.labels.get("le")
            if le is not None:
                i = written.index(("le", le))
                written = written[:i] + written[i + 1:]
            entry = entries.get((s.model, written))
            if entry is None:  # one series: the model and its labels but `le`, in name order
                ident = (s.model, tuple(sorted(
                    (k, v) for k, v in dict(written).items() if k != "le")))
                entry = entries[s.model, written] = series.setdefault(ident, {"le": []})
            if suffix == "_bucket":
                bound = bounds.get(le)
                if bound is None:
                    bound = bounds[le] = number(le) * part.scale
                entry["le"].append((bound, s.value))  # type: ignore[union-attr]
            else:
                entry[suffix] = s.value * (part.scale if suffix == "_sum" else 1.0)
    out: dict[Key, Value] = {}
    for (model, _labels), entry in series.items():
        hist = _one_histogram(entry, spec.buckets)
        if hist is None:
            continue
        if (model,) in out:
            out[(model,)].add(hist)
        else:
            out[(model,)] = hist
    return out


def _one_histogram(entry: dict[str, object], canonical: tuple[float, ...]) -> Histogram | None:
    """One native series on canonical bounds; None when it has no count (cut off)."""
    le: list[tuple[float, float]] = entry["le"]  # type: ignore[assignment]
    count = entry.get("_count")
    if count is None:
        count = next((c for b, c in le if math.isinf(b)), None)
    if count is None or "_sum" not in entry:
        return None
    return Histogram(rebucket(le, count, canonical), float(entry["_sum"]), float(count))


def _sum_count(ctx: Context, source: Source) -> dict[Key, Value]:
    """A histogram known only by sum and count (Triton's cumulative µs counters)."""
    total = _sum(ctx, Source(source.parts[:1]), reasons=False)
    count = _sum(ctx, Source(source.parts[1:]), reasons=False)
    return {k: Histogram([], float(v), float(count[k])) for k, v in total.items() if k in count}


def _quotient(ctx: Context, source: Source, problems: list[str],
              bounded: bool = True) -> dict[Key, Value]:
    """Per model, the first part's sum over ranks divided by the others' sum: none where the
    total is 0 or absent; `bounded`, above 1 dropped and reported, as a ratio is."""
    used = _sum(ctx, Source(source.parts[:1]), reasons=False)
    total = _sum(ctx, Source(source.parts[1:]), reasons=False)
    out: dict[Key, Value] = {}
    for key, value in used.items():
        whole = total.get(key, 0.0)
        if not whole > 0:
            continue
        if bounded and value / whole > 1:
            problems.append(f"{source.parts[0].family}/{source.parts[1].family}="
                            f"{value / whole:g} is above 1; dropped")
            continue
        out[key] = value / whole
    return out
