"""Text exposition as each engine's metrics library writes it.

Families are built once, engine-neutrally, then written in one of four styles:
prometheus_client (vLLM, SGLang, LMDeploy, trtllm-serve, NIM, Ray), prometheus-cpp (Triton),
Rust metrics-exporter-prometheus (TGI) and llama.cpp's hand-written page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client.utils import floatToGoString

from inferwatch.simulate.engines.stats import Histogram

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class HistValue:
    """A histogram child: native bounds, cumulative counts (last is +Inf), sum."""

    bounds: tuple[float, ...]
    cumulative: tuple[float, ...]
    sum: float

    @classmethod
    def of(cls, hist: Histogram) -> HistValue:
        return cls(hist.bounds, tuple(hist.cumulative()), hist.sum)

    @property
    def count(self) -> float:
        return self.cumulative[-1]


@dataclass(frozen=True)
class SummaryValue:
    quantiles: tuple[tuple[float, float], ...]
    sum: float
    count: float


@dataclass(frozen=True)
class Series:
    labels: Labels
    value: float | HistValue | SummaryValue


@dataclass(frozen=True)
class SimFamily:
    """One metric family; a counter's `name` is its base name (no `_total`)."""

    name: str
    type: str
    help: str | None
    series: tuple[Series, ...]
    created: bool = True


def family(name: str, mtype: str, help_text: str | None,
           series: Iterable[tuple[Labels, float | HistValue | SummaryValue]],
           created: bool = True) -> SimFamily:
    """A family; `created=False` for collectors that emit no `_created` (process, gc)."""
    return SimFamily(name, mtype, help_text, tuple(Series(lb, v) for lb, v in series), created)


def _labelstr(labels: Iterable[tuple[str, str]]) -> str:
    pairs = ",".join(f'{k}="{v}"' for k, v in labels)
    return "{" + pairs + "}" if pairs else ""


def _expand(fam: SimFamily, fmt: Callable[[float], str], order: str,
            total: str = "") -> list[tuple[str, list[tuple[str, str]], float]]:
    """(sample name, labels before ordering, value) in the library's sample order."""
    out: list[tuple[str, list[tuple[str, str]], float]] = []
    for s in fam.series:
        base = list(s.labels)
        v = s.value
        if isinstance(v, HistValue):
            buckets = [(fam.name + "_bucket", [*base, ("le", fmt(b))], c)
                       for b, c in zip((*v.bounds, float("inf")), v.cumulative, strict=True)]
            count, total = (fam.name + "_count", base, v.count), (fam.name + "_sum", base, v.sum)
            out += {"bucket_count_sum": [*buckets, count, total],
                    "bucket_sum_count": [*buckets, total, count],
                    "sum_bucket_count": [total, *buckets, count],
                    "count_sum_bucket": [count, total, *buckets]}[order]
        elif isinstance(v, SummaryValue):
            out += [(fam.name + "_count", base, v.count), (fam.name + "_sum", base, v.sum)]
            out += [(fam.name, [*base, ("quantile", fmt(q))], qv) for q, qv in v.quantiles]
        else:
            out.append((fam.name + (total if fam.type == "counter" else ""), base, v))
    return out


def python_text(families: Iterable[SimFamily], created: float | None,
                hist_order: str = "bucket_count_sum", le_last: bool = False) -> bytes:
    """prometheus_client's text format 0.0.4: sorted labels, `_total`, `_created` gauges."""
    lines: list[str] = []
    for i, fam in enumerate(families):
        name = fam.name + ("_total" if fam.type == "counter" else "")
        lines += [f"# HELP {name} {fam.help}", f"# TYPE {name} {fam.type}"]
        for sname, labels, value in _expand(fam, floatToGoString, hist_order, "_total"):
            ordered = sorted(labels, key=lambda kv: (le_last and kv[0] == "le", kv[0]))
            lines.append(f"{sname}{_labelstr(ordered)} {floatToGoString(value)}")
        if created is not None and fam.created and fam.type in ("counter", "histogram"):
            lines += [f"# HELP {fam.name}_created {fam.help}",
                      f"# TYPE {fam.name}_created gauge"]
            lines += [f"{fam.name}_created{_labelstr(sorted(s.labels))} "
                      f"{floatToGoString(created + 1e-5 * (i + j))}"
                      for j, s in enumerate(fam.series)]
    return ("\n".join(lines) + "\n").encode()


def shortest(value: float) -> str:
    """Shortest round-trip digits with integers bare, as C++ to_chars and Rust Display."""
    if value == float("inf"):
        return "+Inf"
    if value == int(value) and abs(value) < 1e16:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        text = format(value, "f").rstrip("0")
    return text


def cpp_text(families: Iterable[SimFamily]) -> bytes:
    """prometheus-cpp (Triton): std::map label order, count/sum before buckets, `le` last."""
    lines: list[str] = []
    for fam in families:
        lines += [f"# HELP {fam.name} {fam.help}", f"# TYPE {fam.name} {fam.type}"]
        for sname, labels, value in _expand(fam, shortest, "count_sum_bucket"):
            head = sorted(kv for kv in labels if kv[0] not in ("le", "quantile"))
            tail = [kv for kv in labels if kv[0] in ("le", "quantile")]
            lines.append(f"{sname}{_labelstr(head + tail)} {shortest(value)}")
    return ("\n".join(lines) + "\n").encode()


def rust_text(families: Iterable[SimFamily]) -> bytes:
    """metrics-exporter-prometheus (TGI): counters, gauges, histograms, each by name."""
    rank = {"counter": 0, "gauge": 1, "histogram": 2, "summary": 3}
    lines: list[str] = []
    for fam in sorted(families, key=lambda f: (rank[f.type], f.name)):
        if fam.help is not None:
            lines.append(f"# HELP {fam.name} {fam.help}")
        lines.append(f"# TYPE {fam.name} {fam.type}")
        for sname, labels, value in _expand(fam, shortest, "bucket_sum_count"):
            lines.append(f"{sname}{_labelstr(labels)} {shortest(value)}")
        lines.append("")
    return ("\n".join(lines) + "\n").encode()


def llamacpp_text(families: Iterable[SimFamily]) -> bytes:
    """llama.cpp: HELP, TYPE and one unlabelled sample; values as C++ ostream writes them."""
    lines: list[str] = []
    for fam in families:
        value = fam.series[0].value
        if not isinstance(value, int | float):
            raise TypeError(f"{fam.name}: llama.cpp writes plain numbers only")
        lines += [f"# HELP {fam.name} {fam.help}", f"# TYPE {fam.name} {fam.type}",
                  f"{fam.name} {value:g}"]
    return ("\n".join(lines) + "\n").encode()
