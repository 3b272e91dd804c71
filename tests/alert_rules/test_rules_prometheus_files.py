"""Plain Prometheus rule files and PrometheusRule resources as rule files: detected beside our
own rule language, checked, and what the embedded evaluator cannot run refused at load with
the expression's position (never evaluated wrong)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from inferwatch.alert_rules.compile import CompiledAlert, CompiledGroup, RecordingRule
from inferwatch.alert_rules.promql_ast import check_rule_expr
from inferwatch.alert_rules.promrules import is_prometheus, load_prometheus
from inferwatch.alert_rules.runconfig import load_rules, load_run_config
from inferwatch.cli import main
from inferwatch.core.config import ConfigError

PROM = {"groups": [{"name": "g", "interval": "30s", "rules": [
    {"record": "job:up:sum", "expr": "sum by (job) (up)", "labels": {"team": "x"}},
    {"alert": "Down", "expr": "job:up:sum == 0", "for": "5m",
     "labels": {"severity": "critical"}, "annotations": {"summary": "{{ $labels.job }}"}}]}]}


@pytest.mark.parametrize(("expr", "message"), [
    ("max_over_time(rate(x[5m] @ 100)[10m:])", "1:26: an @ modifier inside a subquery is not"),
    ("x @ -10", "1:3: an @ time before 1970 is not supported"),
    ("sum(x)\n  + max(y{a=\"b\" or c=\"d\"})", "2:17: `or` inside a selector is Prometheus 3"),
    ("a + mad_over_time(x[5m])", "1:5: mad_over_time(): not a Prometheus 2.42 function"),
    ("histogram_count(x)", "1:1: histogram_count(): native histograms are not scraped"),
    ("sort_by_label(x, \"a\")", "1:1: sort_by_label(): not a Prometheus 2.42 function"),
    ("limitk(2, x)", "1:1: limitk: not a Prometheus 2.42 aggregation"),
    ('label_replace(x, "1a", "$1", "b", "(.*)")', "invalid label name in label_replace(): 1a"),
    ('count_values("a-b", x)', "invalid label name 'a-b'"),
    ("x[5m]", "invalid expression type matrix for a rule"),
    ('"text"', "invalid expression type string for a rule"),
    ("sum(x", "parse error: "),
    ("holt_winters(x[5m], 0.5, 0.5)", "parse error: unknown function with name 'holt_winters'"),
])
def test_what_the_embedded_evaluator_lacks_is_refused_with_its_position(
        expr: str, message: str) -> None:
    why = check_rule_expr(expr)
    assert why is not None and message in why, why


@pytest.mark.parametrize("expr", [
    'sum by (job) (rate(x{a=~"b.*",c!="",d!~"e"}[5m] offset 1m))',
    "a / on (x) group_left (y) b", "a > bool 3", "topk(3, x)", 'count_values("v", x)',
    "max_over_time(rate(x[1m])[10m:30s])", 'label_join(x, "d", "-", "a", "b")',
    "absent(nosuch)", "vector(1) + scalar(x)", "time() - timestamp(x)", "-x ^ 2",
    "quantile_over_time(0.9, x[5m])", "histogram_quantile(0.9, sum by (le) (rate(h[5m])))",
    "clamp(x, 0, 1) unless ignoring (a) y", "stddev without (i) (x)", "group by (a) (x)",
    "rate(x[5m] @ 100) - x offset -1m @ end()", "max_over_time(x[10m:1m] @ start())",
])
def test_the_language_of_rule_files_is_accepted(expr: str) -> None:
    assert check_rule_expr(expr) is None


def test_prometheus_files_and_prometheus_rules_load_into_steps(tmp_path: Path) -> None:
    assert is_prometheus(PROM) and not is_prometheus(
        {"groups": [{"name": "g", "rules": [{"alert": "A", "metric": "m", "op": ">",
                                              "threshold": 1}]}]})
    manifest = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
                "metadata": {"name": "r"}, "spec": PROM}
    for name, data in (("plain.yml", PROM), ("resource.yaml", manifest)):
        (tmp_path / name).write_text(yaml.safe_dump(data))
        (group,) = load_prometheus(tmp_path / name)
        assert isinstance(group, CompiledGroup) and group.interval == 30.0
        record, alert = group.steps
        assert record == RecordingRule("job:up:sum", "sum by (job) (up)", (("team", "x"),))
        assert isinstance(alert, CompiledAlert) and alert.raw == "job:up:sum == 0"
        assert alert.labels == (("severity", "critical"),) and alert.for_ == 300.0
        assert group.alerts == (alert,)


def test_every_problem_of_a_prometheus_file_is_reported(tmp_path: Path) -> None:
    bad = {"groups": [{"name": "g", "rules": [
        {"record": "bad name", "expr": "up"},
        {"alert": "A", "expr": "(up @ 1)[5m:]", "annotations": {"s": "{{ nosuch .Labels.x }}"}},
        {"alert": "B"}, {"record": "r", "alert": "C", "expr": "up"}]},
        {"name": "g", "rules": []}]}
    (tmp_path / "bad.yml").write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError) as err:
        load_rules([str(tmp_path / "bad.yml")], embedded=True)
    text = "\n".join(err.value.problems)
    for expected in ("g/bad name: record: invalid recording rule name",
                     "g/A: expr: 1:5: an @ modifier inside a subquery",
                     "g/A: annotations.s: template does not parse: function \"nosuch\" not defined",
                     "g/B: expr: field 'expr' must be set", "one of 'record' or 'alert'",
                     'groupname: "g" is repeated'):
        assert expected in text, text
    # on the Prometheus source, Prometheus evaluates the expression: only the shape is checked
    with pytest.raises(ConfigError) as err:
        load_rules([str(tmp_path / "bad.yml")], embedded=False)
    assert "@ modifier" not in "\n".join(err.value.problems)


def test_rules_check_and_run_config_take_both_languages(tmp_path: Path, capsys) -> None:
    (tmp_path / "prom.yml").write_text(yaml.safe_dump(PROM))
    ours = Path(__file__).resolve().parents[2] / "alert_rules" / "packs" / "llm-serving.yml"
    assert main(["rules", "check", str(tmp_path / "prom.yml"), str(ours)]) == 0
    assert "ok: 2 file(s)" in capsys.readouterr().out
    (tmp_path / "run.yml").write_text(json.dumps({"rules": ["prom.yml", str(ours)]}))
    _config, groups = load_run_config(tmp_path / "run.yml")
    assert any(isinstance(g, CompiledGroup) for g in groups) and len(groups) > 1
