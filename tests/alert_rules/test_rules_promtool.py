"""The compiled default pack: fresh, accepted by `promtool check rules`, and its unit tests pass
under `promtool test rules` (with annotations rendered by our own template renderer)."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from inferwatch.alert_rules.compile import write_outputs
from inferwatch.alert_rules.promql_ast import parse
from inferwatch.alert_rules.rulefile import load_file
from inferwatch.alert_rules.ruletest import GroupTest
from inferwatch.alert_rules.ruletest_files import prom_duration, read_test_group
from inferwatch.alert_rules.templates import render
from inferwatch.cli import main
from tests.support.procs import need_binary

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "alert_rules" / "packs" / "llm-serving.yml"
COMPILED = ROOT / "deploy" / "generated" / "prometheusrule"
CASES = Path(__file__).resolve().parent / "promtool" / "llm-serving.test.yml"
REGENERATE = "python deploy/generate.py"


def test_committed_compiled_pack_is_fresh(tmp_path: Path) -> None:
    written = write_outputs(load_file(PACK), tmp_path)
    for path in written:
        committed = COMPILED / path.name
        assert committed.exists(), f"missing {committed}; run `{REGENERATE}`"
        assert committed.read_text() == path.read_text(), f"stale {committed}; run `{REGENERATE}`"


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([need_binary("promtool"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.ecosystem
def test_promtool_checks_rule_file_and_manifest(tmp_path: Path) -> None:
    manifest = yaml.safe_load((COMPILED / "llm-serving.prometheusrule.yaml").read_text())
    assert manifest["kind"] == "PrometheusRule"
    unwrapped = tmp_path / "from-manifest.rules.yml"
    unwrapped.write_text(yaml.safe_dump({"groups": manifest["spec"]["groups"]}))
    result = promtool("check", "rules", str(COMPILED / "llm-serving.rules.yml"),
                      str(unwrapped), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == 2


def annotations_by_alert() -> dict[str, dict[str, str]]:
    groups = yaml.safe_load((COMPILED / "llm-serving.rules.yml").read_text())["groups"]
    return {r["alert"]: r.get("annotations", {}) for g in groups for r in g["rules"]
            if "alert" in r}


def with_annotations(cases: dict[str, Any]) -> dict[str, Any]:
    """Fill each expected alert's annotations from the pack, rendered with `exp_value`; a
    template's `query` runs on our evaluator over the test's input series at its eval_time
    (promtool runs it on its own: the test passing is the agreement)."""
    templates = annotations_by_alert()
    interval = cases.get("evaluation_interval", "1m")
    for test in cases["tests"]:
        for check in test.get("alert_rule_test", []):
            ms = prom_duration(check["eval_time"], "eval_time")
            loaded = GroupTest(read_test_group(copy.deepcopy({"interval": interval, **test}),
                                               "test"), [], prom_duration(interval, "interval"))
            loaded.load_till(ms)
            def query(q: str, ev: Any = loaded.ev, ms: int = ms) -> Any:
                return ev.instant(parse(q), ms)
            for alert in check["exp_alerts"]:
                value = float(alert.pop("exp_value"))
                labels = {k: str(v) for k, v in alert["exp_labels"].items()}
                alert["exp_annotations"] = {
                    k: render(t, labels, value, query)
                    for k, t in templates[check["alertname"]].items()}
    return cases


@pytest.mark.ecosystem
def test_promtool_unit_tests_pass_on_the_compiled_pack() -> None:
    cases = with_annotations(yaml.safe_load(CASES.read_text()))
    generated = CASES.parent / ".generated.test.yml"  # beside CASES: rule_files are relative
    generated.write_text(yaml.safe_dump(cases, sort_keys=False))
    try:
        result = promtool("test", "rules", generated.name, cwd=CASES.parent)
    finally:
        generated.unlink()
    assert result.returncode == 0, result.stdout + result.stderr


def test_inferwatch_rules_test_passes_the_same_cases() -> None:
    """`inferwatch rules test` on the file promtool runs (the sleeping-engine cases included)."""
    cases = with_annotations(yaml.safe_load(CASES.read_text()))
    generated = CASES.parent / ".generated-ours.test.yml"  # beside CASES: rule_files relative
    generated.write_text(yaml.safe_dump(cases, sort_keys=False))
    try:
        assert main(["rules", "test", str(generated)]) == 0
    finally:
        generated.unlink()


@pytest.mark.ecosystem
def test_promtool_unit_tests_can_fail(tmp_path: Path) -> None:
    cases = with_annotations(yaml.safe_load(CASES.read_text()))
    cases["rule_files"] = [str(COMPILED / "llm-serving.rules.yml")]
    cases["tests"][0]["alert_rule_test"][1]["eval_time"] = "1m30s"  # still pending then
    (tmp_path / "t.yml").write_text(yaml.safe_dump(cases, sort_keys=False))
    result = promtool("test", "rules", "t.yml", cwd=tmp_path)
    assert result.returncode == 1 and "InferenceEngineDown" in result.stdout + result.stderr
