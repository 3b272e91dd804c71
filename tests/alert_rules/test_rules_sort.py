"""sort and sort_desc in an annotation template's query: the order `first` sees is Prometheus
2.42's (funcSort, funcSortDesc: by value, NaN last), under `promtool test rules` and under
`inferwatch rules test` alike, and a wrong expectation fails under both."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inferwatch.cli import main
from tests.alert_rules.test_rules_promtool import promtool

RULES = {"groups": [{"name": "g", "rules": [{
    "alert": "A", "expr": "vector(1)",
    "annotations": {
        "top": '{{ with query "sort_desc(m)" }}{{ . | first | label "k" }}{{ end }}',
        "bottom": '{{ with query "sort(m)" }}{{ . | first | label "k" }}{{ end }}',
        "order": '{{ range query "sort(m)" }}{{ .Labels.k }}{{ end }}',
        "order_desc": '{{ range query "sort_desc(m)" }}{{ .Labels.k }}{{ end }}'}}]}]}
SERIES = [("a", "1x5"), ("b", "5x5"), ("c", "NaN+0x5"), ("d", "3x5"), ("e", "-2x5")]
EXPECTED = {"top": "b", "bottom": "e", "order": "eadbc", "order_desc": "bdaec"}


def write(tmp_path: Path, expected: dict[str, str]) -> Path:
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(RULES))
    cases = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": f'm{{k="{k}"}}', "values": v} for k, v in SERIES],
        "alert_rule_test": [{"eval_time": "2m", "alertname": "A",
                             "exp_alerts": [{"exp_annotations": expected}]}]}]}
    path = tmp_path / "sort.test.yml"
    path.write_text(yaml.safe_dump(cases, sort_keys=False))
    return path


def wrong() -> dict[str, str]:
    return {**EXPECTED, "order": "abcde"}  # the input's order, as a no-op sort gives


@pytest.mark.ecosystem
@pytest.mark.parametrize("bad", [False, True])
def test_promtool_orders_the_query_results(tmp_path: Path, bad: bool) -> None:
    path = write(tmp_path, wrong() if bad else EXPECTED)
    result = promtool("test", "rules", path.name, cwd=tmp_path)
    assert result.returncode == int(bad), result.stdout + result.stderr


@pytest.mark.parametrize("bad", [False, True])
def test_the_embedded_evaluator_orders_them_the_same(tmp_path: Path, bad: bool) -> None:
    path = write(tmp_path, wrong() if bad else EXPECTED)
    assert (main(["rules", "test", str(path)]) == 0) is not bad
