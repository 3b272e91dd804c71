"""The default pack's rules whose promtool cases live in files of their own, each with the alert
it is for: llm-serving-daily.test.yml (SpecDecodeAcceptanceCollapsed, which compares with the day
before, so a day of series) and llm-serving-kvtransfer.test.yml (KVTransferFailing). Each file's
cases pass under `promtool test rules` and under `inferwatch rules test` alike, with annotations
rendered by our own template renderer, and a wrong expectation (the first case's alerts replaced
by the second's: firing while still pending) fails under both."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inferwatch.cli import main
from tests.alert_rules.test_rules_promtool import promtool, with_annotations

PROMTOOL = Path(__file__).resolve().parent / "promtool"
FILES = {"daily": "SpecDecodeAcceptanceCollapsed", "kvtransfer": "KVTransferFailing"}
CASES = [pytest.param(name, wrong, id=f"{name}-{'wrong' if wrong else 'right'}")
         for name in FILES for wrong in (False, True)]


def written(name: str, side: str, wrong: bool) -> Path:
    """The cases of llm-serving-`name`.test.yml, annotations filled in, beside it (its
    rule_files are relative to it)."""
    cases = with_annotations(yaml.safe_load((PROMTOOL / f"llm-serving-{name}.test.yml")
                                            .read_text()))
    if wrong:
        cases["tests"][0]["alert_rule_test"][0]["exp_alerts"] = \
            cases["tests"][0]["alert_rule_test"][1]["exp_alerts"]
    path = PROMTOOL / f".generated-{name}-{side}-{int(wrong)}.test.yml"
    path.write_text(yaml.safe_dump(cases, sort_keys=False))
    return path


@pytest.mark.ecosystem
@pytest.mark.parametrize("name, wrong", CASES)
def test_promtool_runs_the_cases(name: str, wrong: bool) -> None:
    path = written(name, "promtool", wrong)
    try:
        result = promtool("test", "rules", path.name, cwd=PROMTOOL)
    finally:
        path.unlink()
    assert result.returncode == int(wrong), result.stdout + result.stderr
    if wrong:
        assert FILES[name] in result.stdout + result.stderr


@pytest.mark.parametrize("name, wrong", CASES)
def test_inferwatch_rules_test_runs_the_same_cases(name: str, wrong: bool) -> None:
    path = written(name, "ours", wrong)
    try:
        assert (main(["rules", "test", str(path)]) == 0) is not wrong
    finally:
        path.unlink()
