"""The issue's agreement test: a real Prometheus scrapes the real exporter over a simulated vLLM
engine going through the simulator's incident scenario, and loads the compiled rules; the
embedded engine scrapes the same exporter and evaluates the same rules. The same alerts (names
and labels) must fire and resolve, each within one evaluation interval of the other.

The rules are the default pack's KV-cache, queue and preemption rules with their windows and
`for` scaled to a `--speed 8` incident (the whole incident takes 30 s of wall time), compiled by
`inferwatch rules compile` at test time. Scrapes and evaluations run every second.

Phases: the embedded engine scrapes in the phase of Prometheus's scrapes and evaluates at the
timestamps of Prometheus's rule group (both read from its API), so the two read the exporter
at the same moments and evaluate at the same instants; what remains is the semantics of the two
evaluators. Prometheus's times are when /api/v1/alerts (polled every 0.1 s) first shows the
change, snapped down to its evaluation timestamp. Wall-clock by nature: Prometheus keeps time.

A long differential run (some 30 s of wall time): it runs with INFERWATCH_LONG=1, beside the
default suite's shorter agreement test (test_rules_agreement.py).
"""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import time
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
import yaml

from inferwatch.alert_rules.compile import compile_group
from inferwatch.alert_rules.evaluate import FIRING
from inferwatch.alert_rules.manager import RuleManager
from inferwatch.alert_rules.rulefile import load_file
from inferwatch.alert_rules.sources.embedded import EmbeddedSource, Target
from tests.support.procs import PYTHON, ROOT, free_port, need_binary, spawn, wait_http

SPEED = 8.0
INTERVAL = 1.0
TOLERANCE = INTERVAL + 0.01  # one evaluation interval (float slack)
DEADLINE = 70.0  # wall seconds from the simulator's start to the end of the incident
JOB = "inferwatch"
# The default pack's rules, their durations scaled to the compressed incident.
SCALED: dict[str, dict[str, object]] = {
    "KVCacheNearFull": {"window": "4s", "for": "3s", "keep_firing_for": "2s"},
    "EngineQueueBacklog": {"window": "4s", "for": "3s"},
    "RequestsWaitingTooLong": {"window": "4s", "for": "3s"},
    "PreemptionSpike": {"window": "4s", "for": "2s", "threshold": 5},
}
Key = tuple[tuple[str, str], ...]


class Timeline:
    """Per (alertname, labels): the [fired, resolved] episodes, as first observed."""

    def __init__(self) -> None:
        self.episodes: dict[Key, list[list[float | None]]] = {}

    def observe(self, firing: set[Key], t: float) -> None:
        for key in firing:
            runs = self.episodes.setdefault(key, [])
            if not runs or runs[-1][1] is not None:
                runs.append([t, None])
        for key, runs in self.episodes.items():
            if key not in firing and runs[-1][1] is None:
                runs[-1][1] = t

    def open(self) -> bool:
        return any(runs[-1][1] is None for runs in self.episodes.values())


def derived_pack(path: Path) -> None:
    """The default pack's scaled rules in one group evaluated every second."""
    pack = yaml.safe_load((ROOT / "alert_rules/packs/llm-serving.yml").read_text())
    rules = [{**rule, **SCALED[rule["alert"]]} for group in pack["groups"]
             for rule in group["rules"] if rule.get("alert") in SCALED and "slo" not in rule]
    assert sorted(r["alert"] for r in rules) == sorted(SCALED)
    group = {"name": "incident", "interval": f"{INTERVAL:g}s", "rules": rules}
    path.write_text(yaml.safe_dump({"groups": [group]}, sort_keys=False))


def unix(stamp: str) -> float:
    """An RFC 3339 time from Prometheus's API (nanoseconds kept to microseconds)."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    seconds = datetime.fromisoformat(head + "+00:00").timestamp()
    return seconds + float("0." + (frac or "0"))


async def get_json(session: aiohttp.ClientSession, url: str) -> dict:
    async with session.get(url) as resp:
        return await resp.json()


async def prometheus_phases(session: aiohttp.ClientSession, prom: str) -> tuple[float, float]:
    """(last scrape of the exporter, last evaluation of the group) once both happened."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        targets = (await get_json(session, prom + "/api/v1/targets"))["data"]["activeTargets"]
        groups = (await get_json(session, prom + "/api/v1/rules"))["data"]["groups"]
        scraped = [t["lastScrape"] for t in targets if t["health"] == "up"]
        evaluated = [g["lastEvaluation"] for g in groups if not g["lastEvaluation"]
                     .startswith("0001")]
        if scraped and evaluated:
            return unix(scraped[0]), unix(evaluated[0])
        await asyncio.sleep(0.2)
    pytest.fail("Prometheus neither scraped the exporter nor evaluated the rules in 15 s")


def firing_keys(engine: RuleManager) -> set[Key]:
    return {tuple(sorted(a.labels.items())) for s in engine.states.values()
            for a in s.active.values() if a.state == FIRING}


async def run_embedded(engine: RuleManager, source: EmbeddedSource, scrape_at: float,
                       eval_at: float, ours: Timeline, stop: asyncio.Event) -> None:
    """Scrape at Prometheus's scrape phase and evaluate at its group's timestamps."""
    now = time.time()
    scrape_at += math.ceil(now - scrape_at) * INTERVAL
    eval_at += math.ceil(now - eval_at) * INTERVAL
    while not stop.is_set():
        nxt = min(scrape_at, eval_at)
        await asyncio.sleep(max(0.0, nxt - time.time()))
        if scrape_at <= eval_at:
            await source.scrape(scrape_at)
            scrape_at += INTERVAL
        else:
            await engine.tick(eval_at)
            ours.observe(firing_keys(engine), eval_at)
            eval_at += INTERVAL


async def poll_prometheus(session: aiohttp.ClientSession, prom: str, eval_at: float,
                          theirs: Timeline, stop: asyncio.Event) -> None:
    """Firing alerts from /api/v1/alerts; a change dates from the evaluation before it."""
    while not stop.is_set():
        alerts = (await get_json(session, prom + "/api/v1/alerts"))["data"]["alerts"]
        seen = time.time()
        theirs.observe({tuple(sorted(a["labels"].items())) for a in alerts
                        if a["state"] == "firing"},
                       eval_at + math.floor((seen - eval_at) / INTERVAL) * INTERVAL)
        await asyncio.sleep(0.1)


async def watch_incident(session: aiohttp.ClientSession, sim: str, ours: Timeline,
                         theirs: Timeline, phases: dict[str, float]) -> None:
    """Until the incident is over (phase `recovered`, nothing firing on either side)."""
    deadline = time.time() + DEADLINE
    while time.time() < deadline:
        phase = (await get_json(session, sim + "/simulator/state"))["phase"]
        phases.setdefault(phase, time.time())
        if "recovered" in phases and not ours.open() and not theirs.open():
            return
        await asyncio.sleep(0.25)
    pytest.fail(f"the incident did not end within {DEADLINE}s: {phases}, "
                f"ours {ours.episodes}, Prometheus {theirs.episodes}")


def describe(ours: Timeline, theirs: Timeline, phases: dict[str, float]) -> str:
    """Phases and every episode, in seconds from the spike: ours, then Prometheus's."""
    t0 = phases.get("spike", 0.0)
    lines = ["phases: " + ", ".join(f"{k} {v - t0:+.1f}s" for k, v in phases.items())]
    for key in sorted(ours.episodes.keys() | theirs.episodes.keys()):
        labels = dict(key)
        name = labels.pop("alertname")
        times = [[None if t is None else round(t - t0, 2) for t in run]
                 for side in (ours, theirs) for run in side.episodes.get(key, [])]
        lines.append(f"{name} {sorted(labels.items())}: embedded, then Prometheus "
                     f"[fired, resolved]: {times}")
    return "\n".join(lines)


def prometheus_config(tmp_path: Path, rules: Path, exporter: int) -> Path:
    path = tmp_path / "prometheus.yml"
    path.write_text(f"""global:
  {{scrape_interval: {INTERVAL:g}s, evaluation_interval: {INTERVAL:g}s}}
rule_files: [{rules}]
scrape_configs:
  - job_name: {JOB}
    static_configs: [{{targets: ['127.0.0.1:{exporter}']}}]
""")
    return path


def start_stack(tmp_path: Path, processes: list[subprocess.Popen]) -> tuple[str, str, str]:
    """Prometheus, the simulator and the exporter; their base URLs once all answer."""
    derived_pack(tmp_path / "incident.yml")
    subprocess.run([PYTHON, "-m", "inferwatch.cli", "rules", "compile",
                    str(tmp_path / "incident.yml"), "--out", str(tmp_path / "out")],
                   cwd=ROOT, check=True, capture_output=True, timeout=60)
    prom_port, sim_port, exp_port = free_port(), free_port(), free_port()
    config = prometheus_config(tmp_path, tmp_path / "out" / "incident.rules.yml", exp_port)
    processes.append(subprocess.Popen(
        [need_binary("prometheus"), f"--config.file={config}",
         f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    sim = f"http://127.0.0.1:{sim_port}"
    processes.append(spawn("exporter", "--simulate-gpus", "2", "--engine", f"vllm={sim}/metrics",
                           "--collector.engines.interval", "1s",
                           "--web.listen-address", f"127.0.0.1:{exp_port}"))
    processes.append(spawn("simulate-engine", "--kind", "vllm", "--scenario", "incident",
                           "--speed", f"{SPEED:g}",
                           "--web.listen-address", f"127.0.0.1:{sim_port}"))
    prom, exporter = f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{exp_port}"
    for url in (sim + "/simulator/state", prom + "/-/ready", exporter + "/readyz"):
        wait_http(url, timeout=30)
    return prom, sim, exporter + "/metrics"


@pytest.mark.ecosystem
@pytest.mark.skipif(os.environ.get("INFERWATCH_LONG") != "1",
                    reason="a 30-second differential run: INFERWATCH_LONG=1")
async def test_incident_alerts_agree(tmp_path: Path, processes: list[subprocess.Popen]) -> None:
    prom, sim, target = await asyncio.to_thread(start_stack, tmp_path, processes)
    groups = [compile_group(g) for g in load_file(tmp_path / "incident.yml")]
    ours, theirs, phases = Timeline(), Timeline(), {}
    stop = asyncio.Event()
    timeout = aiohttp.ClientTimeout(total=5)
    async with EmbeddedSource([Target(target, job=JOB)], 120) as source, \
            aiohttp.ClientSession(timeout=timeout) as session:
        scrape_at, eval_at = await prometheus_phases(session, prom)
        engine = RuleManager(groups, source, [])
        tasks = [asyncio.create_task(run_embedded(engine, source, scrape_at, eval_at, ours,
                                                  stop)),
                 asyncio.create_task(poll_prometheus(session, prom, eval_at, theirs, stop))]
        try:
            await watch_incident(session, sim, ours, theirs, phases)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
    report = describe(ours, theirs, phases)
    assert "steady" in phases and "spike" in phases, report
    assert {dict(k)["alertname"] for k in ours.episodes} >= {
        "KVCacheNearFull", "EngineQueueBacklog"}, report
    assert ours.episodes.keys() == theirs.episodes.keys(), report
    for key, runs in ours.episodes.items():
        assert len(runs) == len(theirs.episodes[key]), (key, report)
        for mine, prometheus in zip(runs, theirs.episodes[key], strict=True):
            assert mine[0] >= phases["spike"] - INTERVAL, (key, report)
            assert abs(mine[0] - prometheus[0]) <= TOLERANCE, (key, report)
            assert abs(mine[1] - prometheus[1]) <= TOLERANCE, (key, report)
    print(report)  # the observed times, with -s
