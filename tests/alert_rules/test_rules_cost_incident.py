"""The cost rules on the simulated incident, on a real Prometheus and on the embedded source.

A simulated vLLM engine plays the incident scenario (`--speed 8`) as a pod on two simulated
GPUs whose utilisation and power follow its load (inferwatch.demo.pods: procfs cgroups, pod
directory, FakeNVML.drive), behind the real exporter. Prometheus scrapes the exporter every
second and evaluates the pack's `inferwatch-cost` group, its ranges divided by FACTOR (5m
reads 10s); the embedded source scrapes the same exporter and records the same group.

At each side's own last evaluation, joules per token, tokens per second per GPU and the pod's
power are worked out here from the raw samples that side holds (the energy counters' and the
token counters' increase over the same window: one scrape stamps them all, so rate()'s
extrapolation cancels in the ratio) and must equal the recorded values. So must the cost per
million tokens (1h reads HOUR seconds, longer than the run): the GPU-hour prices by GPU name and
the kWh price read from the pack's price rules, over rates worked out here as Prometheus 2.42's
extrapolatedRate does from each side's samples. The energy must match the power draw the
exporter reported (the GPUs run on the engine's simulated clock: SPEED simulated seconds per
wall second), and during the spike the GPUs must run near full while requests queue.
"""

from __future__ import annotations

import asyncio
import calendar
import json
import math
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp import web

from inferwatch import catalog
from inferwatch.alert_rules.compile import RecordingRule, compile_group, write_outputs
from inferwatch.alert_rules.rulefile import load_file
from inferwatch.alert_rules.runconfig import DEFAULT_PACK
from inferwatch.alert_rules.sources.embedded import EmbeddedSource, Target
from inferwatch.demo import pods
from inferwatch.demo.rules import scale_text
from inferwatch.exporter.app import make_app as exporter_app
from inferwatch.exporter.config import load_config
from inferwatch.exporter.main import build_loop
from inferwatch.simulate.engines.app import SIM_KEY
from inferwatch.simulate.engines.app import make_app as engine_app
from inferwatch.simulate.engines.sim import Simulation
from tests.support.procs import free_port, need_binary

pytestmark = pytest.mark.ecosystem
SPEED, FACTOR, WINDOW = 8.0, 30.0, 10.0  # 5m / FACTOR = WINDOW seconds
SPIKE_END = 25.0  # wall seconds: the spike (simulated 60-160 s) is over by then
HOUR = 3600.0 / FACTOR  # what 1h reads (the cost rules' window): longer than the run
JPT, TPG = "inferwatch:engine_joules_per_token:rate5m", "inferwatch:engine_tokens_per_gpu:rate5m"
COST = "inferwatch:engine_cost_per_million_tokens:rate1h"
POWER = "inferwatch:gpu_pod_power_watts"
COUNTERS = (catalog.GPU_ENERGY.name, catalog.ENGINE_GENERATION_TOKENS.name,
            catalog.ENGINE_PROMPT_TOKENS.name)


def scaled_cost_group(path: Path) -> Path:
    """The pack's cost group with its ranges divided by FACTOR, evaluated every second."""
    pack = yaml.safe_load(DEFAULT_PACK.read_text())
    (group,) = [g for g in pack["groups"] if g["name"] == "inferwatch-cost"]
    rules = [{**r, "expr": scale_text(r["expr"], FACTOR)} for r in group["rules"] if "record" in r]
    path.write_text(yaml.safe_dump({"groups": [{"name": "cost", "interval": "1s",
                                                "rules": rules}]}, sort_keys=False))
    return path


async def serve(app: web.Application, runners: list[web.AppRunner]) -> str:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    runners.append(runner)
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return f"http://127.0.0.1:{runner.addresses[0][1]}"


async def start_node(proc: Path, runners: list[web.AppRunner]) -> tuple[str, Simulation]:
    """The engine, as pod demo/vllm-0 on GPUs 0 and 1, and the exporter; its base URL."""
    sim = Simulation("vllm", seed=3, scenario="incident")
    app = engine_app(sim, speed=SPEED)
    url = await serve(app, runners) + sim.kind.metrics_path
    flags = {"exporter.engines": [{"kind": "vllm", "url": url, "namespace": pods.NAMESPACE,
                                   "pod": pods.pod_name("vllm")}],
             "exporter.simulate_gpus": 2, "exporter.simulate_scenario": "load",
             "exporter.collectors.host.enabled": False,
             "exporter.collectors.pods.enabled": True, "exporter.collectors.pods.interval": 0.5,
             "exporter.paths.procfs": str(pods.procfs(proc, ["vllm"])),
             "exporter.collectors.gpu.interval": 0.5, "exporter.collectors.engines.interval": 0.5}
    loop = build_loop(load_config(None, {k: ("test", v) for k, v in flags.items()}).exporter)
    by_name = {c.name: c for c in loop.collectors}
    by_name["pods"].directory = pods.directory(["vllm"])
    pods.place(by_name["gpu"].lib, [app[SIM_KEY]])
    return await serve(exporter_app(loop), runners), sim


def expected(raw: dict[str, list[tuple[dict[str, str], list[float]]]]) -> dict[str, float]:
    """Joules per token, tokens/s per GPU and the pod's GPU power, from the counters' first and
    last samples in the window (same timestamps for all: one scrape)."""
    energy, gen, prompt = (sum(v[-1] - v[0] for _labels, v in raw[name]) for name in COUNTERS)
    span = raw["span"]
    tokens = gen + prompt
    gpus = len(raw[COUNTERS[0]])
    return {JPT: energy / tokens, TPG: tokens / gpus / span, "energy_watts": energy / span}


def pack_prices() -> tuple[dict[str, float], float]:
    """({GPU name: USD per GPU-hour}, USD per kWh) as the pack's price rules write them."""
    pack = yaml.safe_load(DEFAULT_PACK.read_text())
    rules = [r for g in pack["groups"] for r in g["rules"] if "record" in r]

    def number(rule: dict) -> float:
        expr = rule["expr"].strip()
        assert expr.startswith("vector(") and expr.endswith(")"), expr
        return float(expr.removeprefix("vector(").removesuffix(")"))

    per_gpu = {r["labels"]["name"]: number(r) for r in rules
               if r["record"] == "inferwatch:gpu_price_usd_per_hour"}
    (kwh,) = [number(r) for r in rules if r["record"] == "inferwatch:energy_price_usd_per_kwh"]
    return per_gpu, kwh


def prometheus_rate(times: list[float], values: list[float], t: float, window: float) -> float:
    """rate() over the samples of [t - window, t] as Prometheus 2.42's extrapolatedRate works
    it out (no counter resets here): the increase extrapolated towards the window's edges
    (to zero at most), divided by the window."""
    increase, sampled = values[-1] - values[0], times[-1] - times[0]
    to_start, to_end = times[0] - (t - window), t - times[-1]
    if increase > 0 and values[0] >= 0:
        to_start = min(to_start, sampled * values[0] / increase)
    average = sampled / (len(times) - 1)
    interval = sampled + sum(d if d < average * 1.1 else average / 2 for d in (to_start, to_end))
    return increase * interval / sampled / window


def expected_cost(hour: dict[str, list], t: float) -> float:
    """USD per million tokens from the counters' samples in the hour's window and the pack's
    prices: each GPU's price per hour by its name plus its energy at the kWh price (each GPU
    is the pod's alone: its whole cost is the pod's), over the tokens per second."""
    per_gpu, kwh = pack_prices()
    names = {labels["uuid"]: labels["name"] for labels, _t, _v in hour[catalog.GPU_INFO.name]}
    dollars_per_hour = sum(per_gpu[names[labels["uuid"]]]
                           + prometheus_rate(times, values, t, HOUR) / 1000 * kwh
                           for labels, times, values in hour[catalog.GPU_ENERGY.name])
    tokens = sum(prometheus_rate(times, values, t, HOUR) for name in COUNTERS[1:]
                 for _labels, times, values in hour[name])
    return dollars_per_hour / 3600 * 1e6 / tokens


def close(a: float, b: float, rel: float = 1e-6) -> bool:
    return math.isclose(a, b, rel_tol=rel)


async def prometheus_side(session: aiohttp.ClientSession, base: str) -> dict[str, object]:
    async def q(expr: str, t: float) -> list[dict]:
        url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr, "time": t})
        async with session.get(url) as resp:
            return (await resp.json())["data"]["result"]

    async with session.get(base + "/api/v1/rules") as resp:
        (group,) = (await resp.json())["data"]["groups"]
    stamp = group["lastEvaluation"]
    head, _, frac = stamp.rstrip("Z").partition(".")
    t = calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S"))
    t += float("0." + (frac or "0"))
    # lastEvaluation is when the evaluation started; its samples are stamped with the group's
    # scheduled evaluation time, a few milliseconds earlier, which rate() extrapolates to
    (stamped,) = await q(f"timestamp({COST})", t)
    t = float(stamped["value"][1])
    raw: dict = {}
    for name in COUNTERS:
        found = await q(f"{name}[{WINDOW:g}s]", t)
        raw[name] = [(r["metric"], [float(v) for _ts, v in r["values"]]) for r in found]
        stamps = [float(ts) for ts, _v in found[0]["values"]]
        raw["span"] = stamps[-1] - stamps[0]
    hour = {name: [(r["metric"], [float(ts) for ts, _v in r["values"]],
                    [float(v) for _ts, v in r["values"]]) for r in await q(f"{name}[{HOUR:g}s]", t)]
            for name in (*COUNTERS, catalog.GPU_INFO.name)}
    recorded = {name: [float(r["value"][1]) for r in await q(name, t)]
                for name in (JPT, TPG, COST)}
    power = [float(r["value"][1]) for r in await q(POWER, t)]
    gauge = [float(r["value"][1]) for r in await q(
        f"avg_over_time({catalog.GPU_POWER_USAGE.name}[{WINDOW:g}s])", t)]
    return {"raw": raw, "hour": hour, "t": t, "recorded": recorded, "pod_power": power,
            "gauge": gauge,
            "now_power": [float(r["value"][1]) for r in await q(catalog.GPU_POWER_USAGE.name, t)]}


def embedded_side(source: EmbeddedSource, t: float) -> dict[str, object]:
    ms = int(t * 1000)
    raw: dict = {}
    for name in COUNTERS:
        raw[name] = []
        for series in source.window.select(name, ()):
            times, values = series.range(ms - int(WINDOW * 1000), ms)
            raw[name].append((series.labels, values))
            raw["span"] = (times[-1] - times[0]) / 1000
    hour: dict = {}
    for name in (*COUNTERS, catalog.GPU_INFO.name):
        hour[name] = []
        for series in source.window.select(name, ()):
            times, values = series.range(ms - int(HOUR * 1000), ms)
            hour[name].append((series.labels, [x / 1000 for x in times], values))
    recorded = {name: [v for _l, v in source.evaluate_text(name, t)]
                for name in (JPT, TPG, COST)}
    return {"raw": raw, "hour": hour, "t": ms / 1000, "recorded": recorded,
            "pod_power": [v for _l, v in source.evaluate_text(POWER, t)],
            "now_power": [v for _l, v in source.evaluate_text(catalog.GPU_POWER_USAGE.name, t)]}


def check(side: dict[str, object], who: str) -> None:
    want = expected(side["raw"])  # type: ignore[arg-type]
    want[COST] = expected_cost(side["hour"], side["t"])  # type: ignore[arg-type]
    for name in (JPT, TPG, COST):
        (got,) = side["recorded"][name]  # type: ignore[index]
        assert close(got, want[name]), f"{who}: {name} {got}, worked out {want[name]}"
    # each GPU is the pod's alone: its part of the power is the GPU's whole draw
    assert sorted(side["pod_power"]) == sorted(side["now_power"]), who  # type: ignore[arg-type]


async def test_cost_rules_follow_the_simulated_power_and_tokens(tmp_path: Path) -> None:
    rules = scaled_cost_group(tmp_path / "cost.yml")
    (compiled,) = [p for p in write_outputs(load_file(rules), tmp_path / "out")
                   if p.name.endswith(".rules.yml")]
    (group,) = [compile_group(g) for g in load_file(rules)]
    runners: list[web.AppRunner] = []
    with tempfile.TemporaryDirectory() as proc:
        exporter, sim = await start_node(Path(proc), runners)
        prom_port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(json.dumps({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(compiled)],
            "scrape_configs": [{"job_name": "inferwatch", "static_configs": [
                {"targets": [exporter.removeprefix("http://")]}]}]}))
        prometheus = subprocess.Popen(
            [need_binary("prometheus"), f"--config.file={config}",
             f"--storage.tsdb.path={tmp_path / 'data'}", "--log.level=warn",
             f"--web.listen-address=127.0.0.1:{prom_port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        source = EmbeddedSource([Target(exporter + "/metrics")], retention=3600)
        try:
            async with source, aiohttp.ClientSession() as session:
                started, peak_util, peak_waiting = time.monotonic(), 0.0, 0
                while time.monotonic() - started < SPIKE_END:
                    now = time.time()
                    await source.scrape(now)
                    for step in group.steps:
                        if isinstance(step, RecordingRule):
                            await source.record(step, f"cost/{step.name}", now)
                    utils = source.evaluate_text(catalog.GPU_UTILIZATION.name, now)
                    peak_util = max([peak_util, *(v for _l, v in utils)])
                    waiting = source.evaluate_text(catalog.ENGINE_REQUESTS_WAITING.name, now)
                    peak_waiting = max([peak_waiting, *(v for _l, v in waiting)])
                    await asyncio.sleep(1.0)
                check(embedded_side(source, now), "embedded")
                theirs = await prometheus_side(session, f"http://127.0.0.1:{prom_port}")
                check(theirs, "prometheus")
        finally:
            prometheus.terminate()
            prometheus.wait(timeout=10)
            for runner in runners:
                await runner.cleanup()
    want = expected(theirs["raw"])  # type: ignore[arg-type]
    # the energy counters integrate the power the exporter reported over simulated seconds
    # (the GPUs run on the engine's clock), SPEED of them per wall second
    assert close(want["energy_watts"], SPEED * sum(theirs["gauge"]), rel=0.15), theirs["gauge"]
    # the GPUs follow the engine: near full while requests queue in the spike
    assert peak_waiting > 50 and peak_util >= 0.95, (peak_waiting, peak_util)
