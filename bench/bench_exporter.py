"""Scrape latency, CPU per scrape and RSS of the exporter beside Debian's node_exporter.

    python bench/bench_exporter.py [--scrapes 2000] [--idle 60]

Both run on loopback in the same run. Each scrape is what Prometheus sends (its Accept
header and gzip) over one kept-alive connection. CPU per scrape is the process's CPU time
during the scrape burst, less its background rate measured over the idle window. The idle
window (60 s by default, the default intervals) gives the exporter's background CPU.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import time

from common import free_port, wait_ready

ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
          "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def scrape_burst(port: int, n: int) -> tuple[list[float], int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Accept": ACCEPT, "Accept-Encoding": "gzip"}
    latencies, size = [], 0
    for _ in range(n):
        start = time.perf_counter()
        conn.request("GET", "/metrics", headers=headers)
        body = conn.getresponse().read()
        latencies.append(time.perf_counter() - start)
        size = len(body)
    return latencies, size


def measure(name: str, pid: int, port: int, scrapes: int, idle: float) -> dict:
    scrape_burst(port, 20)  # warm-up
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(idle)
    background = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
    c1, t1 = cpu_seconds(pid), time.monotonic()
    latencies, size = scrape_burst(port, scrapes)
    busy = cpu_seconds(pid) - c1 - background * (time.monotonic() - t1)
    latencies.sort()
    return {"name": name, "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[int(0.99 * len(latencies)) - 1],
            "cpu_ms_per_scrape": 1000 * max(busy, 0.0) / scrapes,
            "rss_mb": rss_mb(pid), "background_pct": 100 * background, "gzip_bytes": size}


def start(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrapes", type=int, default=2000)
    parser.add_argument("--idle", type=float, default=60.0, help="idle seconds per process")
    parser.add_argument("--gpus", type=int, default=8)
    args = parser.parse_args()
    node_bin = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if not node_bin:
        sys.exit("node_exporter missing: apt-get install prometheus-node-exporter")
    ours_port, node_port = free_port(), free_port()
    ours = start([sys.executable, "-m", "inferwatch.cli", "exporter", "--simulate-gpus",
                  str(args.gpus), "--web.listen-address", f"127.0.0.1:{ours_port}"])
    node = start([node_bin, f"--web.listen-address=127.0.0.1:{node_port}"])
    try:
        wait_ready(ours_port, "/readyz")
        wait_ready(node_port, "/metrics")
        results = [measure("inferwatch", ours.pid, ours_port, args.scrapes, args.idle),
                   measure("node_exporter", node.pid, node_port, args.scrapes, args.idle)]
    finally:
        for proc in (ours, node):
            proc.terminate()
            proc.wait(10)
    report(results, args)


def report(results: list[dict], args: argparse.Namespace) -> None:
    ours, node = results
    print(f"{args.gpus} simulated GPUs, {args.scrapes} scrapes each, {args.idle:g}s idle window,"
          f" {os.cpu_count()} CPUs")
    print(f"{'':16}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/scrape':>15}{'RSS MB':>9}"
          f"{'idle CPU %':>12}{'gzip B':>9}")
    for r in results:
        print(f"{r['name']:16}{r['p50_ms']:9.3f}{r['p99_ms']:9.3f}{r['cpu_ms_per_scrape']:15.3f}"
              f"{r['rss_mb']:9.1f}{r['background_pct']:12.3f}{r['gzip_bytes']:9d}")
    print(f"ratios inferwatch/node_exporter: p50 {ours['p50_ms'] / node['p50_ms']:.2f}, "
          f"p99 {ours['p99_ms'] / node['p99_ms']:.2f}, CPU per scrape "
          f"{ours['cpu_ms_per_scrape'] / max(node['cpu_ms_per_scrape'], 1e-9):.2f}, "
          f"RSS {ours['rss_mb'] / node['rss_mb']:.2f}")
    print(f"targets: p99 <= 2 ms: {ours['p99_ms'] <= 2}; CPU/scrape <= 1/5 node_exporter: "
          f"{ours['cpu_ms_per_scrape'] <= node['cpu_ms_per_scrape'] / 5}; RSS <= 60 MB: "
          f"{ours['rss_mb'] <= 60}; background <= 1% of a core: {ours['background_pct'] <= 1}")


if __name__ == "__main__":
    main()
