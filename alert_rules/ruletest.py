"""`inferwatch rules test FILE...`: promtool's rule unit tests (`promtool test rules`, cmd/
promtool/unittest.go of Prometheus 2.42) run on the embedded evaluator, with promtool's
output and exit codes: `Unit Testing:  FILE`, then `  SUCCESS`, or `  FAILED:` and each
failure on stderr; exit 1 when any file failed.

As promtool does, every group is evaluated at 0, evaluation_interval, ... up to the largest
eval_time, the input samples appended up to each step only (an expression test at a time
past the last step sees no later sample); alerts are checked after the step at or before
their eval_time, expressions after the last step. Rule files may be Prometheus rule files or
our own rule language (compiled first)."""

from __future__ import annotations

import glob
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import yaml

from inferwatch.alert_rules.annotate import annotate_sync
from inferwatch.alert_rules.compile import CompiledAlert, CompiledGroup, RecordingRule, group_dict
from inferwatch.alert_rules.compile import compile_group as compile_ours
from inferwatch.alert_rules.evaluate import FIRING, Outcome, RuleState, step
from inferwatch.alert_rules.promql_ast import PromQLError, kind, parse
from inferwatch.alert_rules.promrules import is_prometheus, load_prometheus
from inferwatch.alert_rules.rulefile import load_file
from inferwatch.alert_rules.ruletest_files import (
    FILE_KEYS,
    TestFileError,
    TestGroup,
    go_duration_string,
    go_quote,
    labels_string,
    model_duration_string,
    parse_metric,
    prom_duration,
    read_test_group,
    sample_value,
    strict,
)
from inferwatch.alert_rules.sources.evaluator_core import PromQLEvaluator
from inferwatch.alert_rules.sources.gomath import format_e
from inferwatch.alert_rules.sources.promql_eval import EvalError
from inferwatch.alert_rules.sources.recording import alert_series, record_samples
from inferwatch.alert_rules.sources.window import Window
from inferwatch.core.config import ConfigError, read_yaml
from inferwatch.core.regex import RegexError


def load_rules(paths: list[str]) -> list[CompiledGroup]:
    """Prometheus rule files as they are; files in our rule language compiled first."""
    groups: list[CompiledGroup] = []
    problems: list[str] = []
    for path in paths:
        try:
            data = read_yaml(path)
            if not is_prometheus(data):
                data = {"groups": [group_dict(compile_ours(g)) for g in load_file(path)]}
            groups += load_prometheus(path, data)
        except ConfigError as err:
            problems += err.problems
    if problems:
        raise ConfigError(problems)
    return groups


def run_files(files: list[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    """promtool's output and exit code; `out`/`err` default to the streams at call time."""
    out, err = out or sys.stdout, err or sys.stderr
    failed = False
    for name in files:
        print(f"Unit Testing:  {name}", file=out)
        errors = check_file(name, err)
        if errors:
            print("  FAILED:", file=err)
            for error in errors:
                print(error, file=err)
                print(file=out)
            failed = True
        else:
            print("  SUCCESS", file=out)
        print(file=out)
    return 1 if failed else 0


def check_file(name: str, err: TextIO) -> list[str]:
    try:
        data = yaml.safe_load(Path(name).read_text(encoding="utf-8")) or {}
        data = strict(data, FILE_KEYS, name)
        interval = prom_duration(data.get("evaluation_interval") or "1m", "evaluation_interval")
        order = [str(g) for g in data.get("group_eval_order") or []]
        groups = [read_test_group(raw, f"{name}: tests[{i}]")
                  for i, raw in enumerate(data.get("tests") or [])]
    except (OSError, yaml.YAMLError, TestFileError, UnicodeDecodeError) as error:
        return [str(error)]
    if len(set(order)) != len(order):
        repeated = next(g for g in order if order.count(g) > 1)
        return [f"group name repeated in evaluation order: {repeated}"]
    files = []
    for pattern in data.get("rule_files") or []:
        path = os.path.join(os.path.dirname(name), str(pattern))
        matched = sorted(glob.glob(path))
        if not matched:
            print(f"  WARNING: no file match pattern {path}", file=err)
        files += matched
    try:
        rules = load_rules(files)
    except ConfigError as error:
        return [problem for _ in groups for problem in error.problems]
    rank = {g: i for i, g in enumerate(order)}
    rules = sorted(rules, key=lambda g: rank.get(g.name, 0))
    errors: list[str] = []
    for group in groups:
        errors += GroupTest(group, rules, interval).run()
    return errors


class GroupTest:
    """One entry of `tests:` against the loaded rule groups."""

    def __init__(self, tg: TestGroup, rules: list[CompiledGroup], interval: int):
        self.tg, self.rules, self.interval = tg, rules, interval
        self.window = Window(1 << 62)
        self.ev = PromQLEvaluator(self.window, step_ms=interval)
        self.states = {a.rule_id: RuleState(a) for g in rules for a in g.alerts}
        self.loaded = [0] * len(tg.series)
        self.written: dict[str, bool] = {}  # rule → whether its last write had samples

    def load_till(self, ts: int) -> None:
        for i, series in enumerate(self.tg.series):
            samples, start = series.samples, self.loaded[i]
            end = start
            while end < len(samples) and samples[end][0] <= ts:
                end += 1
            if end > start:
                key = tuple(sorted(series.labels.items()))
                target = self.window.series.get(key) or self.window._add(key, series.labels)
                for t, value in samples[start:end]:
                    target.append(t, value)
                self.loaded[i] = end

    def write(self, target: str, samples: list[tuple[dict[str, str], float]], ts: int) -> None:
        if samples or self.written.get(target):
            self.window.ingest(target, samples, ts)
            self.ev.clear()
        self.written[target] = bool(samples)

    def eval_groups(self, ts: int) -> list[str]:
        errors = []
        for group in self.rules:
            for rule in group.steps:
                try:
                    vector = self.ev.instant(parse(rule.raw if isinstance(rule, CompiledAlert)
                                                   else rule.expr), ts)
                    if isinstance(rule, RecordingRule):
                        self.write(f"record:{group.name}/{id(rule)}",
                                   record_samples(rule, vector), ts)
                        continue
                except (EvalError, PromQLError, RegexError) as error:
                    errors.append(f"    rule: {rule.name}, time: {go_duration_string(ts)}, "
                                  f"err: {error}")
                    continue
                state = self.states[rule.rule_id]
                step(state, Outcome(tuple(vector)), ts / 1000)
                annotate_sync(state, lambda q, at=ts: self.ev.instant(parse(q), at))
                if state.health == "error":
                    errors.append(f"    rule: {rule.name}, time: {go_duration_string(ts)}, "
                                  f"err: {state.last_error}")
                    continue
                self.write(f"alerts:{rule.rule_id}", alert_series(state), ts)
        return errors

    def run(self) -> list[str]:
        tg = self.tg
        for case in tg.alert_tests:
            if not case.get("alertname"):
                where = f" (in TestGroup {tg.name})" if tg.name else ""
                return [f"an item under alert_rule_test misses required attribute alertname "
                        f"at eval_time {model_duration_string(case['eval_ms'])}{where}"]
        max_eval = max([c["eval_ms"] for c in tg.alert_tests + tg.expr_tests], default=0)
        times = sorted({c["eval_ms"] for c in tg.alert_tests})
        errors: list[str] = []
        ts, curr = 0, 0
        while ts <= max_eval:
            self.load_till(ts)
            self.ev.clear()
            failed = self.eval_groups(ts)
            if failed:
                return [e for e in errors if e] + failed
            while curr < len(times) and ts <= times[curr] < ts + self.interval:
                errors += [self.check_alerts(c) for c in tg.alert_tests
                           if c["eval_ms"] == times[curr]]
                curr += 1
            ts += self.interval
        self.ev.clear()
        errors += [self.check_expr(case) for case in tg.expr_tests]
        return [e for e in errors if e]

    def check_alerts(self, case: dict[str, Any]) -> str:
        name = str(case["alertname"])
        got = sorted((tuple(sorted(a.labels.items())), tuple(sorted(a.annotations.items())))
                     for st in self.states.values() if st.rule.name == name
                     for a in st.active.values() if a.state == FIRING)
        expected = []
        for item in case.get("exp_alerts") or []:
            labels = {str(k): str(v) for k, v in ((item or {}).get("exp_labels") or {}).items()}
            labels["alertname"] = name
            notes = {str(k): str(v) for k, v in ((item or {}).get("exp_annotations")
                                                 or {}).items()}
            expected.append((tuple(sorted(labels.items())), tuple(sorted(notes.items()))))
        expected.sort()
        if expected == got:
            return ""
        test = f"    name: {self.tg.name},\n" if self.tg.name else ""
        when = model_duration_string(case["eval_ms"])
        return (f"{test}    alertname: {name}, time: {when}, \n"
                f"        exp:{_indent(_alerts_string(expected), '            ')}, \n"
                f"        got:{_indent(_alerts_string(got), '            ')}")

    def check_expr(self, case: dict[str, Any]) -> str:
        expr, when = str(case.get("expr", "")), model_duration_string(case["eval_ms"])
        head = f"    expr: {go_quote(expr)}, time: {when}"
        try:
            tree = parse(expr)
            if kind(tree) not in ("vector", "scalar"):
                raise EvalError("rule result is not a vector or scalar")
            got = sorted((tuple(sorted(lb.items())), v)
                         for lb, v in self.ev.instant(tree, case["eval_ms"]))
        except (EvalError, PromQLError, RegexError) as error:
            return f"{head}, err: {error}"
        expected = []
        for item in case.get("exp_samples") or []:
            try:
                labels = parse_metric(str((item or {}).get("labels", "")))
                value = sample_value((item or {}).get("value", 0))
            except (ValueError, TestFileError) as error:
                return f"{head}, err: labels {go_quote(str(item.get('labels')))}: {error}"
            expected.append((tuple(sorted(labels.items())), value))
        expected.sort(key=lambda s: s[0])
        got.sort(key=lambda s: s[0])
        same = len(expected) == len(got) and all(
            a[0] == b[0] and a[1] == b[1] for a, b in zip(expected, got, strict=True))
        if same:
            return ""
        return (f"{head},\n        exp: {_samples_string(expected)}\n"
                f"        got: {_samples_string(got)}")


def _samples_string(samples: list[tuple[tuple[tuple[str, str], ...], float]]) -> str:
    if not samples:
        return "nil"
    return ", ".join(f"{labels_string(dict(lb))} {format_e(v)}" for lb, v in samples)


def _alerts_string(alerts: list[tuple[tuple[tuple[str, str], ...], ...]]) -> str:
    if not alerts:
        return "[]"
    parts = [f"{i}:" + _indent(f"\nLabels:{labels_string(dict(lb))}\nAnnotations:"
                               f"{labels_string(dict(notes))}", "  ")
             for i, (lb, notes) in enumerate(alerts)]
    return "[\n" + ",\n".join(parts) + "\n]"


def _indent(text: str, prefix: str) -> str:
    lines = text.split("\n")
    return "\n".join([lines[0], *(prefix + line for line in lines[1:])])

