"""The exporter's host collection CPU beside node_exporter's, under the same scrapes.

    python bench/bench_host_cpu.py [--minutes 5] [--every 15]

Starts `inferwatch exporter --no-collector.gpu` (every other setting at its default: the host
collector's own interval, the snapshot rendered after each run whether or not anyone scrapes)
and Debian's node_exporter (its default collectors) as real processes on loopback ports, waits
until both answer, then scrapes both every --every seconds (Prometheus' Accept header and gzip,
one kept-alive connection each) for --minutes. Each process's CPU is utime + stime from
/proc/<pid>/stat, read after the first scrape (start-up excluded, reported apart) and at the
end. Prints CPU seconds per minute for both, the ratio (issue 14: at most 2x), and RSS. The
kernel counts CPU time in clock ticks (1/SC_CLK_TCK s, 10 ms here) and both use well under a
second a minute: run for minutes, not seconds (--minutes 15 for a tight figure).
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_exporter import ACCEPT, cpu_seconds, rss_mb
from common import free_port, wait_ready

ROOT = Path(__file__).resolve().parent.parent


class Scraper:
    """One kept-alive connection to one process's /metrics."""

    def __init__(self, name: str, proc: subprocess.Popen, port: int):
        self.name, self.proc, self.port = name, proc, port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.sizes: list[int] = []
        self.took: list[float] = []

    def scrape(self) -> None:
        start = time.perf_counter()
        try:
            self.conn.request("GET", "/metrics",
                              headers={"Accept": ACCEPT, "Accept-Encoding": "gzip"})
            resp = self.conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException) as err:
            sys.exit(f"{self.name}: scrape failed: {err}")
        if resp.status != 200:
            sys.exit(f"{self.name}: /metrics answered {resp.status}")
        self.took.append(time.perf_counter() - start)
        self.sizes.append(len(body))


def start(cmd: list[str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="measured minutes (5)")
    parser.add_argument("--every", type=float, default=15.0, help="scrape interval s (15)")
    args = parser.parse_args()
    node_bin = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if not node_bin:
        sys.exit("node_exporter missing: apt-get install prometheus-node-exporter")
    ours_port, node_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        ours_log, node_log = Path(tmp, "inferwatch.log"), Path(tmp, "node.log")
        ours = start([sys.executable, "-m", "inferwatch.cli", "exporter", "--no-collector.gpu",
                      "--web.listen-address", f"127.0.0.1:{ours_port}"], ours_log)
        node = start([node_bin, f"--web.listen-address=127.0.0.1:{node_port}"], node_log)
        try:
            wait_ready(ours_port, "/metrics", proc=ours, name="inferwatch exporter",
                       log=lambda: ours_log.read_text(errors="replace")[-2000:])
            wait_ready(node_port, "/metrics", proc=node, name="node_exporter",
                       log=lambda: node_log.read_text(errors="replace")[-2000:])
            scrapers = [Scraper("inferwatch", ours, ours_port),
                        Scraper("node_exporter", node, node_port)]
            run(scrapers, args.minutes * 60, args.every)
        finally:
            for proc in (ours, node):
                proc.terminate()
                proc.wait(10)
    return 0


def run(scrapers: list[Scraper], seconds: float, every: float) -> None:
    for s in scrapers:
        s.scrape()  # first scrape; start-up CPU is what was spent until here
    started = {s.name: cpu_seconds(s.proc.pid) for s in scrapers}
    t0 = time.monotonic()
    ticks = 0
    while True:
        ticks += 1
        due = t0 + ticks * every
        if due > t0 + seconds:
            break
        time.sleep(max(0.0, due - time.monotonic()))
        for s in scrapers:
            s.scrape()
    elapsed = (time.monotonic() - t0) / 60
    per_min = {s.name: (cpu_seconds(s.proc.pid) - started[s.name]) / elapsed
               for s in scrapers}
    print(f"{elapsed:.2f} min, {ticks - 1} scrapes each every {every:g} s, "
          f"{os.cpu_count()} CPUs (machine shared: other load inflates both)")
    print(f"{'':15}{'start-up CPU s':>15}{'CPU s/min':>11}{'% of a core':>12}{'RSS MB':>8}"
          f"{'gzip B':>9}{'max ms':>10}")
    for s in scrapers:
        print(f"{s.name:15}{started[s.name]:15.2f}{per_min[s.name]:11.3f}"
              f"{100 * per_min[s.name] / 60:12.2f}{rss_mb(s.proc.pid):8.1f}"
              f"{s.sizes[-1]:9d}{1000 * max(s.took):10.1f}")
    ours, node = per_min["inferwatch"], per_min["node_exporter"]
    print(f"ratio inferwatch / node_exporter CPU s/min: {ours / max(node, 1e-9):.2f}x "
          f"(issue 14: at most 2x)")


if __name__ == "__main__":
    sys.exit(main())
