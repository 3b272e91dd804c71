"""promtool's unit-test files as Prometheus 2.42 reads them (cmd/promtool/unittest.go): the
strict YAML shape, model.Duration (`1h30m`, `1d`, no fractions), series in the expanding
notation (`1+2x10` adds the step to a running value, `_` and `_x3` skip, `stale` is a stale
marker), and the texts promtool prints: labels.String(), Go's Duration.String() and
model.Duration.String()."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from inferwatch.alert_rules.promql_ast import PromQLError, VectorSel, parse
from inferwatch.alert_rules.sources.gomath import parse_float

PROM_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?"
                           r"(?:(\d+)s)?(?:(\d+)ms)?$")
UNITS_MS = (365 * 86400_000, 7 * 86400_000, 86400_000, 3600_000, 60_000, 1000, 1)
STALE = None  # a stale marker in a series' values; an omitted sample is not listed at all


class TestFileError(ValueError):
    """The file does not have promtool's shape (promtool: yaml.UnmarshalStrict fails)."""


def prom_duration(value: Any, where: str) -> int:
    """model.ParseDuration, in milliseconds."""
    text = str(value)
    if text == "0":
        return 0
    match = PROM_DURATION.match(text)
    if not text or not match or not any(match.groups()):
        raise TestFileError(f"{where}: not a valid duration string: {text!r}")
    return sum(int(g) * unit for g, unit in zip(match.groups(), UNITS_MS, strict=True) if g)


def model_duration_string(ms: int) -> str:
    """model.Duration.String(): `1d`, `1h30m`, `90d`, `0s`."""
    if ms == 0:
        return "0s"
    out = ""
    for unit, mult, exact in (("y", UNITS_MS[0], True), ("w", UNITS_MS[1], True),
                              ("d", UNITS_MS[2], False), ("h", UNITS_MS[3], False),
                              ("m", UNITS_MS[4], False), ("s", 1000, False), ("ms", 1, False)):
        if exact and ms % mult:
            continue
        if ms // mult > 0:
            out += f"{ms // mult}{unit}"
            ms -= ms // mult * mult
    return out


def go_duration_string(ms: int) -> str:
    """time.Duration.String() of whole milliseconds: `4m45s`, `1h0m0s`, `1.5s`, `500ms`."""
    if ms == 0:
        return "0s"
    sign, ms = ("-", -ms) if ms < 0 else ("", ms)
    if ms < 1000:
        return f"{sign}{ms}ms"
    seconds = f"{ms // 1000 % 60}" + (f".{ms % 1000:03d}".rstrip("0") if ms % 1000 else "")
    minutes, hours = ms // 60_000 % 60, ms // 3600_000
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def go_quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def labels_string(labels: dict[str, str]) -> str:
    """labels.String(): every label sorted by name, values quoted."""
    return "{" + ", ".join(f"{k}={go_quote(v)}" for k, v in sorted(labels.items())) + "}"


def parse_metric(text: str) -> dict[str, str]:
    """parser.ParseMetric: `name{a="b"}`, `{__name__="name", a="b"}` or `{}` (no labels, which
    a selector may not be)."""
    if re.fullmatch(r"\s*\{\s*\}\s*", text):
        return {}
    try:
        expr = parse(text)
    except PromQLError as err:
        raise ValueError(str(err)) from None
    if not isinstance(expr, VectorSel) or expr.offset or any(
            op != "=" for _, op, _ in expr.matchers):
        raise ValueError(f"{text!r} is not a series (name and label=\"value\" pairs)")
    return {k: v for k, _, v in expr.matchers}


# The series notation as promql/parser lexes it (lexValueSequence): no hexadecimal; Inf and NaN
# are words, so a word that runs into `x` ("NaNx2", "stalex2") is an identifier promtool refuses
_DEC = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_WORD = r"(?i:inf|nan)"
SERIES_VALUE = re.compile(rf"[+-]?(?:{_DEC}|{_WORD})")
SERIES_TERM = re.compile(rf"([+-]?{_DEC}|[+-]?{_WORD}(?=[+-])|_)([+-]{_DEC})?x(\d+)")


def expand_values(text: str) -> list[tuple[bool, float | None]]:
    """The expanding notation: per step, (present, value); value None is a stale marker."""
    out: list[tuple[bool, float | None]] = []
    for token in str(text).split():
        if token in ("_", "stale"):
            out.append((token == "stale", None))
            continue
        if SERIES_VALUE.fullmatch(token):
            out.append((True, parse_float(token)))
            continue
        term = SERIES_TERM.fullmatch(token)
        if term is None:
            raise ValueError(f"invalid series value {token!r}")
        start, step, times = term[1], term[2], int(term[3])
        if start == "_":
            if step:
                raise ValueError(f"invalid series value {token!r}")
            out += [(False, None)] * times
            continue
        value = parse_float(start)
        increment = parse_float(step) if step else 0.0
        for _ in range(times + 1):
            out.append((True, value))
            value += increment
    return out


@dataclass
class SeriesInput:
    labels: dict[str, str]
    samples: list[tuple[int, float | None]]  # (ms, value); None: stale marker


@dataclass
class TestGroup:
    interval: int
    series: list[SeriesInput]
    alert_tests: list[dict[str, Any]] = field(default_factory=list)
    expr_tests: list[dict[str, Any]] = field(default_factory=list)
    external_labels: dict[str, str] = field(default_factory=dict)
    external_url: str = ""
    name: str = ""


FILE_KEYS = {"rule_files", "evaluation_interval", "group_eval_order", "tests"}
GROUP_KEYS = {"interval", "input_series", "alert_rule_test", "promql_expr_test",
              "external_labels", "external_url", "name"}


def strict(data: Any, keys: set[str], where: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TestFileError(f"{where}: a mapping is needed")
    unknown = sorted(set(data) - keys)
    if unknown:
        raise TestFileError(f"{where}: field {unknown[0]} not found")
    return data


def read_test_group(raw: Any, where: str) -> TestGroup:
    data = strict(raw, GROUP_KEYS, where)
    interval = prom_duration(data.get("interval", 0), f"{where}: interval")
    series = []
    for item in data.get("input_series") or []:
        item = strict(item, {"series", "values"}, f"{where}: input_series")
        try:
            labels = parse_metric(str(item.get("series", "")))
            values = expand_values(str(item.get("values", "")))
        except ValueError as err:
            raise TestFileError(f"{where}: input_series: {err}") from None
        samples = [(i * interval, v) for i, (present, v) in enumerate(values) if present]
        series = [s for s in series if s.labels != labels]  # a later definition replaces
        series.append(SeriesInput(labels, samples))
    alerts = []
    for case in data.get("alert_rule_test") or []:
        case = strict(case, {"eval_time", "alertname", "exp_alerts"}, f"{where}: alert_rule_test")
        case["eval_ms"] = prom_duration(case.get("eval_time", 0), f"{where}: eval_time")
        alerts.append(case)
    exprs = []
    for case in data.get("promql_expr_test") or []:
        case = strict(case, {"expr", "eval_time", "exp_samples"}, f"{where}: promql_expr_test")
        case["eval_ms"] = prom_duration(case.get("eval_time", 0), f"{where}: eval_time")
        exprs.append(case)
    external = {str(k): str(v) for k, v in (data.get("external_labels") or {}).items()}
    return TestGroup(interval, series, alerts, exprs, external, str(data.get("external_url")
                                                                    or ""), str(data.get(
                                                                        "name") or ""))


def sample_value(value: Any) -> float:
    if isinstance(value, bool):
        raise TestFileError(f"{value!r} is not a number")
    if isinstance(value, int | float):
        return float(value)
    try:
        return parse_float(str(value)) if not str(value).startswith(".") else float(
            str(value).replace(".", "", 1))
    except ValueError:
        raise TestFileError(f"{value!r} is not a number") from None

