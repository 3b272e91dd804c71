"""A real Prometheus and the embedded engine scrape the same loopback exporter, whose values
follow a short scripted incident, and evaluate the same compiled rules: the same alerts (names
and labels) must fire and resolve, each within one evaluation plus one scrape interval of the
other (their scrape and evaluation phases differ). Wall-clock by nature: Prometheus keeps time.

The issue's full version (the real exporter over a simulated engine in the simulator's incident
scenario) is test_rules_incident_agreement.py; this one keeps a scripted, two-target case."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from inferwatch.alert_rules.compile import compile_group, write_outputs
from inferwatch.alert_rules.evaluate import FIRING
from inferwatch.alert_rules.manager import RuleManager
from inferwatch.alert_rules.rulefile import load_file
from inferwatch.alert_rules.sources.embedded import EmbeddedSource, Target
from tests.support.procs import free_port, need_binary, wait_http

RULES = """groups:
  - name: agree
    interval: 1s
    rules:
      - alert: KVHigh
        metric: inferwatch_engine_kv_cache_usage_ratio
        op: ">"
        threshold: 0.9
        for: 2s
      - alert: Preempting
        metric: inferwatch_engine_preemptions_total
        function: rate
        window: 4s
        aggregate: sum
        by: [model]
        op: ">"
        threshold: 5
"""
# (seconds from start, kv ratio of target a, preemptions per second)
SCRIPT = [(0, 0.5, 0), (3, 0.97, 20), (11, 0.5, 0), (17, None, None)]
TOLERANCE = 2.0 + 0.5  # one evaluation + one scrape interval, plus polling slack


class Scripted:
    def __init__(self, start: float) -> None:
        self.start, self.count, self.last = start, 0.0, start

    def phase(self, now: float) -> tuple[float, float]:
        current = SCRIPT[0]
        for step in SCRIPT:
            if now - self.start >= step[0] and step[1] is not None:
                current = step
        return current[1], current[2]

    async def metrics(self, request: web.Request) -> web.Response:
        now = time.time()
        kv, per_second = self.phase(now)
        self.count += per_second * (now - self.last)
        self.last = now
        labels = 'engine="vllm",model="m",target="a"'
        return web.Response(text=(
            f"inferwatch_engine_kv_cache_usage_ratio{{{labels}}} {kv}\n"
            f'inferwatch_engine_kv_cache_usage_ratio{{engine="vllm",model="m",target="b"}} 0.1\n'
            f"inferwatch_engine_preemptions_total{{{labels}}} {self.count}\n"))


def record(seen: dict, firing: set, now: float) -> None:
    for key in firing - {k for k, v in seen.items() if v[1] is None}:
        seen.setdefault(key, [now, None])
    for key, times in seen.items():
        if key not in firing and times[1] is None:
            times[1] = now


async def prometheus_alerts(session: aiohttp.ClientSession, url: str) -> set:
    async with session.get(url + "/api/v1/alerts") as resp:
        alerts = (await resp.json())["data"]["alerts"]
    return {tuple(sorted(a["labels"].items())) for a in alerts if a["state"] == "firing"}


@pytest.mark.ecosystem
async def test_prometheus_and_embedded_agree(aiohttp_server, tmp_path: Path) -> None:
    binary = need_binary("prometheus")
    scripted = Scripted(time.time() + 3)  # script time starts once Prometheus is up
    app = web.Application()
    app.router.add_get("/metrics", scripted.metrics)
    server = await aiohttp_server(app, host="127.0.0.1")
    (tmp_path / "rules.yml").write_text(RULES)
    groups = load_file(tmp_path / "rules.yml")
    write_outputs(groups, tmp_path / "out")
    port = free_port()
    (tmp_path / "prometheus.yml").write_text(f"""global:
  {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [{tmp_path / 'out' / 'rules.rules.yml'}]
scrape_configs:
  - job_name: agree
    static_configs: [{{targets: ['127.0.0.1:{server.port}']}}]
""")
    proc = subprocess.Popen([binary, f"--config.file={tmp_path / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp_path / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await asyncio.to_thread(wait_http, f"http://127.0.0.1:{port}/-/ready", 20)
        theirs, ours = await run_both(f"http://127.0.0.1:{port}",
                                      f"http://127.0.0.1:{server.port}/metrics", groups, scripted)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert ours.keys() == theirs.keys() and len(ours) == 2, (ours, theirs)
    for key, (fired, resolved) in ours.items():
        assert abs(fired - theirs[key][0]) <= TOLERANCE, (key, ours, theirs)
        assert resolved is not None and theirs[key][1] is not None, (key, ours, theirs)
        assert abs(resolved - theirs[key][1]) <= TOLERANCE, (key, ours, theirs)


async def run_both(prom: str, target: str, groups, scripted: Scripted) -> tuple[dict, dict]:
    theirs: dict = {}
    ours: dict = {}
    compiled = [compile_group(g) for g in groups]
    async with EmbeddedSource([Target(target, job="agree")], 600) as source, \
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        engine = RuleManager(compiled, source, [])
        next_tick = time.time()
        while time.time() < scripted.start + SCRIPT[-1][0]:
            now = time.time()
            if now >= next_tick:
                next_tick = now + 1.0
                await source.scrape(now)
                await engine.tick(now)
                record(ours, {tuple(sorted(a.labels.items())) for s in engine.states.values()
                              for a in s.active.values() if a.state == FIRING}, now)
            record(theirs, await prometheus_alerts(session, prom), time.time())
            await asyncio.sleep(0.25)  # a real Prometheus runs on wall time
    return ({k: tuple(v) for k, v in theirs.items()}, {k: tuple(v) for k, v in ours.items()})
