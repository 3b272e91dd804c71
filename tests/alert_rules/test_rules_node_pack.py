"""A community rule pack as a plain Prometheus rule file (the node-exporter mixin's host
alerts over the exporter's `inferwatch_host_*` metrics, alert_rules/packs/node-host.rules.yml):
its unit tests give the same output under `promtool test rules` and `inferwatch rules test`,
passing and failing; the default pack's promtool tests too (also straight from our rule
language); and `rules run` evaluates the pack on the embedded source, recording rules and
`for` included, over a scraped exporter. Times are passed in; nothing sleeps."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from inferwatch.alert_rules.compile import CompiledGroup
from inferwatch.alert_rules.evaluate import FIRING
from inferwatch.alert_rules.manager import RuleManager
from inferwatch.alert_rules.ruletest import run_files
from inferwatch.alert_rules.runconfig import load_run_config
from inferwatch.alert_rules.sources.embedded import EmbeddedSource, Target
from tests.alert_rules.promql_oracle import inferwatch, promtool, write_suite
from tests.alert_rules.test_rules_promtool import CASES as DEFAULT_CASES
from tests.alert_rules.test_rules_promtool import with_annotations

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PACK = ROOT / "alert_rules" / "packs" / "node-host.rules.yml"
NODE_CASES = HERE / "promtool" / "node-host.test.yml"


def absolute(cases: Path, suite: dict) -> dict:
    suite["rule_files"] = [str((cases.parent / f).resolve()) for f in suite["rule_files"]]
    return suite


@pytest.mark.ecosystem
def test_node_pack_unit_tests_pass_under_promtool_and_inferwatch(tmp_path: Path) -> None:
    path = write_suite(tmp_path / "t.yml", absolute(NODE_CASES, yaml.safe_load(
        NODE_CASES.read_text())))
    theirs, mine = promtool(path), inferwatch(path)
    assert theirs == mine == (0, "Unit Testing:  t.yml\n  SUCCESS\n\n", "")


@pytest.mark.ecosystem
def test_node_pack_failures_print_what_promtool_prints(tmp_path: Path) -> None:
    suite = absolute(NODE_CASES, yaml.safe_load(NODE_CASES.read_text()))
    first, third = suite["tests"][0], suite["tests"][2]
    first["alert_rule_test"][1]["eval_time"] = "29m"  # still pending then
    third["alert_rule_test"][0]["exp_alerts"][0]["exp_labels"]["severity"] = "critical"
    third["promql_expr_test"][0]["exp_samples"][0]["value"] = 0.9500000000000001
    third["promql_expr_test"].append({"expr": "sum(", "eval_time": "1m", "exp_samples": []})
    path = write_suite(tmp_path / "t.yml", suite)
    theirs, mine = promtool(path), inferwatch(path)
    assert theirs[0] == mine[0] == 1 and theirs[1] == mine[1]
    # the one difference: the parser's error text (promtool: `1:5: parse error: ...`)
    their_lines, my_lines = theirs[2].splitlines(), mine[2].splitlines()
    assert len(their_lines) == len(my_lines) > 20
    for a, b in zip(their_lines, my_lines, strict=True):
        assert a == b or a.startswith('    expr: "sum(", time: 1m, err:') and \
            b.startswith('    expr: "sum(", time: 1m, err: parse error:'), (a, b)


@pytest.mark.ecosystem
@pytest.mark.parametrize("from_our_language", [False, True])
def test_default_pack_unit_tests_agree(tmp_path: Path, from_our_language: bool) -> None:
    suite = absolute(DEFAULT_CASES, with_annotations(yaml.safe_load(DEFAULT_CASES.read_text())))
    theirs = promtool(write_suite(tmp_path / "t.yml", suite))
    if from_our_language:  # rules test compiles our rule language itself
        suite["rule_files"] = [str(ROOT / "alert_rules" / "packs" / "llm-serving.yml")]
    mine = inferwatch(write_suite(tmp_path / "t.yml", suite))
    assert theirs == mine and theirs[0] == 0


def test_rules_test_exit_codes_and_a_missing_file(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run_files([str(tmp_path / "nope.yml")], out, err) == 1
    assert "  FAILED:" in err.getvalue() and "nope.yml" in err.getvalue()
    bad = tmp_path / "bad.yml"
    bad.write_text("rule_files: []\ntests: [{interval: 1m, bogus: 1}]\n")
    assert run_files([str(bad)], io.StringIO(), err) == 1 and "field bogus not found" in \
        err.getvalue()


HOST = """inferwatch_host_cpus 2
inferwatch_host_load1 {load}
inferwatch_host_memory_available_bytes {avail}
inferwatch_host_memory_total_bytes 100
inferwatch_host_cpu_seconds_total{{mode="idle"}} {idle}
inferwatch_host_cpu_seconds_total{{mode="user"}} {user}
"""


async def test_node_pack_runs_on_the_embedded_source(aiohttp_server, tmp_path: Path) -> None:
    state = {"load": 1.0, "avail": 50.0, "idle": 0.0, "user": 0.0}

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=HOST.format(**state))

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    server = await aiohttp_server(app, host="127.0.0.1")
    url = f"http://127.0.0.1:{server.port}/metrics"
    config_file = tmp_path / "run.yml"
    config_file.write_text(json.dumps({"rules": [str(PACK)], "source": {"embedded": {
        "targets": [{"url": url, "job": "node"}], "scrape_interval": "1m"}}}))
    _config, groups = load_run_config(config_file)
    assert all(isinstance(g, CompiledGroup) and g.steps for g in groups)
    firing: dict[str, float] = {}
    async with EmbeddedSource([Target(url, "node")], 3600) as source:
        manager = RuleManager(groups, source, [])  # type: ignore[arg-type]
        for minute in range(0, 25):
            now = 1_700_000_000.0 + minute * 60
            if minute == 2:
                state.update(load=5.0, avail=5.0)
            state["idle"] += 6.0  # 0.1 of a CPU idle: 95% busy
            state["user"] += 110.0
            await source.scrape(now)
            await manager.tick(now)
            for st in manager.states.values():
                if any(a.state == FIRING for a in st.active.values()):
                    firing.setdefault(st.rule.name, minute)
        assert not manager.errors()
        recorded = source.evaluate_text("instance:inferwatch_host_memory_utilisation:ratio", now)
    # load and memory from minute 2, CPU from minute 1 (its rate needs two scrapes): + 15m
    assert firing == {"NodeSystemSaturation": 17, "NodeMemoryHighUtilization": 17,
                      "NodeCPUHighUsage": 16}
    assert recorded == [({"__name__": "instance:inferwatch_host_memory_utilisation:ratio",
                          "job": "node", "instance": f"127.0.0.1:{server.port}"}, 0.95)]
