"""Evaluation cycle of 500 rules over 5,000 series: the embedded engine beside a real Prometheus.

    python bench/bench_rules.py [--cycles 10] [--window 30]

A loopback aiohttp app (a child process) serves 5,000 catalogue series: 100 engine targets
(20 models x 5 targets; KV cache, queue, running, up, four counters, finished requests by four
reasons, TTFT and inter-token latency histograms) and 200 GPUs (up, utilisation, temperature,
memory). Values move with time. 500 threshold rules: 24 templates (last and *_over_time of the
gauges, rate/increase of the counters, p50..p99 of both histograms, aggregations) for each of
the 20 models, and 20 fleet-wide rules on the gauges. Prometheus (Debian's, loading the rules
as `inferwatch rules compile` writes them) and the embedded source scrape the app every second
and evaluate the one group every 2 s. Once the window has filled, `--cycles` embedded cycles
(`RuleManager.tick`: every rule queried and stepped) and Prometheus's group duration
(`prometheus_rule_group_last_duration_seconds`) are timed; printed: median and worst of both,
ratio of the medians. Target: embedded at most 2x Prometheus and at most 250 ms."""

from __future__ import annotations

import argparse
import asyncio
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import aiohttp
import yaml
from aiohttp import web
from common import free_port, wait_ok

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from inferwatch import catalog as c  # noqa: E402
from inferwatch.alert_rules.compile import compile_group, write_outputs  # noqa: E402
from inferwatch.alert_rules.manager import RuleManager  # noqa: E402
from inferwatch.alert_rules.rulefile import load_file  # noqa: E402
from inferwatch.alert_rules.sources.embedded import EmbeddedSource, Target  # noqa: E402

MODELS, TARGETS_PER_MODEL, GPUS = 20, 5, 200
ENGINES = ("vllm", "sglang", "tgi", "trtllm")
REASONS = ("stop", "length", "abort", "error")
SCRAPE, EVAL = 1.0, 2.0
GROUP = "bench"


def fmt(name: str, labels: dict[str, str], value: float) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{inner}}} {value!r}\n"


def engine_lines(j: int, t: float) -> list[str]:
    """One engine target's 42 series at `t` seconds."""
    lb = {"engine": ENGINES[j % 4], "model": f"model-{j % MODELS:02d}",
          "target": f"http://10.0.{j // 50}.{j % 50}:8000/metrics"}
    wave = math.sin(t / 20 + j)
    out = [fmt(c.ENGINE_UP.name, lb, 1.0),
           fmt(c.ENGINE_KV_CACHE_USAGE.name, lb, 0.55 + 0.4 * wave),
           fmt(c.ENGINE_REQUESTS_WAITING.name, lb, float(round(10 + 10 * wave))),
           fmt(c.ENGINE_REQUESTS_RUNNING.name, lb, float(20 + j % 7)),
           fmt(c.ENGINE_PREEMPTIONS.name, lb, float(int(t * (j % 5) / 10))),
           fmt(c.ENGINE_PROMPT_TOKENS.name, lb, t * 1000 * (1 + j % 3)),
           fmt(c.ENGINE_GENERATION_TOKENS.name, lb, t * 400 * (1 + j % 4))]
    out += [fmt(c.ENGINE_REQUESTS_FINISHED.name, {**lb, "reason": r}, t * (i + 1) * (j % 3))
            for i, r in enumerate(REASONS)]
    for spec, scale in ((c.ENGINE_TTFT, 0.8), (c.ENGINE_ITL, 0.04)):
        count = t * (5 + j % 5)
        for bound in spec.buckets:
            share = 1 - math.exp(-bound / (scale * (1.2 + wave)))
            fb = float(bound)
            out.append(fmt(spec.name + "_bucket", {**lb, "le": repr(fb)}, count * share))
        out.append(fmt(spec.name + "_bucket", {**lb, "le": "+Inf"}, count))
        out += [fmt(spec.name + "_sum", lb, count * scale), fmt(spec.name + "_count", lb, count)]
    return out


def gpu_lines(g: int, t: float) -> list[str]:
    lb = {"gpu": str(g % 8), "uuid": f"GPU-{g:08x}-bench"}
    wave = math.sin(t / 30 + g)
    return [fmt(c.GPU_UP.name, lb, 1.0), fmt(c.GPU_UTILIZATION.name, lb, 0.5 + 0.45 * wave),
            fmt(c.GPU_TEMPERATURE.name, lb, 65 + 20 * wave),
            fmt(c.GPU_MEMORY_USED.name, lb, 6e10 + 1e10 * wave)]


def body(t: float) -> str:
    lines = [line for j in range(MODELS * TARGETS_PER_MODEL) for line in engine_lines(j, t)]
    return "".join(lines + [line for g in range(GPUS) for line in gpu_lines(g, t)])


def serve(port: int) -> None:
    start = time.monotonic()

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=body(time.monotonic() - start + 1000))

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def templates(w: str) -> list[dict]:
    """24 rules (without matchers) over the served catalogue metrics, window `w`."""
    kv, wait, fin = (c.ENGINE_KV_CACHE_USAGE.name, c.ENGINE_REQUESTS_WAITING.name,
                     c.ENGINE_REQUESTS_FINISHED.name)
    per_target = ["engine", "model", "target"]
    rules = [dict(metric=kv, op=">", threshold=0.9)]
    rules += [dict(metric=kv, function=f, window=w, op=">", threshold=x) for f, x in
              (("avg_over_time", 0.85), ("max_over_time", 0.95), ("min_over_time", 0.8))]
    rules += [dict(metric=wait, op=">", threshold=15), dict(
        metric=wait, function="min_over_time", window=w, op=">", threshold=10)]
    rules += [dict(metric=wait, function="avg_over_time", window=w, op=">", threshold=12),
              dict(metric=c.ENGINE_REQUESTS_RUNNING.name, function="max_over_time", window=w,
                   op="<", threshold=1), dict(metric=c.ENGINE_UP.name, op="==", threshold=0)]
    rules += [dict(metric=c.ENGINE_PREEMPTIONS.name, function="increase", window=w,
                   aggregate="sum", by=per_target, op=">", threshold=5),
              dict(metric=c.ENGINE_PREEMPTIONS.name, function="rate", window=w, op=">",
                   threshold=0.3),
              dict(metric=c.ENGINE_PROMPT_TOKENS.name, function="rate", window=w,
                   aggregate="sum", by=["model"], op=">", threshold=1e5),
              dict(metric=c.ENGINE_GENERATION_TOKENS.name, function="rate", window=w,
                   aggregate="sum", by=["engine", "model"], op=">", threshold=1e5),
              dict(metric=fin, matchers={"reason": "=~error|abort"}, function="rate", window=w,
                   aggregate="sum", by=["model"], op=">", threshold=10),
              dict(metric=fin, matchers={"reason": "error"}, function="increase", window=w,
                   op=">", threshold=100)]
    for spec, q, by, x in ((c.ENGINE_TTFT, 0.95, per_target, 2), (c.ENGINE_TTFT, 0.99,
                           ["model"], 5), (c.ENGINE_TTFT, 0.5, [], 1),
                           (c.ENGINE_ITL, 0.95, per_target, 0.1),
                           (c.ENGINE_ITL, 0.99, ["model"], 0.25), (c.ENGINE_ITL, 0.5, [], 0.05)):
        rules.append(dict(metric=spec.name, function="quantile", quantile=q, window=w, by=by,
                          op=">", threshold=x))
    rules += [dict(metric=kv, function="avg_over_time", window=w, aggregate="max",
                   by=["model"], op=">", threshold=0.9),
              dict(metric=wait, aggregate="sum", by=["model"], op=">", threshold=100),
              dict(metric=c.ENGINE_REQUESTS_RUNNING.name, op=">", threshold=25)]
    return rules


def fleet(w: str) -> list[dict]:
    """20 rules over every series of a gauge."""
    gauges = [(c.ENGINE_KV_CACHE_USAGE.name, 0.9), (c.ENGINE_REQUESTS_WAITING.name, 15),
              (c.GPU_UTILIZATION.name, 0.9), (c.GPU_TEMPERATURE.name, 84),
              (c.GPU_MEMORY_USED.name, 6.9e10)]
    return [dict(metric=m, function=f, window=w, op=">", threshold=x) for m, x in gauges
            for f in ("avg_over_time", "max_over_time", "min_over_time")] + [
        dict(metric=m, op=">", threshold=x) for m, x in gauges]


def rule_file(path: Path, window: float) -> int:
    w = f"{window:g}s"
    rules = [{**r, "matchers": {**r.get("matchers", {}), "model": f"model-{m:02d}"}}
             for m in range(MODELS) for r in templates(w)] + fleet(w)
    named = [{"alert": f"Bench{i:03d}", **r} for i, r in enumerate(rules)]
    group = {"name": GROUP, "interval": f"{EVAL:g}s", "rules": named}
    path.write_text(yaml.safe_dump({"groups": [group]}, sort_keys=False))
    return len(named)


def start_prometheus(tmp: Path, rules: Path, data_port: int, port: int) -> subprocess.Popen:
    binary = shutil.which("prometheus") or sys.exit("prometheus not installed (Debian package)")
    config = tmp / "prometheus.yml"  # the global intervals; the group sets its own (EVAL)
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": f"{SCRAPE:g}s", "evaluation_interval": f"{EVAL:g}s"},
        "rule_files": [str(rules)],
        "scrape_configs": [{"job_name": "bench",
                            "static_configs": [{"targets": [f"127.0.0.1:{data_port}"]}]}]}))
    return subprocess.Popen([binary, f"--config.file={config}",
                             f"--storage.tsdb.path={tmp / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def prometheus_duration(session: aiohttp.ClientSession, url: str) -> float:
    """Prometheus's prometheus_rule_group_last_duration_seconds of the group."""
    async with session.get(url + "/metrics") as resp:
        for line in (await resp.text()).splitlines():
            if line.startswith("prometheus_rule_group_last_duration_seconds{") and \
                    f';{GROUP}"' in line:
                return float(line.rsplit(" ", 1)[1])
    sys.exit("Prometheus has no prometheus_rule_group_last_duration_seconds for the group")


async def eval_phase(session: aiohttp.ClientSession, prom: str) -> float:
    """When Prometheus last evaluated the group (Unix seconds), once it has."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        async with session.get(prom + "/api/v1/rules") as resp:
            stamp = (await resp.json())["data"]["groups"][0]["lastEvaluation"]
        if not stamp.startswith("0001"):
            head, _, frac = stamp.rstrip("Z").partition(".")
            return datetime.fromisoformat(head + "+00:00").timestamp() + float("0." + frac)
        await asyncio.sleep(0.2)
    sys.exit("Prometheus did not evaluate the rules within 30 s")


async def measure(engine: RuleManager, source: EmbeddedSource, prom: str, warmup: float,
                  cycles: int) -> tuple[list[float], list[float], list[float]]:
    """Scrape every SCRAPE s; tick every EVAL s, half an interval after Prometheus evaluates
    (the two do not compete for the CPU); after `warmup` s, time `cycles` ticks."""
    ours: list[float] = []
    scrapes: list[float] = []
    theirs: list[float] = []
    async with aiohttp.ClientSession() as session:
        start = scrape_at = time.time()
        eval_at = await eval_phase(session, prom) + EVAL / 2
        eval_at += math.ceil((start - eval_at) / EVAL) * EVAL
        while len(ours) < cycles:
            await asyncio.sleep(max(0.0, min(scrape_at, eval_at) - time.time()))
            t0 = time.perf_counter()
            if scrape_at <= eval_at:
                await source.scrape(scrape_at)
                scrapes.append(time.perf_counter() - t0)
                scrape_at += SCRAPE
                continue
            await engine.tick(eval_at)
            if eval_at - start >= warmup:
                ours.append(time.perf_counter() - t0)
                theirs.append(await prometheus_duration(session, prom))
            eval_at += EVAL
    return ours, theirs, scrapes


async def bench(cycles: int, window: float) -> int:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        count = rule_file(tmp / "bench.yml", window)
        groups = load_file(tmp / "bench.yml")
        write_outputs(groups, tmp / "out")
        data_port, prom_port = free_port(), free_port()
        procs = [subprocess.Popen([sys.executable, __file__, "--serve", str(data_port)]),
                 start_prometheus(tmp, tmp / "out" / "bench.rules.yml", data_port, prom_port)]
        prom, data = f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{data_port}/metrics"
        try:
            async with aiohttp.ClientSession() as session:
                await wait_ok(session, data)
                await wait_ok(session, prom + "/-/ready")
            async with EmbeddedSource([Target(data, job="bench")], window + 60) as source:
                engine = RuleManager([compile_group(g) for g in groups], source, [])
                ours, theirs, scrapes = await measure(engine, source, prom, window + EVAL,
                                                      cycles)
                series = source.window.series_count()
        finally:
            for p in procs:
                p.terminate()
                p.wait(timeout=10)
    return report(count, series, ours, theirs, scrapes)


def report(rules: int, series: int, ours: list[float], theirs: list[float],
           scrapes: list[float]) -> int:
    mine, prom = statistics.median(ours), statistics.median(theirs)
    print(f"{rules} rules over {series} series, {len(ours)} cycles after the window filled")
    print(f"embedded cycle:   median {mine * 1000:7.1f} ms   worst {max(ours) * 1000:7.1f} ms")
    print(f"prometheus group: median {prom * 1000:7.1f} ms   worst {max(theirs) * 1000:7.1f} ms")
    print(f"embedded scrape (fetch, parse, ingest): {statistics.median(scrapes) * 1000:.1f} ms")
    ok = mine / prom <= 2 and mine <= 0.25
    print(f"ratio embedded/prometheus: {mine / prom:.2f}  (target <= 2 and <= 250 ms: "
          f"{'met' if ok else 'MISSED'})")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=10, help="timed cycles (default 10)")
    parser.add_argument("--window", type=float, default=30.0,
                        help="range of the rules' windows, seconds (default 30)")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    return asyncio.run(bench(args.cycles, args.window))


if __name__ == "__main__":
    sys.exit(main())
