"""The default pack's rule on failing KV-cache transfers (KVTransferFailing),
on promtool/llm-serving-kvtransfer.test.yml: its cases pass under `promtool test rules` and under
`inferwatch rules test` alike, with annotations rendered by our own template renderer, and a
wrong expectation fails under both."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inferwatch.cli import main
from tests.alert_rules.test_rules_promtool import promtool, with_annotations

CASES = Path(__file__).resolve().parent / "promtool" / "llm-serving-kvtransfer.test.yml"


def written(name: str, wrong: bool = False) -> Path:
    """The cases, annotations filled in, beside CASES (rule_files are relative to it)."""
    cases = with_annotations(yaml.safe_load(CASES.read_text()))
    if wrong:  # firing while it is still pending
        cases["tests"][0]["alert_rule_test"][0]["exp_alerts"] = \
            cases["tests"][0]["alert_rule_test"][1]["exp_alerts"]
    path = CASES.parent / name
    path.write_text(yaml.safe_dump(cases, sort_keys=False))
    return path


@pytest.mark.ecosystem
@pytest.mark.parametrize("wrong", [False, True])
def test_promtool_runs_the_kv_transfer_cases(wrong: bool) -> None:
    path = written(f".generated-kvtransfer-{int(wrong)}.test.yml", wrong)
    try:
        result = promtool("test", "rules", path.name, cwd=CASES.parent)
    finally:
        path.unlink()
    assert result.returncode == int(wrong), result.stdout + result.stderr
    if wrong:
        assert "KVTransferFailing" in result.stdout + result.stderr


@pytest.mark.parametrize("wrong", [False, True])
def test_inferwatch_rules_test_runs_the_same_cases(wrong: bool) -> None:
    path = written(f".generated-kvtransfer-ours-{int(wrong)}.test.yml", wrong)
    try:
        assert (main(["rules", "test", str(path)]) == 0) is not wrong
    finally:
        path.unlink()
