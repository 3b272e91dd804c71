"""The disk collector's cost per run beside node_exporter's diskstats collector, in the same
run, over the same file: node_exporter's own
`node_scrape_collector_duration_seconds{collector="diskstats"}` (one scrape, one run) against
the time of DiskstatsCollector.collect() on the same --path.procfs. Issue 17: at most 2x.

    python bench/bench_host_disk.py [--procfs /proc] [--runs 200]
"""

from __future__ import annotations

import argparse
import http.client
import re
import shutil
import statistics
import subprocess
import sys
import time

from common import free_port, wait_ready

from inferwatch.exporter.collectors.host_disk import DiskstatsCollector

DURATION = re.compile(
    rb'^node_scrape_collector_duration_seconds\{collector="diskstats"\} (\S+)$', re.M)


def node_exporter_runs(procfs: str, runs: int) -> list[float]:
    binary = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if binary is None:
        sys.exit("node_exporter is not installed")
    port = free_port()
    proc = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}",
                             "--collector.disable-defaults", "--collector.diskstats",
                             f"--path.procfs={procfs}"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_ready(port, "/metrics", proc=proc, name="node_exporter")
        out = []
        for _ in range(runs):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/metrics")
            match = DURATION.search(conn.getresponse().read())
            if match is None:
                sys.exit("node_exporter published no diskstats duration")
            out.append(float(match.group(1)))
        return out
    finally:
        proc.terminate()
        proc.wait(10)


def ours(procfs: str, runs: int) -> list[float]:
    collector, out = DiskstatsCollector(procfs), []
    for _ in range(runs):
        start = time.perf_counter()
        collector.collect()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procfs", default="/proc")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    theirs = statistics.median(node_exporter_runs(args.procfs, args.runs))
    mine = statistics.median(ours(args.procfs, args.runs))
    print(f"diskstats over {args.procfs}, median of {args.runs} runs each")
    print(f"  node_exporter diskstats collector: {theirs * 1e6:9.1f} us")
    print(f"  inferwatch DiskstatsCollector:     {mine * 1e6:9.1f} us")
    print(f"  ratio inferwatch / node_exporter:  {mine / theirs:9.2f}x (issue 17: at most 2x)")


if __name__ == "__main__":
    main()
