"""Notification throughput and alert-storm latency of the notifier beside a real Alertmanager.

    python bench/bench_notifier.py [--groups 2000] [--storm-groups 100] [--storm-size 100]
                                   [--rounds 3]

One aiohttp webhook receiver on 127.0.0.1 (in a thread of this process) timestamps every
arrival; the notifier (`python -m inferwatch.cli notifier`, a json:// apprise URL) and Debian's
Alertmanager (a webhook_config) each get a receiver pointing at their own path on it and the
same routing tree. The notifier's json:// requests go out through the hand-written HTTP/1.1
client (notifier/httpclient.py); a third side, `notifier-aiohttp`, is the same notifier with
aiohttp's client in its place. The hand-written one is kept while it sends more per second
than aiohttp's (issue 11 asked for it only while aiohttp's fell below Alertmanager's, which
varies from run to run; issue 13's three replicas on PostgreSQL need the CPU it saves); the
last line says which is faster in the run.
The sides run one after the other, each on fresh storage, each fed the same alerts through
`POST /api/v2/alerts` in batches (as Prometheus sends them).

Throughput: `--groups` distinct groups (one alert each, group_wait 50 ms), so each produces one
notification; notifications per second = groups / (last arrival - first POST - group_wait).
Storm: `--storm-groups` x `--storm-size` alerts (group_wait 1 s), batches carrying whole
groups; a group's latency = its first notification's arrival - (its batch's POST + group_wait).
The sides alternate for `--rounds` rounds; each side's throughput and storm p50/p99 are
medians over its rounds, its storm max the worst round's.
Targets (issue 5): throughput at least Alertmanager's; latency at most group_wait + 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

from aiohttp import web
from common import free_port, wait_ready

ROOT = Path(__file__).resolve().parents[1]
FAST_WAIT, STORM_WAIT = 0.05, 1.0
BATCH = 500
ROUTE = """route:
  receiver: hook
  group_by: [alertname]
  group_wait: 50ms
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ['phase="storm"']
      group_wait: 1s
"""


# Run as `python -c AIOHTTP_VARIANT notifier ARGS...`: the notifier, its json:// requests sent
# by aiohttp's client (JsonWebhook's path for redirects) instead of notifier/httpclient.py.
AIOHTTP_VARIANT = """
import json, sys
from inferwatch.notifier import webhook

async def send(self, title, body, notify_type, headers, timeout):
    data = json.dumps(self.payload(title, body, notify_type)).encode()
    return await self._send_aiohttp(data, headers, timeout)

webhook.JsonWebhook.send = send
from inferwatch.cli import main
sys.exit(main(sys.argv[1:]))
"""
SIDES = ("notifier", "notifier-aiohttp", "alertmanager")


class Receiver:
    """A webhook sink in its own thread and loop: (arrival time, group) per path."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrivals: dict[str, list[tuple[float, str]]] = defaultdict(list)
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()
        self.started.wait(10)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        at = time.time()
        group = body["groupLabels"]["alertname"] if "groupLabels" in body else body["title"]
        self.arrivals[request.path].append((at, group))
        return web.Response(text="ok")

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application(client_max_size=64 << 20)
        app.router.add_post("/{who}", self.handle)
        runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", self.port, backlog=8192)
        self.loop.run_until_complete(site.start())
        self.started.set()
        self.loop.run_forever()

    def wait_for(self, path: str, groups: set[str], timeout: float) -> dict[str, float]:
        """First arrival time of each group, once all have arrived (or the timeout)."""
        deadline, first, seen = time.monotonic() + timeout, {}, 0
        arrivals = self.arrivals[path]
        while True:  # only the arrivals since the last look (appended by the server thread)
            upto = len(arrivals)
            for at, group in arrivals[seen:upto]:
                first.setdefault(group, at)
            seen = upto
            if groups <= first.keys() or time.monotonic() > deadline:
                return first
            time.sleep(0.01)


def post_alerts(port: int, alerts: list[dict]) -> float:
    """POST one batch; returns the time it was sent."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    sent = time.time()
    conn.request("POST", "/api/v2/alerts", json.dumps(alerts),
                 {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        sys.exit(f"POST to 127.0.0.1:{port} answered {resp.status}: {resp.read()[:300]!r}")
    resp.read()
    conn.close()
    return sent


def alert(name: str, phase: str, **labels: str) -> dict:
    return {"labels": {"alertname": name, "phase": phase, **labels},
            "annotations": {"summary": f"{name} is firing"}}


def throughput(port: int, rx: Receiver, path: str, groups: int) -> dict:
    names = [f"T{i}" for i in range(groups)]
    alerts = [alert(n, "fast") for n in names]
    first_post = time.time()
    for i in range(0, groups, BATCH):
        post_alerts(port, alerts[i:i + BATCH])
    first = rx.wait_for(path, set(names), 120)
    if len(first) < groups:
        sys.exit(f"{path}: only {len(first)} of {groups} notifications arrived")
    window = max(first.values()) - first_post - FAST_WAIT
    return {"notifications": groups, "seconds": window, "per_s": groups / window}


def storm(port: int, rx: Receiver, path: str, groups: int, size: int) -> dict:
    per_batch = max(1, BATCH // size)
    sent_at: dict[str, float] = {}
    for g0 in range(0, groups, per_batch):
        names = [f"S{g}" for g in range(g0, min(groups, g0 + per_batch))]
        sent = post_alerts(port, [alert(n, "storm", pod=f"p{i}") for n in names
                                  for i in range(size)])
        sent_at.update(dict.fromkeys(names, sent))
    first = rx.wait_for(path, set(sent_at), 60)
    if len(first) < groups:
        sys.exit(f"{path}: only {len(first)} of {groups} storm groups notified")
    late = sorted(first[g] - sent_at[g] - STORM_WAIT for g in sent_at)
    return {"alerts": groups * size, "groups": groups, "p50_ms": 1000 * statistics.median(late),
            "p99_ms": 1000 * late[max(0, int(0.99 * len(late)) - 1)], "max_ms": 1000 * late[-1]}


def start_notifier(work: Path, hook: str, port: int, variant: str = "notifier"
                   ) -> subprocess.Popen:
    cfg = work / "notifier.yml"
    cfg.write_text(ROUTE + f"""receivers:
  - name: hook
    urls: [{{url: "json://{hook}", template: bench}}]
templates:
  bench: {{title: "{{alertname}}", body: "{{firing}}", format: text}}
web: {{max_body_bytes: 67108864}}
""")
    launch = ["-c", AIOHTTP_VARIANT] if variant == "notifier-aiohttp" \
        else ["-m", "inferwatch.cli"]
    return subprocess.Popen(
        [sys.executable, *launch, "notifier", "--config.file", str(cfg),
         "--web.listen-address", f"127.0.0.1:{port}", "--storage.path", str(work / "data")],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(work / "notifier.log", "w"))


def start_alertmanager(binary: str, work: Path, hook: str, port: int) -> subprocess.Popen:
    cfg = work / "alertmanager.yml"
    cfg.write_text(ROUTE + f"""receivers:
  - name: hook
    webhook_configs: [{{url: "http://{hook}", send_resolved: false}}]
""")
    return subprocess.Popen(
        [binary, f"--config.file={cfg}", f"--web.listen-address=127.0.0.1:{port}",
         f"--storage.path={work / 'data'}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=open(work / "alertmanager.log", "w"))


def run_one(name: str, args: argparse.Namespace, rx: Receiver, binary: str,
            round_: int = 0) -> dict:
    port, path = free_port(), f"/{name.replace('-', '')}{round_}"
    hook = f"127.0.0.1:{rx.port}{path}"
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        work = Path(tmp)
        proc = start_alertmanager(binary, work, hook, port) if name == "alertmanager" else \
            start_notifier(work, hook, port, name)
        try:
            wait_ready(port, proc=proc, name=str(proc.args[0]))
            tp = throughput(port, rx, path, args.groups)
            st = storm(port, rx, path, args.storm_groups, args.storm_size)
        finally:
            proc.terminate()
            proc.wait(10)
    return {"name": name, **{f"tp_{k}": v for k, v in tp.items()}, **st}


def combine(runs: list[dict]) -> dict:
    """Rounds of one side: medians, the range of throughput, and the worst storm latency."""
    rates = [r["tp_per_s"] for r in runs]
    return {"name": runs[0]["name"], "tp_per_s": statistics.median(rates),
            "tp_range": (min(rates), max(rates)),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "max_ms": max(r["max_ms"] for r in runs)}


def report(sides: list[dict], args: argparse.Namespace) -> None:
    print(f"{os.cpu_count()} CPUs; throughput: {args.groups} groups x 1 alert, group_wait 50ms;"
          f" storm: {args.storm_groups} groups x {args.storm_size} alerts, group_wait 1s;"
          f" {args.rounds} alternating rounds (medians; storm max: the worst round)")
    print(f"{'':18}{'notif/s':>10}{'range':>12}{'storm p50 ms':>14}{'p99 ms':>9}{'max ms':>9}"
          "   (storm: delivery - (POST + group_wait))")
    for r in sides:
        low, high = r["tp_range"]
        print(f"{r['name']:18}{r['tp_per_s']:10.0f}{f'{low:.0f}-{high:.0f}':>12}"
              f"{r['p50_ms']:14.1f}{r['p99_ms']:9.1f}{r['max_ms']:9.1f}")
    ours, aio, am = (next(r for r in sides if r["name"] == n) for n in SIDES)
    print(f"ratios to alertmanager: throughput notifier (hand-written client) "
          f"{ours['tp_per_s'] / am['tp_per_s']:.2f}, notifier-aiohttp "
          f"{aio['tp_per_s'] / am['tp_per_s']:.2f}; storm p99 latency notifier "
          f"{ours['p99_ms'] / max(am['p99_ms'], 1e-3):.2f}")
    print(f"targets: throughput >= Alertmanager's: {ours['tp_per_s'] >= am['tp_per_s']}; "
          f"storm latency <= group_wait + 100 ms (max): {ours['max_ms'] <= 100}")
    faster = ours["tp_per_s"] > aio["tp_per_s"]
    print(f"HTTP client: the hand-written one {ours['tp_per_s'] / aio['tp_per_s']:.2f}x "
          "aiohttp's throughput: " + ("keep it" if faster else "aiohttp's is as fast: drop it"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--storm-groups", type=int, default=100)
    parser.add_argument("--storm-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating rounds of each side, so that a noisy moment of a "
                        "shared machine weighs on one round, not on one side")
    args = parser.parse_args()
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if not binary:
        sys.exit("Alertmanager missing: apt-get install prometheus-alertmanager")
    rx = Receiver()
    runs: dict[str, list[dict]] = {name: [] for name in SIDES}
    for round_ in range(args.rounds):
        for name in SIDES:
            runs[name].append(run_one(name, args, rx, binary, round_))
    report([combine(r) for r in runs.values()], args)


if __name__ == "__main__":
    main()
