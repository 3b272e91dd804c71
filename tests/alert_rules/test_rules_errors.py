"""Errors never look like alerts (issue 12): a failed query raises the engine's own
InferwatchRuleQueryFailed (its own severity, the rule named in `rule`/`group`, the error as an
annotation), `rules run --once` prints the error and exits 1, continuous `rules run` logs each
change once and serves its `inferwatch_rules_*` metrics."""

from __future__ import annotations

import json
import logging
import subprocess
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from inferwatch.alert_rules.compile import compile_group
from inferwatch.alert_rules.evaluate import ERROR_ALERT
from inferwatch.alert_rules.manager import RuleManager
from inferwatch.alert_rules.observe import Metrics
from inferwatch.alert_rules.promql import Node
from inferwatch.alert_rules.rulefile import load_file
from inferwatch.alert_rules.runconfig import DEFAULT_PACK
from inferwatch.alert_rules.sender import AlertmanagerSink, InProcessSink
from inferwatch.alert_rules.sources import SourceError
from inferwatch.alert_rules.sources.embedded import EmbeddedSource, Target
from inferwatch.alert_rules.web import make_app
from inferwatch.cli import main
from tests.support.procs import PYTHON, ROOT, free_port, wait_http

RULES = """groups:
  - name: g
    interval: 15s
    rules:
      - alert: KVFull
        metric: inferwatch_engine_kv_cache_usage_ratio
        op: ">"
        threshold: 0.9
        for: 15s
        severity: critical
"""
SERIES = 'inferwatch_engine_kv_cache_usage_ratio{engine="vllm",model="m",target="t"} 0.95\n'


def groups(tmp_path: Path):
    (tmp_path / "rules.yml").write_text(RULES)
    return [compile_group(g) for g in load_file(tmp_path / "rules.yml")]


def pack_rules() -> int:
    return sum(len(compile_group(g).alerts) for g in load_file(DEFAULT_PACK))


@pytest.fixture
def root_logging():
    """`main` sets up logging on the root logger (a handler on this test's captured stderr):
    put the root logger back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def test_once_against_an_unreachable_prometheus_exits_1_and_never_shows_rule_alerts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], root_logging) -> None:
    config = tmp_path / "run.yml"
    config.write_text(json.dumps({"source": {"prometheus": {
        "url": f"http://127.0.0.1:{free_port()}", "timeout": "2s"}}}))
    assert main(["rules", "run", "--config", str(config), "--once"]) == 1
    out, err = capsys.readouterr()
    assert f"{pack_rules()} rule(s) could not be evaluated" in err
    assert "query failed: ClientConnectorError" in err
    alerts = [row for row in out.splitlines()[1:] if "alertname=" in row]
    assert len(alerts) == pack_rules()
    assert all(f"alertname={ERROR_ALERT}," in row and "severity=warning" in row
               for row in alerts), alerts
    assert "critical" not in out and " nan " not in out


def test_once_with_a_dead_scrape_target_exits_1_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], root_logging) -> None:
    dead = f"http://127.0.0.1:{free_port()}/metrics"
    config = tmp_path / "run.yml"
    config.write_text(json.dumps({"source": {"embedded": {"targets": [{"url": dead}]}}}))
    assert main(["rules", "run", "--config", str(config), "--once"]) == 1
    err = capsys.readouterr().err
    assert f"inferwatch rules run: scrape of {dead} failed: ClientConnectorError" in err
    assert err.count(dead) == 1  # printed once, not logged a second time


class FailingFor:
    """A source whose queries fail while `failing` is true (then answer nothing)."""

    name = "http://prometheus.invalid"

    def __init__(self) -> None:
        self.failing = True

    async def instant(self, expr: Node | str, ts: float) -> list:
        if self.failing:
            raise SourceError("query failed: ClientConnectorError: refused")
        return []


async def test_a_failing_query_sends_the_engines_alert_and_logs_once_per_change(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "inferwatch.alert_rules")
    source, received = FailingFor(), []
    engine = RuleManager(groups(tmp_path), source, [InProcessSink(received.extend)])
    for t in (0, 15, 30):
        await engine.tick(float(t))
    source.failing = False
    await engine.tick(45.0)
    fired = [p for p in received if p["endsAt"] != p["startsAt"]]
    assert fired[0]["labels"] == {"alertname": ERROR_ALERT, "rule": "KVFull", "group": "g",
                                  "severity": "warning"}
    assert fired[0]["annotations"]["error"] == "query failed: ClientConnectorError: refused"
    assert received[-1]["endsAt"] == "1970-01-01T00:00:45.000Z"  # resolved when it works
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("rule evaluation failed") == 1
    assert messages.count("rule evaluation works again") == 1
    assert [m for m in messages if m.startswith("alert ")] == [
        "alert pending", "alert firing", "alert inactive"]
    assert engine.failure_counts() == {("query", "http://prometheus.invalid"): 3}


class Flaky:
    """An exporter that answers 500 while `alive` is false."""

    def __init__(self) -> None:
        self.alive = True

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(text=SERIES) if self.alive else web.Response(status=500)


async def test_scrape_and_alertmanager_failures_are_logged_once_per_change(
        aiohttp_server, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "inferwatch.alert_rules")
    flaky = Flaky()
    app = web.Application()
    app.router.add_get("/metrics", flaky.metrics)
    server = await aiohttp_server(app, host="127.0.0.1")
    url = f"http://127.0.0.1:{server.port}/metrics"
    metrics = Metrics()
    async with EmbeddedSource([Target(url)], 3600) as source, aiohttp.ClientSession() as session:
        dead = AlertmanagerSink(f"http://127.0.0.1:{free_port()}", session, timeout=2)
        engine = RuleManager(groups(tmp_path), source, [dead], resend_delay=15, metrics=metrics)
        for t in range(0, 180, 15):
            flaky.alive = not 60 <= t < 120
            await source.scrape(float(t))
            await engine.tick(float(t))
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("scrape failed") == 1 and messages.count("scrape works again") == 1
    assert messages.count("alertmanager send failed") == 1
    assert dead.failures >= 3
    assert [m for m in messages if m.startswith("alert ")] == [
        "alert pending", "alert firing", "alert inactive", "alert pending", "alert firing"]
    value = metrics.registry.get_sample_value
    assert value("inferwatch_rules_source_failures_total", {"kind": "scrape", "source": url}) == 4
    assert value("inferwatch_rules_source_failures_total",
                 {"kind": "alertmanager", "source": dead.base}) == dead.failures
    assert value("inferwatch_rules_alerts", {"state": "firing"}) == 1
    assert value("inferwatch_rules_cycle_duration_seconds_count", {"group": "g"}) == 12


async def test_web_app_is_ready_after_the_first_cycle(aiohttp_client) -> None:
    ready = [False]
    client = await aiohttp_client(make_app(Metrics(), lambda: ready[0]))
    assert (await client.get("/-/ready")).status == 503
    ready[0] = True
    assert (await client.get("/-/ready")).status == 200
    assert (await client.get("/-/healthy")).status == 200
    assert "inferwatch_rules_cycle_duration_seconds" in await (await client.get("/metrics")).text()


def test_rules_run_logs_a_dead_target_once_and_serves_its_metrics(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/metrics"
    config = tmp_path / "run.yml"
    config.write_text(json.dumps({"source": {"embedded": {
        "targets": [{"url": dead}], "scrape_interval": "200ms", "timeout": "1s"}}}))
    port = free_port()
    log = (tmp_path / "stderr").open("w")
    proc = subprocess.Popen([PYTHON, "-m", "inferwatch.cli", "rules", "run", "--config",
                             str(config), f"--web.listen-address=127.0.0.1:{port}"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready")
        needle = f'inferwatch_rules_source_failures_total{{kind="scrape",source="{dead}"}} '
        deadline, failures = time.monotonic() + 20, 0.0
        while failures < 3 and time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                text = r.read().decode()
            failures = next((float(line.split()[-1]) for line in text.splitlines()
                             if line.startswith(needle)), 0.0)
        assert failures >= 3, text
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0
        log.close()
    lines = (tmp_path / "stderr").read_text().splitlines()
    assert sum('msg="scrape failed"' in line for line in lines) == 1, lines
    assert any('msg="rules engine started"' in line for line in lines), lines
