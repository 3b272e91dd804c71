"""promtool's expanding notation for input_series, side by side: each notation is accepted or
refused by `inferwatch rules test` exactly as by `promtool test rules` (Inf and NaN are words
that run into `x`; no hexadecimal; a blank takes no step), and where both accept a numeric one,
both read the same samples (promtool checks the sum and count that ours expands to)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from inferwatch.alert_rules.ruletest_files import expand_values
from inferwatch.cli import main
from tests.alert_rules.test_rules_promtool import promtool

NOTATIONS = ["1+2x3", "_x2 4", "stale 1", "Inf", "-NaN", "Inf+1x2", "0x3", "1e3x1",
             ".5-1x2", "-2x2", "1 _ 3", "+3-0.5x4",
             "NaNx2", "Infx2", "stalex2", "0x1f", "0x1F", "1+NaNx2", "_+1x2", "x2", "1x",
             "infinity", "1 x2", "1+2", "--1"]


def ours(notation: str) -> list[tuple[bool, float | None]] | None:
    try:
        return expand_values(notation)
    except ValueError:
        return None


def case(notation: str, tmp_path: Path) -> Path:
    """A test file over one series in `notation`; where ours expands it to plain numbers,
    promtool is asked for their sum and count at the last step."""
    (tmp_path / "rules.yml").write_text("groups: []\n")
    group = {"interval": "1m", "input_series": [{"series": "m", "values": notation}]}
    expanded = ours(notation)
    plain = [v for present, v in expanded or [] if present]
    if expanded and all(v is not None and math.isfinite(v) for v in plain) and \
            len(plain) == len(expanded):
        at = f"{len(expanded) - 1}m"
        group["promql_expr_test"] = [
            {"expr": "sum_over_time(m[1h])", "eval_time": at,
             "exp_samples": [{"labels": "{}", "value": sum(plain)}]},
            {"expr": "count_over_time(m[1h])", "eval_time": at,
             "exp_samples": [{"labels": "{}", "value": len(plain)}]}]
    path = tmp_path / "notation.test.yml"
    path.write_text(yaml.safe_dump({"rule_files": ["rules.yml"], "tests": [group]}))
    return path


@pytest.mark.ecosystem
@pytest.mark.parametrize("notation", NOTATIONS)
def test_accepted_and_refused_as_promtool_does(notation: str, tmp_path: Path) -> None:
    path = case(notation, tmp_path)
    theirs = promtool("test", "rules", path.name, cwd=tmp_path)
    assert (theirs.returncode == 0) == (ours(notation) is not None), theirs.stderr
    assert main(["rules", "test", str(path)]) == theirs.returncode
