"""Reads promtool unit-test files: series notation ('0+10x40', '1 0x5', '_') and the
expected alerts, so the embedded engine can replay the same cases; and runs promtool as the
oracle, reading back its answers to expression tests and the alerts it found firing."""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path

import yaml

from inferwatch.alert_rules.compile import CompiledAlert
from inferwatch.alert_rules.evaluate import FIRING, Outcome, RuleState, step
from inferwatch.alert_rules.promql import Node
from inferwatch.alert_rules.sources.promql_eval import Evaluator
from inferwatch.alert_rules.sources.window import Window
from inferwatch.core.durations import parse_duration
from tests.support.procs import need_binary

SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
TERM = re.compile(r"^(-?[0-9.]+(?:e[+-]?[0-9]+)?)([+-][0-9.]+)?x([0-9]+)$")


def expand(values: str) -> list[float | None]:
    """promtool's expanding notation; None for '_' (no sample)."""
    out: list[float | None] = []
    for token in values.split():
        if token == "_":
            out.append(None)
            continue
        term = TERM.match(token)
        if not term:
            out.append(float(token))
            continue
        start, step, count = float(term[1]), float(term[2] or 0), int(term[3])
        out += [start + i * step for i in range(count + 1)]
    return out


def series_labels(text: str) -> dict[str, str]:
    match = SERIES.match(text)
    assert match, text
    return {"__name__": match[1], **dict(LABEL.findall(match[2]))}


def fill(window: Window, input_series: list[dict], interval: float) -> None:
    """Load a test's input series into a window, sample i at i × interval."""
    for item in input_series:
        labels = series_labels(item["series"])
        for i, value in enumerate(expand(item["values"])):
            if value is not None:
                window.ingest(str(id(item)), [(labels, value)], int(i * interval * 1000))


def eval_times(test: dict) -> list[float]:
    return sorted({parse_duration(c["eval_time"]) for c in test.get("alert_rule_test", [])})


# --- promtool as the oracle: its answers to expression and alert tests ---------------------

GO_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:([\d.]+)s)?(?:([\d.]+)ms)?$")
CASE = re.compile(r'^\s*expr: (".*"), time: (\S+),$')
GOT = re.compile(r'([a-zA-Z_:]*\{[^}]*\}) ([^,\s]+)')
FIRING_LINE = re.compile(r"^\s*alertname: (\S+), time: (\S+), $")


def go_duration(text: str) -> float:
    """Seconds of a Go `time.Duration.String()` ("5m11.5s", "300ms", "0s")."""
    match = GO_DURATION.match(text)
    assert match and text, text
    h, m, s, ms = (float(g) if g else 0.0 for g in match.groups())
    return h * 3600 + m * 60 + s + ms / 1000


def run_promtool(tmp_path: Path, test: dict, rules: list[dict] | None = None) -> str:
    """`promtool test rules` on one test group (and a rule file of `rules`): its output."""
    files = []
    if rules:
        (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": rules}, sort_keys=False))
        files = ["rules.yml"]
    suite = {"rule_files": files, "evaluation_interval": test.pop("evaluation_interval", "30s"),
             "tests": [test]}
    (tmp_path / "t.yml").write_text(yaml.safe_dump(suite, sort_keys=False))
    result = subprocess.run([need_binary("promtool"), "test", "rules", "t.yml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=False)
    return result.stdout + result.stderr


def expr_answers(output: str) -> dict[tuple[str, float], dict[str, float]]:
    """Every `promql_expr_test` that expected no samples and got some: (expr, time) → the
    samples, keyed by Go's label text. Values are printed with strconv 'E' -1 (shortest
    round-trip), so float() gives back the very bits Prometheus computed."""
    answers: dict[tuple[str, float], dict[str, float]] = {}
    lines = output.splitlines()
    for i, line in enumerate(lines):
        case = CASE.match(line)
        if case:
            got = lines[i + 2].strip().removeprefix("got: ")
            answers[(json.loads(case[1]), go_duration(case[2]))] = {
                labels: float(value) for labels, value in GOT.findall(got)}
    return answers


def firing_times(output: str) -> dict[str, set[float]]:
    """Per alert name, the eval times at which promtool found it firing (each test there
    expected no alert, so every firing one is reported)."""
    out: dict[str, set[float]] = {}
    for line in output.splitlines():
        match = FIRING_LINE.match(line)
        if match:
            out.setdefault(match[1], set()).add(go_duration(match[2]))
    return out


def go_labels(labels: dict[str, str]) -> str:
    """Go's labels.String(): every label, __name__ too, sorted by name."""
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def ours(window: Window, expr: Node, t: float) -> dict[str, float]:
    """The embedded evaluator's answer, keyed as promtool prints it."""
    return {go_labels(labels): value
            for labels, value in Evaluator(window, round(t * 1000)).vector(expr)}


def ours_firing(window: Window, expr: Node, until: float, interval: float,
                for_: float = 0.0) -> set[float]:
    """The eval times (0, interval, ... until) at which our state machine has the rule
    firing, fed by the embedded evaluator."""
    state = RuleState(CompiledAlert("g/A", "A", expr, None, None, for_, 0.0, (), (), "ok",
                                    "error"))
    out, t = set(), 0.0
    while t <= until:
        samples = Evaluator(window, round(t * 1000)).vector(expr)
        step(state, Outcome(tuple(samples)), t)
        if any(a.state == FIRING for a in state.active.values()):
            out.add(t)
        t += interval
    return out


def bits_equal(a: float, b: float) -> bool:
    """The same float64, NaN equal to NaN (and 0.0 apart from -0.0)."""
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) ==
                                                 math.copysign(1, b))
