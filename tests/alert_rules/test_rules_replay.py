"""The embedded engine replays the promtool unit tests of the default pack: same alerts, same
labels, same values and annotations at the same times as Prometheus's own rule engine (which
test_rules_promtool.py runs on the same file)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from inferwatch.alert_rules.compile import compile_group
from inferwatch.alert_rules.evaluate import FIRING, RuleState, step
from inferwatch.alert_rules.rulefile import load_file
from inferwatch.alert_rules.sources import outcome
from inferwatch.alert_rules.sources.embedded import EmbeddedSource
from inferwatch.alert_rules.templates import render
from inferwatch.core.durations import parse_duration
from tests.alert_rules.promtool_cases import eval_times, fill

ROOT = Path(__file__).resolve().parents[2]
CASES = yaml.safe_load((Path(__file__).parent / "promtool" / "llm-serving.test.yml").read_text())
GROUPS = [compile_group(g) for g in load_file(ROOT / "alert_rules/packs/llm-serving.yml")]


async def replay(test: dict) -> dict[tuple[float, str], list[tuple[dict, float, dict]]]:
    """Firing alerts per (eval time, alertname), evaluating every 30s from 0."""
    source = EmbeddedSource([], retention=86400)
    fill(source.window, test["input_series"], parse_duration(test["interval"]))
    states = [RuleState(a) for g in GROUPS for a in g.alerts]
    wanted, firing = eval_times(test), {}
    interval = parse_duration(CASES["evaluation_interval"])
    for i in range(int(max(wanted) / interval) + 1):
        ts = i * interval
        for state in states:
            step(state, await outcome(source, state.rule, ts), ts)
        if ts in wanted:
            for state in states:
                for a in state.active.values():
                    if a.state == FIRING:
                        key = (ts, a.labels["alertname"])
                        firing.setdefault(key, []).append((a.labels, a.value, a.annotations))
    return firing


@pytest.mark.parametrize("test", CASES["tests"], ids=[t["name"] for t in CASES["tests"]])
async def test_embedded_engine_matches_the_promtool_cases(test: dict) -> None:
    firing = await replay(test)
    annotations = {a.name: dict(a.annotations) for g in GROUPS for a in g.alerts}
    for check in test["alert_rule_test"]:
        got = firing.get((parse_duration(check["eval_time"]), check["alertname"]), [])
        expected = [
            ({**{k: str(v) for k, v in e["exp_labels"].items()}, "alertname": check["alertname"]},
             float(e["exp_value"])) for e in check["exp_alerts"]]
        assert sorted(sorted(lb.items()) for lb, _v, _a in got) == sorted(
            sorted(lb.items()) for lb, _v in expected), check
        for labels, value, notes in got:
            (want,) = [v for lb, v in expected if lb == labels]
            assert math.isclose(value, want, rel_tol=1e-9), (check, value)
            sample = {k: v for k, v in labels.items() if k != "alertname"}
            assert notes == {k: render(t, sample, want) for k, t in
                             annotations[check["alertname"]].items()}
