"""A plain Prometheus rule file of 500 rules over 5,000 series: the embedded evaluator beside
a real Prometheus, cycle time and memory per series.

    python bench/bench_promql.py [--cycles 10] [--range 5m] [--scrape 1] [--interval 10]

The synthetic target is bench_rules.py's (5,000 catalogue series that move with time,
served by a child process). The rule file is plain PromQL, one group: 24 templates for each
of the 20 models (rate, increase, deriv, histogram_quantile of summed bucket rates, sum/avg/max
by, `*_over_time` including quantile_over_time, `a / on(model) group_left sum by (model) (a)`,
`a / on(instance) group_left b`, ratios of aggregates) and 20 fleet-wide rules over the GPU
series (joins on uuid, count, topk, avg_over_time). Prometheus (Debian's) loads the file with
`rule_files`; the embedded side loads it with `rules run`'s loader
(`runconfig.load_rules(..., embedded=True)`) and ticks a `RuleManager` over an
`EmbeddedSource`. Both scrape the target every `--scrape` s; the embedded engine evaluates
half an interval after Prometheus so the two do not compete for the CPU. Prometheus starts
first with the target not yet up, so its RSS before any series is read; the embedded RSS is
read before its first scrape. Once both have scraped for the range plus an interval (the
window full), RSS growth over the scraped series count gives bytes per series, and
`--cycles` embedded cycles (`RuleManager.tick`) and Prometheus's
`prometheus_rule_group_last_duration_seconds` are timed. Printed: medians and worst, the
ratio (target: embedded at most half of Prometheus's) and memory per series; exits 1 when
the target is missed."""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import bench_rules
import yaml
from bench_rules import GROUP, MODELS, eval_phase, prometheus_duration, start_prometheus
from common import free_port, wait_ok

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inferwatch import catalog as c  # noqa: E402
from inferwatch.alert_rules.manager import RuleManager  # noqa: E402
from inferwatch.alert_rules.runconfig import load_rules  # noqa: E402
from inferwatch.alert_rules.sources.embedded import EmbeddedSource, Target  # noqa: E402

KV, WAIT, RUN = (c.ENGINE_KV_CACHE_USAGE.name, c.ENGINE_REQUESTS_WAITING.name,
                 c.ENGINE_REQUESTS_RUNNING.name)
PROMPT, GEN, PRE = (c.ENGINE_PROMPT_TOKENS.name, c.ENGINE_GENERATION_TOKENS.name,
                    c.ENGINE_PREEMPTIONS.name)
FIN, UP, TTFT, ITL = (c.ENGINE_REQUESTS_FINISHED.name, c.ENGINE_UP.name, c.ENGINE_TTFT.name,
                      c.ENGINE_ITL.name)
GUP, GUTIL, GTEMP, GMEM = (c.GPU_UP.name, c.GPU_UTILIZATION.name, c.GPU_TEMPERATURE.name,
                           c.GPU_MEMORY_USED.name)


def model_rules(m: str, w: str) -> list[str]:
    """24 expressions over one model's series (`m` its matcher), ranges `w`."""
    s = f'{{{m}}}'
    err = f'{{{m},reason="error"}}'
    return [
        f"rate({PROMPT}{s}[{w}]) > 2500",
        f"rate({GEN}{s}[{w}]) > 1500",
        f"rate({PRE}{s}[{w}]) > 0.3",
        f"increase({FIN}{err}[{w}]) > 100",
        f'sum by (model) (rate({FIN}{{{m},reason=~"error|abort"}}[{w}])) > 10',
        f"histogram_quantile(0.95, sum by (le, job) (rate({TTFT}_bucket{s}[{w}]))) > 2",
        f"histogram_quantile(0.99, sum by (le, model) (rate({TTFT}_bucket{s}[{w}]))) > 5",
        f"histogram_quantile(0.5, rate({TTFT}_bucket{s}[{w}])) > 1",
        f"histogram_quantile(0.95, sum by (le, job) (rate({ITL}_bucket{s}[{w}]))) > 0.1",
        f"histogram_quantile(0.99, sum by (le, target) (rate({ITL}_bucket{s}[{w}]))) > 0.25",
        f"sum by (job) (rate({TTFT}_sum{s}[{w}])) / sum by (job) (rate({TTFT}_count{s}[{w}]))"
        " > 1",
        f"avg_over_time({KV}{s}[{w}]) > 0.85",
        f"max_over_time({KV}{s}[{w}]) > 0.95",
        f"min_over_time({WAIT}{s}[{w}]) > 10",
        f"quantile_over_time(0.9, {WAIT}{s}[{w}]) > 18",
        f"{KV}{s} > 0.9",
        f"sum by (job) ({WAIT}{s}) > 100",
        f"avg by (engine) ({KV}{s}) > 0.8",
        f"max by (model) (avg_over_time({KV}{s}[{w}])) > 0.9",
        f"rate({PROMPT}{s}[{w}]) / on(model) group_left sum by (model) "
        f"(rate({PROMPT}{s}[{w}])) > 0.5",
        f"{WAIT}{s} / on(instance) group_left sum by (instance) ({RUN}{s}) > 0.2",
        f"sum by (model) (rate({FIN}{err}[{w}])) / sum by (model) (rate({FIN}{s}[{w}])) > 0.05",
        f"deriv({WAIT}{s}[{w}]) > 0.5",
        f"{UP}{s} == 0",
    ]


def fleet_rules(w: str) -> list[str]:
    """20 expressions over every GPU series."""
    out = [f"{f}({g}[{w}]) > {x}" for g, x in ((GUTIL, 0.9), (GTEMP, 84), (GMEM, 6.9e10))
           for f in ("avg_over_time", "max_over_time", "min_over_time")]
    out += [f"{GUTIL} > 0.9", f"{GTEMP} > 84", f"{GMEM} > 6.9e10", f"{GUP} == 0",
            f"{GUTIL} * on(uuid) group_left {GUP} > 0.94",
            f"count by (gpu) ({GTEMP} > 80) > 20", f"topk(5, {GTEMP}) > 84.5",
            f"max by (gpu) (rate({GMEM}[{w}])) > 1e9", f"sum({GUP}) < 200",
            f"avg by (gpu) (avg_over_time({GUTIL}[{w}])) > 0.6",
            f"quantile_over_time(0.99, {GTEMP}[{w}]) > 84.9"]
    return out


def rule_file(path: Path, w: str, interval: float) -> int:
    exprs = [e for i in range(MODELS) for e in model_rules(f'model="model-{i:02d}"', w)]
    exprs += fleet_rules(w)
    rules = [{"alert": f"PromQL{i:03d}", "expr": e, "labels": {"severity": "warning"}}
             for i, e in enumerate(exprs)]
    group = {"name": GROUP, "interval": f"{interval:g}s", "rules": rules}
    path.write_text(yaml.safe_dump({"groups": [group]}, sort_keys=False, width=200))
    return len(rules)


def rss(pid: int | str = "self") -> int:
    """VmRSS of a process, bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def measure(engine: RuleManager, source: EmbeddedSource, prom: str, pid: int,
                  scrape: float, interval: float, warmup: float,
                  cycles: int) -> tuple[list[float], list[float], int, int]:
    """Scrape every `scrape` s; tick every `interval` s, half an interval after Prometheus
    evaluates; after `warmup` s read both RSS, then time `cycles` ticks."""
    ours: list[float] = []
    theirs: list[float] = []
    ours_rss = theirs_rss = 0
    async with aiohttp.ClientSession() as session:
        start = scrape_at = time.time()
        eval_at = await eval_phase(session, prom) + interval / 2
        eval_at += math.ceil((start - eval_at) / interval) * interval
        while len(ours) < cycles:
            await asyncio.sleep(max(0.0, min(scrape_at, eval_at) - time.time()))
            if scrape_at <= eval_at:
                await source.scrape(scrape_at)
                scrape_at += scrape
                continue
            t0 = time.perf_counter()
            await engine.tick(eval_at)
            if eval_at - start >= warmup:
                ours.append(time.perf_counter() - t0)
                theirs.append(await prometheus_duration(session, prom))
                if not ours_rss:
                    ours_rss, theirs_rss = rss(), rss(pid)
            eval_at += interval
    return ours, theirs, ours_rss, theirs_rss


async def bench(cycles: int, w: str, scrape: float, interval: float) -> int:
    seconds = float(w.rstrip("ms")) * (60 if w.endswith("m") else 1)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        count = rule_file(tmp / "promql.yml", w, interval)
        groups = load_rules([str(tmp / "promql.yml")], embedded=True)  # what `rules run` does
        data_port, prom_port = free_port(), free_port()
        prom, data = f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{data_port}/metrics"
        bench_rules.SCRAPE, bench_rules.EVAL = scrape, interval  # start_prometheus's globals
        procs = [start_prometheus(tmp, tmp / "promql.yml", data_port, prom_port)]
        try:
            async with aiohttp.ClientSession() as session:
                await wait_ok(session, prom + "/-/ready")
                await asyncio.sleep(2 * scrape)  # its first scrapes fail: no series yet
                prom_before = rss(procs[0].pid)
                procs.append(subprocess.Popen([sys.executable, str(ROOT / "bench/bench_rules.py"),
                                               "--serve", str(data_port)]))
                await wait_ok(session, data)
            async with EmbeddedSource([Target(data, job="bench")], seconds + 60) as source:
                engine = RuleManager(groups, source, [])  # type: ignore[arg-type]
                ours_before = rss()
                ours, theirs, ours_after, prom_after = await measure(
                    engine, source, prom, procs[0].pid, scrape, interval,
                    seconds + interval, cycles)
                scraped = len(source.window._last_seen[data])
                errors = engine.errors()
        finally:
            for p in procs:
                p.terminate()
                p.wait(timeout=10)
    if errors:
        sys.exit(f"rules failed on the embedded source: {errors}")
    return report(count, scraped, w, scrape, ours, theirs,
                  (ours_after - ours_before) / scraped, (prom_after - prom_before) / scraped)


def report(rules: int, series: int, w: str, scrape: float, ours: list[float],
           theirs: list[float], ours_mem: float, prom_mem: float) -> int:
    mine, prom = statistics.median(ours), statistics.median(theirs)
    print(f"{rules} PromQL rules over {series} scraped series, ranges {w}, scrape every "
          f"{scrape:g} s, {len(ours)} cycles after the window filled")
    print(f"embedded cycle:   median {mine * 1000:7.1f} ms   worst {max(ours) * 1000:7.1f} ms")
    print(f"prometheus group: median {prom * 1000:7.1f} ms   worst {max(theirs) * 1000:7.1f} ms")
    ok = mine <= prom / 2
    print(f"ratio embedded/prometheus: {mine / prom:.2f}  (target <= 0.5: "
          f"{'met' if ok else 'MISSED'})")
    print(f"memory per series, window full: embedded {ours_mem:.0f} B (RSS growth), "
          f"prometheus {prom_mem:.0f} B (RSS growth)")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=10, help="timed cycles (default 10)")
    parser.add_argument("--range", default="5m", help="the rules' range (default 5m)")
    parser.add_argument("--scrape", type=float, default=1.0, help="scrape interval, s (1)")
    parser.add_argument("--interval", type=float, default=10.0,
                        help="evaluation interval, s (default 10)")
    args = parser.parse_args()
    return asyncio.run(bench(args.cycles, args.range, args.scrape, args.interval))


if __name__ == "__main__":
    sys.exit(main())
