"""The web page's alert list beside Alertmanager's `GET /api/v2/alerts/groups`, same set, same run.

    python bench/bench_ui.py [--alerts 10000] [--silences 1000] [--requests 50] [--batch 500]

Issue 16's target: the page's alert list (`GET /ui/alerts`, its default view) with 10,000 alerts
and 1,000 silences served in at most 200 ms at p99 on loopback. The setup is bench_matching's
(its `start`, `load`, `alerts`, `silences`): Debian's Alertmanager and `python -m inferwatch.cli
notifier` on fresh storage from one `alertmanager.yml` (a three-level route tree with regex
matchers and `continue`, group_wait 1h so nothing is sent), the same `--silences` regex
silences (each muting about two alerts, a fifth of the alerts silenced) and the same `--alerts`
alerts posted to both.

Timed, alternating the sides request by request, one kept-alive connection each, from sending
to the last byte:
- steady: `--requests` requests each of `/ui/alerts` and Alertmanager's `/api/v2/alerts/groups`
  with nothing changed in between (an on-call engineer reloading the page; Alertmanager's
  silencer and ours both remember per alert which silences matched);
- after a silence change: `--requests // 5` requests each, a silence that mutes nothing posted
  to both before each, so both match every alert against every silence again.
The p50/p99 are nearest-rank over the requests; each side's CPU time per request (its
process's utime + stime over the run, /proc) is printed beside them, as it suffers less than
wall time when other work shares the cores. Before timing, the page's summary line
("G group(s), A alert(s)") must name as many groups and alerts as Alertmanager's groups
answer, else the script exits 1.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path

from bench_matching import Side, load, start, workload, workload_args

PAGE, GROUPS = "/ui/alerts", "/api/v2/alerts/groups"
TARGET_MS = 200.0


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def agree(am: Side, ours: Side) -> tuple[int, int, int]:
    """(groups, alerts, bytes of the page); exit 1 when the page's summary disagrees."""
    groups = json.loads(am.request("GET", GROUPS)[1])
    want = (len(groups), sum(len(g["alerts"]) for g in groups))
    page = ours.request("GET", PAGE)[1]
    found = re.search(rb"(\d+) group\(s\), (\d+) alert\(s\)", page)
    got = (int(found.group(1)), int(found.group(2))) if found else None
    if got != want:
        sys.exit(f"the page says {got} (groups, alerts), Alertmanager's groups {want}")
    return (*want, len(page))


def cpu_seconds(side: Side) -> float:
    """utime + stime of the side's process, from /proc."""
    fields = Path(f"/proc/{side.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(sides: dict[str, Side], n: int, bump: bool) -> dict[str, list[float]]:
    """Per side: the request times, then (last) the process's CPU seconds per request."""
    paths = {"notifier": PAGE, "alertmanager": GROUPS}
    out: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    cpu = {name: cpu_seconds(side) for name, side in sides.items()}
    for i in range(n):
        for name in (names if i % 2 == 0 else names[::-1]):
            if bump:
                sides[name].bump()
            out[name].append(sides[name].request("GET", paths[name])[0])
    for name, side in sides.items():
        out[name].append((cpu_seconds(side) - cpu[name]) / n)
    return out


def report(args: argparse.Namespace, shape: tuple[int, int, int],
           runs: dict[str, dict[str, list[float]]]) -> None:
    groups, listed, size = shape
    print(f"{args.alerts} alerts, {args.silences} regex silences: {groups} groups, {listed} "
          f"alerts listed; the page is {size / 1e6:.1f} MB. ms, nearest-rank; "
          f"x = notifier page / Alertmanager {GROUPS}; CPU: the process's ms per request")
    print(f"{'':24}{'n':>4}{'page p50':>9}{'page p99':>9}{'AM p50':>8}{'AM p99':>8}"
          f"{'p50 x':>7}{'p99 x':>7}{'page CPU':>9}{'AM CPU':>8}")
    for what, t in runs.items():
        (*ours, our_cpu), (*am, am_cpu) = t["notifier"], t["alertmanager"]
        o50, o99, a50, a99 = (1000 * pct(v, q) for v, q in ((ours, 50), (ours, 99), (am, 50),
                                                           (am, 99)))
        print(f"{what:24}{len(ours):>4}{o50:9.1f}{o99:9.1f}{a50:8.1f}{a99:8.1f}"
              f"{o50 / a50:7.2f}{o99 / a99:7.2f}{1000 * our_cpu:9.1f}{1000 * am_cpu:8.1f}")
    steady = 1000 * pct(runs["steady"]["notifier"][:-1], 99)
    print(f"target: page p99 <= {TARGET_MS:.0f} ms steady: "
          f"{'met' if steady <= TARGET_MS else 'MISSED'} ({steady:.1f} ms)")


def main() -> None:
    parser = workload_args(__doc__)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    binary, batches, sils = workload(args)
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp:
        started = start(binary, Path(tmp))
        sides = {s.name: s for s in started}
        try:
            for side in started:
                side.wait_ready()
                load(side, sils, batches)
            shape = agree(sides["alertmanager"], sides["notifier"])
            runs = {"steady": timed(sides, args.requests, bump=False),
                    "after a silence change": timed(sides, max(2, args.requests // 5),
                                                    bump=True)}
        finally:
            for side in started:
                side.stop()
    report(args, shape, runs)


if __name__ == "__main__":
    main()
