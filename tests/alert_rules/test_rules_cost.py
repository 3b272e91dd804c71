"""The default pack's cost and energy recording rules: recording rules in our rule language,
and the worked example of promtool/cost.test.yml (a shared GPU, an allocated one, two models,
priced and unpriced GPUs) passing under promtool and on the embedded engine alike."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from inferwatch.alert_rules.compile import RecordingRule, compile_group, group_dict
from inferwatch.alert_rules.rulefile import load_file
from inferwatch.alert_rules.runconfig import DEFAULT_PACK
from inferwatch.cli import main
from inferwatch.core.config import ConfigError
from tests.support.procs import need_binary

CASES = Path(__file__).resolve().parent / "promtool" / "cost.test.yml"
COMPILED = Path(__file__).resolve().parents[2] / "deploy/generated/prometheusrule"


def cost_group():
    (group,) = [g for g in load_file(DEFAULT_PACK) if g.name == "inferwatch-cost"]
    return compile_group(group)


def broken_copy(tmp_path: Path) -> Path:
    """The cases with one expected cost off by a thousandth."""
    cases = yaml.safe_load(CASES.read_text())
    cases["rule_files"] = [str(COMPILED / "llm-serving.rules.yml")]
    last = cases["tests"][0]["promql_expr_test"][-1]["exp_samples"][0]
    last["value"] += 1
    path = tmp_path / "broken.test.yml"
    path.write_text(yaml.safe_dump(cases, sort_keys=False))
    return path


def test_recording_rules_compile_in_file_order_ahead_of_the_alert_reading_them() -> None:
    group = cost_group()
    names = [s.name for s in group.steps]
    assert names[-1] == "EngineEnergyPerTokenUp"
    assert names.index("inferwatch:engine_tokens:rate5m") < names.index(
        "inferwatch:engine_joules_per_token:rate5m")
    rules = group_dict(group)["rules"]
    assert [r.get("record") or r.get("alert") for r in rules] == names
    prices = [r for r in rules if r.get("record") == "inferwatch:gpu_price_usd_per_hour"]
    assert prices and all(r["expr"].startswith("vector(") and r["labels"]["name"]
                          for r in prices)
    assert all(isinstance(s, RecordingRule) for s in group.steps[:-1])


def test_a_bad_recording_rule_is_named_by_file_rule_and_field(tmp_path: Path) -> None:
    path = tmp_path / "r.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [
        {"record": "bad name", "expr": "up"}, {"record": "ok:name", "expr": ""}]}]}))
    with pytest.raises(ConfigError) as err:
        load_file(path)
    text = "\n".join(err.value.problems)
    assert f"{path}: g/bad name: record:" in text and f"{path}: g/ok:name: expr:" in text


def test_embedded_engine_passes_the_worked_example() -> None:
    assert main(["rules", "test", str(CASES)]) == 0


def test_embedded_engine_refuses_a_wrong_expectation(tmp_path: Path) -> None:
    # the copy differs from the passing file in that one expected value only
    assert main(["rules", "test", str(broken_copy(tmp_path))]) == 1


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([need_binary("promtool"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.mark.ecosystem
def test_promtool_passes_the_worked_example() -> None:
    result = promtool("test", "rules", CASES.name, cwd=CASES.parent)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.ecosystem
def test_promtool_refuses_a_wrong_expectation(tmp_path: Path) -> None:
    result = promtool("test", "rules", "broken.test.yml", cwd=broken_copy(tmp_path).parent)
    assert result.returncode == 1 and "engine_cost_per_million" in result.stdout + result.stderr
