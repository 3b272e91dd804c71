"""Random rule files (recording rules, and alerts with `for`, templated labels and `$value`
annotations reading them) over random series: `promtool test rules` and `inferwatch rules
test` with an alert test at every evaluation step must print the same text: the same alerts
firing at each step, with the same labels and annotations, and the same recorded series and
ALERTS samples. Expressions whose value depends on the TSDB's series order (see
promql_grammar) are left out, so the comparison is exact. Fixed seeds here;
`INFERWATCH_PROMQL_ALERT_SEEDS=1-100` runs more."""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import pytest

from inferwatch.alert_rules.promql_ast import check_rule_expr, parse
from inferwatch.alert_rules.ruletest import GroupTest
from inferwatch.alert_rules.ruletest_files import read_test_group
from inferwatch.alert_rules.sources.evaluator_core import PromQLEvaluator
from inferwatch.alert_rules.sources.promql_eval import EvalError
from tests.alert_rules.promql_grammar import Expr, Grammar, input_series
from tests.alert_rules.promql_oracle import inferwatch, promtool, write_suite

ERROR = re.compile(r"err: .*$", re.M)


def seeds() -> list[int]:
    lo, _, hi = os.environ.get("INFERWATCH_PROMQL_ALERT_SEEDS", "1-3").partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def evaluator(series: list[dict], interval: int) -> PromQLEvaluator:
    """Our evaluator over the input series, all loaded (to pick expressions that run)."""
    run = GroupTest(read_test_group({"interval": f"{interval}s", "input_series": series}, "t"), [],
                    60_000)
    run.load_till(1 << 40)
    return run.ev


def exact(grammar: Grammar, depth: int, ev: PromQLEvaluator | None = None) -> Expr:
    """An expression Prometheus computes deterministically, one that loads (a refusal's text
    is the parser's own: the expression tests compare refusals) and, with `ev`, one that
    evaluates without error (an error ends a promtool test, leaving little to compare)."""
    for _ in range(1000):
        expr = grammar.vector(depth)
        if expr.ordered or expr.inexact or expr.ranked or check_rule_expr(expr.text):
            continue
        try:
            for t in range(0, 1_200_000, 60_000) if ev is not None else ():
                ev.instant(parse(expr.text), t)
        except EvalError:
            continue
        return expr
    raise AssertionError("no exact expression generated")


def rule_file(rng: random.Random, grammar: Grammar, ev: PromQLEvaluator) -> dict:
    records = [{"record": f"r:{i}", "expr": exact(grammar, 2, ev).text,
                "labels": rng.choice([{}, {"recorded": "yes"}])} for i in range(3)]
    alerts = []
    for i in range(5):
        base = rng.choice([exact(grammar, 2, ev).text, f"r:{rng.randrange(3)}",
                           f"rate(r:{rng.randrange(3)}[2m])"])
        alerts.append({
            "alert": f"A{i}",
            "expr": f"({base}) {rng.choice(['>', '<', '>=', '!='])} {rng.choice([0, 1, 2.5])}",
            "for": rng.choice(["0s", "30s", "1m", "2m"]),
            "labels": {"severity": rng.choice(["warning", "critical"]),
                       "from_job": "{{ $labels.job }}"},
            "annotations": {"value": "{{ $value }}", "human": "{{ $value | humanize }}",
                            "duration": "{{ $value | humanizeDuration }}",
                            "on": "{{ $labels.instance }}"}})
    return {"groups": [{"name": "rec", "rules": records}, {"name": "alerts", "rules": alerts}]}


@pytest.mark.ecosystem
@pytest.mark.parametrize("seed", seeds())
def test_random_rule_files_fire_as_under_promtool(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    grammar = Grammar(rng)
    interval = rng.choice([15, 30])
    step = rng.choice([15, 30, 60])
    series = input_series(rng)
    rules = tmp_path / "rules.yml"
    write_suite(rules, rule_file(rng, grammar, evaluator(series, interval)))
    end = 40 * interval
    alert_tests = [{"eval_time": f"{t}s", "alertname": f"A{i}", "exp_alerts": []}
                   for t in range(0, end, step) for i in range(5)]
    expr_tests = [{"expr": e, "eval_time": f"{rng.randrange(end)}s", "exp_samples": []}
                  for e in ("r:0", "r:1", "r:2", "ALERTS", "ALERTS_FOR_STATE",
                            "count_over_time(ALERTS[5m])", "rate(r:0[1m])")]
    suite = {"rule_files": ["rules.yml"], "evaluation_interval": f"{step}s",
             "group_eval_order": ["rec", "alerts"],
             "tests": [{"interval": f"{interval}s", "input_series": series,
                        "alert_rule_test": alert_tests, "promql_expr_test": expr_tests}]}
    path = write_suite(tmp_path / "t.yml", suite)
    theirs, mine = promtool(path), inferwatch(path)
    assert mine[0] == theirs[0] and mine[1] == theirs[1]
    # a rule's evaluation error ends the test in both; its text is the parser's or engine's
    their_text, my_text = ERROR.sub("err: …", theirs[2]), ERROR.sub("err: …", mine[2])
    if their_text != my_text:
        a, b = their_text.splitlines(), my_text.splitlines()
        first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                     min(len(a), len(b)))
        context = "\n".join(f"promtool: {x}\nours:     {y}" for x, y in
                            zip(a[first:first + 6], b[first:first + 6], strict=False))
        pytest.fail(f"seed {seed}: outputs differ at line {first}:\n{context}\n"
                    f"rules: {rules.read_text()}")
    assert theirs[0] == 0 or "expr:" in theirs[2] or "rule:" in theirs[2]


VALUES = ("1234567", "123456", "1e21", "-1e21", "0.00001234", "0.0001", "-0.5", "NaN", "+Inf",
          "-Inf", "-0", "86400.5", "0.1", "1e-30", "-3600", "5e-324", "1.7976931348623157e308")


@pytest.mark.ecosystem
def test_value_templates_render_as_promtool(tmp_path: Path) -> None:
    """$value and its humanize functions at the edges of Go's formatting (%v switching to
    an exponent at 1e6, int64 overflow in humanizeDuration, NaN, ±Inf, -0)."""
    notes = {f: f"{{{{ $value | {f} }}}}" for f in ("humanize", "humanizePercentage",
                                                   "humanizeDuration")}
    write_suite(tmp_path / "rules.yml", {"groups": [{"name": "g", "rules": [
        {"alert": "V", "expr": "v", "annotations": {"plain": "{{ $value }}", **notes}}]}]})
    suite = {"rule_files": ["rules.yml"], "tests": [{"interval": "1m", "input_series": [
        {"series": f'v{{i="{i}"}}', "values": f"{v} {v}"} for i, v in enumerate(VALUES)],
        "alert_rule_test": [{"eval_time": "1m", "alertname": "V", "exp_alerts": []}]}]}
    path = write_suite(tmp_path / "t.yml", suite)
    theirs, mine = promtool(path), inferwatch(path)
    assert theirs[2].count("Annotations:") == len(VALUES)
    assert mine == theirs
