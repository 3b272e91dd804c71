"""Rule files: the default pack loads; every kind of mistake is named by file, rule and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inferwatch.alert_rules.rulefile import load_file
from inferwatch.alert_rules.spec import RecordRule, SLORule, ThresholdRule
from inferwatch.cli import main
from inferwatch.core.config import ConfigError

PACK = Path(__file__).resolve().parents[2] / "alert_rules" / "packs" / "llm-serving.yml"
KV = {"alert": "KV", "metric": "inferwatch_engine_kv_cache_usage_ratio", "op": ">",
      "threshold": 0.9}
TTFT = {"slo": "ttft", "alert": "TTFTBurn", "objective": 0.99,
        "sli": {"latency": {"metric": "inferwatch_engine_time_to_first_token_seconds",
                            "threshold": 2}}}


def write(tmp_path: Path, *rules: dict) -> Path:
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": list(rules)}]}))
    return path


def problems(tmp_path: Path, *rules: dict) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_file(write(tmp_path, *rules))
    return err.value.problems


def test_default_pack_loads_and_every_rule_has_its_annotations() -> None:
    groups = load_file(PACK)
    rules = [r for g in groups for r in g.rules if not isinstance(r, RecordRule)]
    assert len(rules) >= 15
    for rule in rules:
        assert {"summary", "description", "runbook"} <= set(rule.annotations), rule.alert
    assert {r.slo for r in rules if isinstance(r, SLORule)} == {"ttft", "itl", "errors"}


def test_valid_threshold_rule_parses(tmp_path: Path) -> None:
    (group,) = load_file(write(tmp_path, {**KV, "for": "5m", "keep_firing_for": "1m"}))
    rule = group.rules[0]
    assert isinstance(rule, ThresholdRule)
    assert (rule.for_, rule.keep_firing_for, group.interval) == (300.0, 60.0, 30.0)


@pytest.mark.parametrize(("rule", "expected"), [
    ({**KV, "metric": "inferwatch_nope"},
     "g/KV: metric: 'inferwatch_nope' is not in the metric catalogue"),
    ({**KV, "matchers": {"gpu": "0"}},
     "g/KV: matchers.gpu: inferwatch_engine_kv_cache_usage_ratio has no label 'gpu'"),
    ({**KV, "by": ["pod"], "aggregate": "max"},
     "g/KV: by: inferwatch_engine_kv_cache_usage_ratio has no label 'pod'"),
    ({**KV, "for": "5x"}, "g/KV: for: '5x' is not a duration"),
    ({**KV, "threshold": 1.5}, "g/KV: threshold: inferwatch_engine_kv_cache_usage_ratio is a "
     "ratio: the threshold 1.5 is outside 0..1"),
    ({**KV, "function": "rate", "window": "5m"}, "g/KV: function: rate is for counters"),
    ({**KV, "threshold": float("nan")}, "g/KV: threshold: Input should be a finite number"),
    ({**KV, "function": "avg_over_time"}, "g/KV: window: avg_over_time needs a window"),
    ({**KV, "colour": "red"}, "g/KV: colour: unknown field"),
    ({**KV, "annotations": {"summary": "{{ nosuch .Labels.x }}"}},
     "g/KV: annotations.summary: template does not parse: function \"nosuch\" not defined"),
    ({**KV, "matchers": {"model": "=~(broken"}}, "g/KV: matchers.model: '(broken' is not a "
     "valid regex"),
    ({**KV, "matchers": {"model": "=~(a)\\1"}}, "g/KV: matchers.model: '(a)\\\\1' is not a "
     "valid regex"),  # a backreference: Python's `re` takes it, RE2 (Prometheus's) does not
    ({"alert": "Q", "metric": "inferwatch_engine_time_to_first_token_seconds", "op": ">",
      "function": "quantile", "quantile": 0.95, "window": "5m", "threshold": 3},
     "g/Q: threshold: 3 is not a bucket bound of inferwatch_engine_time_to_first_token_seconds"),
    ({**TTFT, "objective": 99.9}, "g/ttft: objective: 99.9 is outside 0..1"),
    ({**TTFT, "sli": {"latency": {"metric": "inferwatch_engine_time_to_first_token_seconds",
                                  "threshold": 1.5}}},
     "g/ttft: sli.latency.threshold: 1.5 is not a bucket bound"),
    ({**TTFT, "sli": {"latency": {"metric": "inferwatch_engine_up", "threshold": 1}}},
     "g/ttft: sli.latency.metric: inferwatch_engine_up is a gauge; a histogram is needed"),
    ({**TTFT, "sli": {"events": {"total": {"metric": "inferwatch_engine_up"},
                                 "bad": {"metric": "inferwatch_engine_up"}}}},
     "g/ttft: sli.events.total.metric: inferwatch_engine_up is a gauge; a counter is needed"),
    ({**TTFT, "period": "1d"}, "g/ttft: period: the period must be at least 3d"),
])
def test_each_problem_names_file_rule_and_field(tmp_path: Path, rule: dict,
                                                 expected: str) -> None:
    found = problems(tmp_path, rule)
    assert any(p.startswith(f"{tmp_path / 'rules.yml'}: {expected}") for p in found), found


def test_regexes_that_re2_takes_and_python_refuses_are_valid(tmp_path: Path) -> None:
    (group,) = load_file(write(tmp_path, {**KV, "matchers": {"model": "=~a(?i)b|\\pL+"}}))
    assert group.rules


def test_all_problems_of_a_rule_are_reported_together(tmp_path: Path) -> None:
    found = problems(tmp_path, {**KV, "for": "soon", "threshold": 2, "matchers": {"gpu": "0"}})
    fields = [p.split(": ")[2] for p in found]
    assert fields == ["for", "matchers.gpu", "threshold"]


def test_cli_check_exits_2_with_the_problems(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, {**KV, "metric": "inferwatch_nope"})
    assert main(["rules", "check", str(PACK), str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: g/KV: metric: 'inferwatch_nope' is not in the metric catalogue" in err


def test_cli_check_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(PACK)]) == 0
    assert capsys.readouterr().out.startswith("ok: 1 file(s)")


def test_cli_check_names_a_file_that_is_not_utf8(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rules.yml"
    path.write_bytes(b"\xff\xfegroups: []\n")
    assert main(["rules", "check", str(path)]) == 2
    assert f"{path}: line 1: not UTF-8 text" in capsys.readouterr().err


def test_group_problems_name_the_group_and_its_rules_are_still_checked(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [
        {"name": "g", "interval": "soon", "rules": [{**KV, "metric": "inferwatch_nope"}, 5]},
        {"name": "h", "rules": None},
        "not a group",
    ]}))
    with pytest.raises(ConfigError) as err:
        load_file(path)
    assert err.value.problems == [
        f"{path}: g: interval: 'soon' is not a duration such as 15s, 1m or 500ms",
        f"{path}: g/KV: metric: 'inferwatch_nope' is not in the metric catalogue",
        f"{path}: g/rules[1]: .: a rule must be a mapping",
        f"{path}: h: rules: Input should be a valid list",
        f"{path}: groups[2]: .: a group must be a mapping",
    ]


def test_an_slo_name_is_unique_across_groups_and_files(tmp_path: Path) -> None:
    """Two SLOs of one name would record the same `...ratio_rate5m{slo=NAME}` series."""
    from inferwatch.alert_rules.rulefile import load_files

    one = tmp_path / "one.yml"
    one.write_text(yaml.safe_dump({"groups": [{"name": "a", "rules": [TTFT]},
                                              {"name": "b", "rules": [TTFT]}]}))
    with pytest.raises(ConfigError) as err:
        load_file(one)
    assert err.value.problems == [f"{one}: b/ttft: slo: name already used by {one}: a/ttft; "
                                  "SLO names must be unique across all rule files"]
    two = write(tmp_path, TTFT)
    with pytest.raises(ConfigError) as err:
        load_files([PACK, two])
    assert err.value.problems == [f"{two}: g/ttft: slo: name already used by {PACK}: "
                                  "inferwatch-slos/ttft; SLO names must be unique across all "
                                  "rule files"]
