"""Healthy engine targets beside hostile ones, through the real exporter command.

Starts two simulated vLLM engines and hostile targets (a 200,000-series page, a 1 MiB label
value, a hang) on loopback aiohttp servers in this process, runs `inferwatch exporter` as a
subprocess over them (engines every 1 s), scrapes its /metrics every second for --duration
seconds, and prints: in how many scrapes both healthy targets had `inferwatch_engine_up 1`,
scrape latency p50/p99, the series count, the exporter's RSS, and its log's longest line and
error/traceback count.

Run from the repository root: `python bench/bench_hostile.py [--duration 60]`.
"""

from __future__ import annotations

import argparse
import asyncio
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

    app = web.Application()
    app.router.add_get("/huge", lambda r: body(HUGE))
    app.router.add_get("/label", lambda r: body(big_label))
    app.router.add_get("/hang", hang)
    return app


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
    hostile = [bad + p for p in ("/huge", "/label", "/hang")]
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
        end = time.monotonic() + duration
        while time.monotonic() < end:
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
    q = statistics.quantiles(took, n=100)
    print(f"both healthy targets up in {ok} of {total} scrapes; scrape p50 {q[49] * 1e3:.1f} ms,"
          f" p99 {q[98] * 1e3:.1f} ms; {series} series; RSS {rss[0]:.0f} -> {rss[1]:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    asyncio.run(main(parser.parse_args().duration))
