"""Healthy engine targets beside hostile ones, through the real exporter command.

Starts two simulated vLLM engines and four hostile targets (a 200,000-series page, a 1 MiB
label value, an endless body, a hang) on loopback aiohttp servers in this process, runs
`inferwatch exporter` as a subprocess over them (engines every 1 s), scrapes its /metrics every
second for --duration seconds, and prints: in how many scrapes both healthy targets had
`inferwatch_engine_up 1`, scrape latency p50/p99, the series count, the exporter process's own
RSS (from /proc/<pid>/status, not this process's, which holds the servers) at start, after 1, 5
and 15 minutes where the run lasts that long, and at the end, its CPU seconds, and its log's
longest line and error/traceback count.

Run from the repository root: `python bench/bench_hostile.py [--duration 60]` (900 for the
15-minute soak of issue 14).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import free_port, wait_ok  # noqa: E402

from inferwatch.exposition.parser import parse  # noqa: E402
from inferwatch.simulate.engines.app import make_app  # noqa: E402
from inferwatch.simulate.engines.sim import Simulation  # noqa: E402

CHUNK = b"#" * 65_536 + b"\n"
MARKS = (1, 5, 15)  # minutes after which the exporter's RSS is printed
HUGE = b"# TYPE vllm:x gauge\n" + b"".join(b'vllm:x{i="%d"} 1\n' % i for i in range(200_000))


async def start(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


def hostile_app() -> web.Application:
    big_label = Simulation("vllm").body(60.0).replace(
        b"# TYPE vllm:num_requests_waiting gauge\n", b"# TYPE vllm:num_requests_waiting gauge\n"
        b'vllm:num_requests_waiting{model_name="' + b"m" * (1 << 20) + b'"} 0\n')

    async def body(data: bytes) -> web.Response:
        return web.Response(body=data, content_type="text/plain")

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(3600)
        return web.Response()

    async def endless(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        try:
            while True:  # until the exporter gives up at its body cap
                await resp.write(CHUNK)
        except ConnectionError:
            pass
        return resp

    app = web.Application()
    app.router.add_get("/huge", lambda r: body(HUGE))
    app.router.add_get("/label", lambda r: body(big_label))
    app.router.add_get("/hang", hang)
    app.router.add_get("/endless", endless)
    return app


def cpu_s(pid: int) -> float:
    """The process's utime + stime in seconds (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def main(duration: float) -> None:
    runners = []
    healthy = []
    for n in range(2):
        runner, url = await start(make_app(Simulation("vllm", seed=n), speed=10.0))
        runners.append(runner)
        healthy.append(url + "/metrics")
    runner, bad = await start(hostile_app())
    runners.append(runner)
    hostile = [bad + p for p in ("/huge", "/label", "/endless", "/hang")]
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "exporter.yml"
        engines = "".join(f'    - "vllm={u}"\n' for u in healthy + hostile)
        cfg.write_text("exporter:\n  collectors:\n    gpu: {enabled: false}\n"
                       "    engines: {interval: 1s}\n  engines:\n" + engines)
        log = Path(tmp) / "exporter.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "inferwatch.cli", "exporter",
                                     "--config.file", str(cfg), "--web.listen-address",
                                     f"127.0.0.1:{port}"], cwd=ROOT, stdout=out, stderr=out)
        try:
            await measure(proc, f"http://127.0.0.1:{port}/metrics", healthy, duration)
        finally:
            proc.terminate()
            proc.wait(10)
            lines = log.read_text(errors="replace").splitlines()
            print(f"log: {len(lines)} lines, longest {max(map(len, lines), default=0)} chars, "
                  f"{sum('level=error' in x for x in lines)} error-level, "
                  f"{sum('Traceback' in x for x in lines)} tracebacks, "
                  f"{sum('never retrieved' in x for x in lines)} 'never retrieved'")
    for r in runners:
        await r.cleanup()


async def measure(proc: subprocess.Popen, url: str, healthy: list[str], duration: float) -> None:
    async with aiohttp.ClientSession() as session:
        await wait_ok(session, url)  # the exporter started
        await asyncio.sleep(2)  # first engine runs
        took, ok, total, series = [], 0, 0, 0
        rss = [rss_mb(proc.pid)]
        cpu0 = cpu_s(proc.pid)
        start = time.monotonic()
        end = start + duration
        minutes: list[float] = []  # the exporter's RSS after each whole minute
        while time.monotonic() < end:
            if time.monotonic() - start >= 60 * (len(minutes) + 1):
                minutes.append(rss_mb(proc.pid))
                if len(minutes) in MARKS:
                    print(f"minute {len(minutes)}: exporter RSS {minutes[-1]:.0f} MB, "
                          f"{total} scrapes, healthy up in {ok}", flush=True)
            t0 = time.perf_counter()
            async with session.get(url) as resp:
                body = await resp.read()
            took.append(time.perf_counter() - t0)
            found = [(n, dict(lab), v) for f in parse(body).values() for n, lab, v in f.samples]
            series = len(found)
            up = {lab["target"]: v for n, lab, v in found if n == "inferwatch_engine_up"}
            total += 1
            ok += all(up.get(t) == 1.0 for t in healthy)
            await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - t0)))
        rss.append(rss_mb(proc.pid))
        cpu = cpu_s(proc.pid) - cpu0
        ran = time.monotonic() - start
        if ran >= 60 * (len(minutes) + 1) - 1:  # the last whole minute ends with the run
            minutes.append(rss[-1])
    print("exporter RSS by minute (MB): " + " ".join(f"{m:.0f}" for m in minutes) + "; at "
          + ", ".join(f"minute {m}: {minutes[m - 1]:.0f}" for m in MARKS if m <= len(minutes)))
    if len(minutes) >= 15:
        print(f"RSS growth minute 5 -> 15: {100 * (minutes[14] / minutes[4] - 1):+.1f}% "
              "(issue 14: at most 10%)")
    q = statistics.quantiles(took, n=100, method="inclusive")
    print(f"both healthy targets up in {ok} of {total} scrapes; scrape p50 {q[49] * 1e3:.1f} ms,"
          f" p99 {q[98] * 1e3:.1f} ms, max {max(took) * 1e3:.1f} ms; {series} series; exporter "
          f"RSS {rss[0]:.0f} -> {rss[1]:.0f} MB; exporter CPU {cpu:.1f} s in {ran:.0f} s "
          f"({100 * cpu / ran:.0f}% of a core)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    asyncio.run(main(parser.parse_args().duration))
