"""The sample selection every mapping op shares: which native samples a `Part` reads.

A family's samples are read once per scrape (labels, model, rank) and grouped by sample name.
Duplicates from non-zero `tp_rank`/`pp_rank` are dropped (only rank 0 reports). The model is
the first of the model labels a sample has, else the body's default model; a placeholder name
(`undefined`, `unknown`, empty) is the default model too, and noted in `placeholders`. A
sample's rank is its vLLM `engine` or SGLang `dp_rank`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from typing import NamedTuple

from inferwatch.exporter.collectors.engines.mapping import HISTOGRAM, Pairs, Part, Source
from inferwatch.exposition.parser import Family

MODEL_LABELS = ("model_name", "model")
RANK_LABELS = ("engine", "dp_rank")
DUPLICATE_RANKS = ("tp_rank", "pp_rank")  # only rank 0 reports; others duplicate it
PLACEHOLDER_MODELS = frozenset({"", "undefined", "unknown"})


class Sample(NamedTuple):
    model: str
    rank: str
    labels: dict[str, str]
    value: float
    pairs: Pairs  # the labels as written (histograms key their series by them)


# One native sample kept for selection: labels, value, model (the default where it names none
# or a placeholder), the placeholder it wrote (or None), rank, labels as written.
_Row = tuple[dict[str, str], float, str, "str | None", str, Pairs]


class Context:
    """The parsed families and the sample selection every op shares. Each family's samples
    are read once per scrape (labels, model, rank, rank duplicates dropped) and grouped by
    sample name, however many rules and suffixes read them."""

    def __init__(self, families: dict[str, Family], default_model: str,
                 model_labels: tuple[str, ...] = MODEL_LABELS):
        self.families = families
        self.default_model = default_model
        self.model_labels = model_labels
        self.placeholders: set[str] = set()  # placeholder model names the engine wrote
        self._rows: dict[str, dict[str, list[_Row]]] = {}

    def present(self, source: Source) -> bool:
        """Whether the source's primary part has samples (a histogram: a `_sum`)."""
        suffix = "_sum" if source.op == HISTOGRAM else None
        return next(self.select(source.parts[0], suffix), None) is not None

    def select(self, part: Part, suffix: str | None = None) -> Iterator[Sample]:
        """The samples of a part, scaled, sub-label filtered, rank duplicates skipped."""
        key = part.family if part.family in self.families else part.family + "_total"
        fam = self.families.get(key)
        if fam is None:  # (a counter written without its TYPE line is untyped `x_total`)
            return
        rows = self._rows.get(key)
        if rows is None:
            rows = self._rows[key] = self._read(fam)
        want = _sample_name(fam, part.suffix if suffix is None else suffix)
        where, from_labels = part.where, part.from_labels
        for labels, value, model, placeholder, rank, pairs in rows.get(want, ()):
            if where and any(labels.get(k) != v for k, v in where):
                continue
            for label in from_labels:
                value *= number(labels.get(label))
            if placeholder is not None:
                self.placeholders.add(placeholder)
            yield Sample(model, rank, labels, value * part.scale * part.sign, pairs)

    def _read(self, fam: Family) -> dict[str, list[_Row]]:
        """A family's samples by sample name, without rank duplicates."""
        out: dict[str, list[_Row]] = defaultdict(list)
        model_labels, default = self.model_labels, self.default_model
        (dup_a, dup_b), (rank_a, rank_b) = DUPLICATE_RANKS, RANK_LABELS
        for name, pairs, value in fam.samples:
            labels = dict(pairs)
            if labels.get(dup_a, "0") != "0" or labels.get(dup_b, "0") != "0":
                continue
            model, placeholder = default, None
            for k in model_labels:
                if k in labels:
                    model = labels[k]
                    if model.strip().lower() in PLACEHOLDER_MODELS:
                        placeholder, model = model, default
                    break
            rank = labels[rank_a] if rank_a in labels else labels.get(rank_b, "")
            out[name].append((labels, value, model, placeholder, rank, pairs))
        return out


def _sample_name(fam: Family, suffix: str | None) -> str:
    if suffix is not None:
        return fam.name + suffix
    return fam.name + "_total" if fam.type == "counter" else fam.name


def number(text: str | None) -> float:
    try:
        return float(text) if text is not None else math.nan
    except ValueError:
        return math.nan
