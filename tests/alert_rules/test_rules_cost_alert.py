"""EngineEnergyPerTokenUp of the default pack: it fires on a rise against the weekly average,
and only once its series has samples older than 2 hours (issue 15: on a short history, as in
the demo, the "week" is the present episode itself and the alert flapped).

The pack's alert as compiled for Prometheus (deploy/generated), annotations left out, under
promtool's unit tests and `inferwatch rules test` alike. Two models' joules per token, one
sample a minute: `long` at 0.2 from 0 m, `short` at 0.2 from 120 m; both rise at 180 m (to
0.5 and 2.0: over 1.5 times their averages throughout). `long` fires from 210 m (the rise and
30 m of `for`); `short` holds samples older than 2 hours only from 241 m, so it fires from
271 m, not at 210 m as it did without the guard.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
import yaml

from inferwatch.alert_rules.ruletest import run_files
from tests.support.procs import need_binary

COMPILED = Path(__file__).resolve().parents[2] / "deploy/generated/prometheusrule"
ALERT = "EngineEnergyPerTokenUp"
SERIES = "inferwatch:engine_joules_per_token:rate5m"
GUARD = "\nand on (namespace, model)"


def pack_alert() -> dict:
    rules = yaml.safe_load((COMPILED / "llm-serving.rules.yml").read_text())
    (rule,) = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") == ALERT]
    return {k: v for k, v in rule.items() if k != "annotations"}


def firing(*models: str) -> list[dict]:
    return [{"exp_labels": {"alertname": ALERT, "namespace": "ns", "model": m,
                            "severity": "warning"}} for m in models]


def write_case(tmp: Path, rule: dict) -> Path:
    (tmp / "rules.yml").write_text(yaml.safe_dump(
        {"groups": [{"name": "cost", "interval": "1m", "rules": [rule]}]}, sort_keys=False))
    case = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [
            {"series": f'{SERIES}{{namespace="ns",model="long"}}', "values": "0.2x179 0.5x96"},
            {"series": f'{SERIES}{{namespace="ns",model="short"}}',
             "values": "_x120 0.2x59 2x96"}],
        "alert_rule_test": [
            {"eval_time": "200m", "alertname": ALERT, "exp_alerts": []},  # long: pending
            {"eval_time": "235m", "alertname": ALERT, "exp_alerts": firing("long")},
            {"eval_time": "265m", "alertname": ALERT, "exp_alerts": firing("long")},
            {"eval_time": "275m", "alertname": ALERT, "exp_alerts": firing("long", "short")},
        ]}]}
    path = tmp / "alert.test.yml"
    path.write_text(yaml.safe_dump(case, sort_keys=False))
    return path


def without_guard(rule: dict) -> dict:
    assert GUARD in rule["expr"], rule["expr"]
    return {**rule, "expr": rule["expr"].split(GUARD)[0] + "\n"}


def ours(path: Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_files([str(path)], out=out, err=err)
    return code, out.getvalue() + err.getvalue()


def test_embedded_engine_fires_on_a_rise_once_two_hours_are_held(tmp_path: Path) -> None:
    code, text = ours(write_case(tmp_path, pack_alert()))
    assert code == 0, text


def test_embedded_engine_without_the_guard_fires_on_the_short_history(tmp_path: Path) -> None:
    code, text = ours(write_case(tmp_path, without_guard(pack_alert())))
    assert code == 1 and "short" in text, text


def promtool(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([need_binary("promtool"), "test", "rules", path.name], cwd=path.parent,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.ecosystem
def test_promtool_fires_on_a_rise_once_two_hours_are_held(tmp_path: Path) -> None:
    result = promtool(write_case(tmp_path, pack_alert()))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.ecosystem
def test_promtool_without_the_guard_fires_on_the_short_history(tmp_path: Path) -> None:
    result = promtool(write_case(tmp_path, without_guard(pack_alert())))
    assert result.returncode == 1 and "short" in result.stdout + result.stderr, result.stdout
