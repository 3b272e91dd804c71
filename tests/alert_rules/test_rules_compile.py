"""Compilation: PromQL text, burn-rate factors scaled to the period, output files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inferwatch.alert_rules.compile import compile_group
from inferwatch.alert_rules.promql import render
from inferwatch.alert_rules.rulefile import load_file
from inferwatch.cli import main
from inferwatch.slo import TABLE

DAY = 86400.0


@pytest.mark.parametrize(("days", "factors"), [
    (30, [14.4, 6, 3, 1]), (28, [13.44, 5.6, 2.8, 0.9333]), (7, [3.36, 1.4, 0.7, 0.2333])])
def test_burn_factors_scale_with_the_period(days: int, factors: list[float]) -> None:
    assert [round(b.factor(days * DAY), 4) for b in TABLE] == factors


def compiled(tmp_path: Path, rules: list[dict], labels: dict | None = None):
    path = tmp_path / "r.yml"
    group = {"name": "g", "rules": rules, **({"labels": labels} if labels else {})}
    path.write_text(yaml.safe_dump({"groups": [group]}))
    return compile_group(load_file(path)[0])


def test_threshold_rule_text_and_labels(tmp_path: Path) -> None:
    group = compiled(tmp_path, [{
        "alert": "Q", "metric": "inferwatch_engine_time_to_first_token_seconds",
        "matchers": {"model": "=~llama.*", "engine": "!=tgi"}, "function": "quantile",
        "quantile": 0.9, "window": "10m", "by": ["model"], "op": ">", "threshold": 2,
        "severity": "critical", "labels": {"team": "ml"}}], labels={"team": "infra", "env": "p"})
    (alert,) = group.alerts
    assert alert.promql() == (
        'histogram_quantile(0.9, sum by (model, le) (rate(inferwatch_engine_time_to_first_token_'
        'seconds_bucket{engine!="tgi", model=~"llama.*"}[10m]))) > 2')
    assert dict(alert.labels) == {"team": "ml", "env": "p", "severity": "critical"}


def test_slo_records_every_window_and_uses_float_le(tmp_path: Path) -> None:
    group = compiled(tmp_path, [{
        "slo": "itl", "alert": "ITLBurn", "objective": 0.999, "period": "28d", "by": ["model"],
        "sli": {"latency": {"metric": "inferwatch_engine_inter_token_latency_seconds",
                            "threshold": 1}}, "ticket": {"severity": "info", "disable": True}}])
    assert [r.name for r in group.recordings] == [
        f"inferwatch:slo_errors:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")]
    (page,) = group.alerts
    assert 'le="1.0"' in render(group.recordings[0].expr)
    assert page.promql() == (
        '((inferwatch:slo_errors:ratio_rate5m{slo="itl"} > 0.01344) and '
        '(inferwatch:slo_errors:ratio_rate1h{slo="itl"} > 0.01344)) or '
        '((inferwatch:slo_errors:ratio_rate30m{slo="itl"} > 0.0056) and '
        '(inferwatch:slo_errors:ratio_rate6h{slo="itl"} > 0.0056))')
    assert "inferwatch:slo_errors" not in page.promql(inline=True)


def test_raw_rule_is_copied_verbatim(tmp_path: Path) -> None:
    group = compiled(tmp_path, [{"alert": "Up", "expr": 'up{job="x"} == 0', "for": "1m"}])
    assert group.alerts[0].promql() == 'up{job="x"} == 0' and group.alerts[0].data is None


def test_cli_compile_writes_both_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pack = Path(__file__).resolve().parents[2] / "alert_rules/packs/llm-serving.yml"
    assert main(["rules", "compile", str(pack), "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "llm-serving.prometheusrule.yaml", "llm-serving.rules.yml"]
    assert capsys.readouterr().out.count("llm-serving") == 2
