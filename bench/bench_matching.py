"""Route plus silence matching of the notifier beside a real Alertmanager, through their APIs.

    python bench/bench_matching.py [--alerts 10000] [--silences 1000] [--rounds 5]
                                   [--batch 500]

Both run at once on loopback, each on fresh storage in a temporary directory, from one and the
same `alertmanager.yml`: a route tree three levels deep with regex matchers and `continue`,
every receiver a webhook to a closed port, group_wait 1h so that nothing is delivered while we
measure. Debian's Alertmanager runs with `--cluster.listen-address=` (no gossip); the notifier
is `python -m inferwatch.cli notifier`. Each gets the same `--silences` regex silences through
`POST /api/v2/silences` (silence j: `pod=~"p-(j|j+S)[0-9]-.*"` and `cluster=~"c-(j%5)|c-x"`,
so that each of most silences mutes two alerts and about a fifth of the alerts are silenced),
then the same `--alerts` alerts through `POST /api/v2/alerts` in batches of `--batch`.

Timed, per side, alternating the sides request by request over `--rounds` rounds (medians):
- accept: the wall time to POST all the alerts (once, before the rounds);
- match: `GET /api/v2/alerts?active=false&silenced=false&inhibited=false&unprocessed=false`,
  which routes every alert and computes its silenced state (Alertmanager's alertFilter calls
  the silencer and the inhibitor for each) and then lists none, so no JSON to write;
- list: `GET /api/v2/alerts` (the same work plus every alert written out);
- groups: `GET /api/v2/alerts/groups` (every aggregation group, every alert's status).
Alertmanager's silencer remembers, per alert, which silences matched at which version of the
silence store and checks only those while the version stands; so before each timed request a
silence that mutes nothing is added to both (the version moves, both match every alert against
every silence). `match (cached)` repeats the match request without that, Alertmanager's case
when no silence changed. The script checks that both sides list as many alerts, silenced
alerts and groups, and exits 1 if not.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import free_port, wait_ready

ROOT = Path(__file__).resolve().parents[1]
NO_LIST = "active=false&silenced=false&inhibited=false&unprocessed=false"
RECEIVERS = ("default", "core", "core-crit", "core-ns", "apps", "apps-p1", "infra", "dev")
CONFIG = """route:
  receiver: default
  group_by: [alertname, cluster]
  group_wait: 1h
  group_interval: 1h
  repeat_interval: 24h
  routes:
    - matchers: ['team=~"team-(0|1|2)"']
      receiver: core
      routes:
        - matchers: ['severity=~"crit.*"']
          receiver: core-crit
          continue: true
        - matchers: ['namespace=~"ns-[0-4][0-9]"', 'env!~"dev|test"']
          receiver: core-ns
    - matchers: ['team=~"team-[3-6]"', 'env!~"dev|test"']
      receiver: apps
      group_by: [alertname, namespace]
      routes:
        - matchers: ['pod=~"p-1.*"']
          receiver: apps-p1
    - matchers: ['alertname=~"Disk.*|Node.*"']
      receiver: infra
      continue: true
    - matchers: ['env=~"dev|test"']
      receiver: dev
receivers:
"""
NAMES = ("DiskFull", "DiskSlow", "NodeDown", "NodeHot", "HighLatency", "ErrorRate", "QueueDeep",
         "OOMKilled", "CrashLoop", "CertExpiry")
SEVERITIES = ("critical", "warning", "info")
ENVS = ("prod", "staging", "dev", "test")


def rfc3339(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def alerts(n: int) -> list[dict]:
    """Firing for two hours: no resolve_timeout runs out while we measure."""
    ends = rfc3339(datetime.now(UTC) + timedelta(hours=2))
    return [{"endsAt": ends, "labels": {"alertname": NAMES[i % len(NAMES)], "cluster": f"c-{i % 5}",
                        "team": f"team-{i % 10}", "severity": SEVERITIES[i % 3],
                        "env": ENVS[i // 7 % 4], "namespace": f"ns-{i % 100}",
                        "pod": f"p-{i}-{(i * 2654435761) % 65536:04x}", "job": "bench",
                        "instance": f"10.0.{i // 250}.{i % 250}:9100"},
             "annotations": {"summary": f"alert {i} is firing"}} for i in range(n)]


def silence(matchers: list[tuple[str, str, bool]], hours: float = 2) -> dict:
    now = datetime.now(UTC)
    return {"matchers": [{"name": n, "value": v, "isRegex": rx, "isEqual": True}
                         for n, v, rx in matchers],
            "startsAt": rfc3339(now), "endsAt": rfc3339(now + timedelta(hours=hours)),
            "createdBy": "bench", "comment": "bench_matching"}


def silences(count: int) -> list[dict]:
    return [silence([("pod", f"p-({j}|{j + count})[0-9]-.*", True),
                     ("cluster", f"c-{j % 5}|c-x", True)]) for j in range(count)]


class Side:
    """One of the two, started on its own port and temporary storage, one kept-alive client."""

    def __init__(self, name: str, argv: list[str], work: Path, port: int):
        self.name, self.port = name, port
        self.log = work / f"{name}.log"
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
        self.conn: http.client.HTTPConnection | None = None
        self.bumps = 0

    def request(self, method: str, path: str, body: object = None) -> tuple[float, bytes]:
        """(seconds from sending to the last byte of the answer, the answer)."""
        data = None if body is None else json.dumps(body).encode()
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
            try:
                start = time.perf_counter()
                self.conn.request(method, path, data, {"Content-Type": "application/json"})
                resp = self.conn.getresponse()
                answer = resp.read()
                took = time.perf_counter() - start
                break
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        if resp.status != 200:
            sys.exit(f"{self.name}: {method} {path} answered {resp.status}: {answer[:300]!r}")
        return took, answer

    def wait_ready(self, timeout: float = 30) -> None:
        wait_ready(self.port, timeout=timeout, proc=self.proc, name=self.name,
                   log=lambda: self.log.read_text()[-2000:])

    def bump(self) -> None:
        """A silence that mutes nothing: Alertmanager's silence store changes version."""
        self.bumps += 1
        self.request("POST", "/api/v2/silences",
                     silence([("alertname", f"bench-bump-{self.bumps}", False)]))

    def stop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start(binary: str, work: Path) -> list[Side]:
    closed = free_port()  # nothing listens there; group_wait 1h, so nothing is ever sent
    cfg = work / "alertmanager.yml"
    cfg.write_text(CONFIG + "".join(
        f"  - name: {r}\n    webhook_configs: [{{url: 'http://127.0.0.1:{closed}/{r}'}}]\n"
        for r in RECEIVERS))
    am, ours = free_port(), free_port()
    (work / "am").mkdir()
    (work / "notifier").mkdir()
    return [
        Side("alertmanager", [binary, f"--config.file={cfg}",
                              f"--web.listen-address=127.0.0.1:{am}",
                              f"--storage.path={work / 'am'}", "--cluster.listen-address="],
             work, am),
        Side("notifier", [sys.executable, "-m", "inferwatch.cli", "notifier",
                          "--config.file", str(cfg), "--web.listen-address",
                          f"127.0.0.1:{ours}", "--storage.path", str(work / "notifier")],
             work, ours)]


def load(side: Side, sils: list[dict], batch: list[list[dict]]) -> dict:
    """Post the silences, then the alerts; the wall time of each."""
    start = time.perf_counter()
    for body in sils:
        side.request("POST", "/api/v2/silences", body)
    posted = time.perf_counter()
    for chunk in batch:
        side.request("POST", "/api/v2/alerts", chunk)
    return {"silences_s": posted - start, "accept_s": time.perf_counter() - posted}


def counts(side: Side) -> dict:
    """What the side answers: alerts listed, silenced among them, groups."""
    listed = json.loads(side.request("GET", "/api/v2/alerts")[1])
    groups = json.loads(side.request("GET", "/api/v2/alerts/groups")[1])
    return {"alerts": len(listed), "silenced": sum(1 for a in listed
                                                   if a["status"]["silencedBy"]),
            "groups": len(groups), "grouped": sum(len(g["alerts"]) for g in groups)}


def rounds(sides: list[Side], n: int, alerts: int, groups: int
           ) -> dict[str, dict[str, list[float]]]:
    expect = {"match": 0, "match (cached)": 0, "list": alerts, "groups": groups}
    timed = {s.name: {"match": [], "match (cached)": [], "list": [], "groups": []}
             for s in sides}
    for r in range(n):
        order = sides if r % 2 == 0 else sides[::-1]
        for what, path, bump in (("match", f"/api/v2/alerts?{NO_LIST}", True),
                                 ("match (cached)", f"/api/v2/alerts?{NO_LIST}", False),
                                 ("list", "/api/v2/alerts", True),
                                 ("groups", "/api/v2/alerts/groups", True)):
            for side in order:
                if bump:
                    side.bump()
                took, answer = side.request("GET", path)
                listed = len(json.loads(answer))
                if listed != expect[what]:
                    sys.exit(f"{side.name}: {path} listed {listed}, not {expect[what]}")
                timed[side.name][what].append(took)
    return timed


def report(args: argparse.Namespace, loads: dict, timed: dict, seen: dict) -> None:
    am, ours = timed["alertmanager"], timed["notifier"]
    print(f"{args.alerts} alerts, {args.silences} regex silences, route tree of "
          f"{len(RECEIVERS)} receivers (3 levels, regex matchers); {args.rounds} alternating "
          f"rounds, medians in ms; ratio = notifier / Alertmanager (< 1: the notifier faster)")
    print("answers: " + "; ".join(f"{k} {v}" for k, v in seen.items()))
    print(f"{'':28}{'notifier':>12}{'Alertmanager':>14}{'ratio':>8}")
    rows = [("accept alerts (POST, once)", loads["notifier"]["accept_s"],
             loads["alertmanager"]["accept_s"]),
            ("create silences (once)", loads["notifier"]["silences_s"],
             loads["alertmanager"]["silences_s"])]
    rows += [(f"GET {what}", statistics.median(ours[what]), statistics.median(am[what]))
             for what in ours]
    for label, mine, theirs in rows:
        print(f"{label:28}{1000 * mine:12.1f}{1000 * theirs:14.1f}{mine / theirs:8.2f}")
    for what in ours:
        print(f"  {what} ranges: notifier {1000 * min(ours[what]):.0f}-"
              f"{1000 * max(ours[what]):.0f}, Alertmanager {1000 * min(am[what]):.0f}-"
              f"{1000 * max(am[what]):.0f} ms")


def workload_args(doc: str) -> argparse.ArgumentParser:
    """The options of a bench over this workload: --alerts, --silences, --batch."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10000)
    parser.add_argument("--silences", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=500, help="alerts per POST")
    return parser


def workload(args: argparse.Namespace) -> tuple[str, list[list[dict]], list[dict]]:
    """Debian's Alertmanager binary, the alerts in POST batches, the silences; exits when
    Alertmanager is missing."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if not binary:
        sys.exit("Alertmanager missing: apt-get install prometheus-alertmanager")
    every = alerts(args.alerts)
    return (binary, [every[i:i + args.batch] for i in range(0, len(every), args.batch)],
            silences(args.silences))


def main() -> None:
    parser = workload_args(__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    binary, batches, sils = workload(args)
    with tempfile.TemporaryDirectory(prefix="bench-matching-") as tmp:
        sides = start(binary, Path(tmp))
        try:
            for side in sides:
                side.wait_ready()
            loads = {s.name: load(s, sils, batches) for s in sides}
            seen = {s.name: counts(s) for s in sides}
            timed = rounds(sides, args.rounds, args.alerts, seen["alertmanager"]["groups"])
        finally:
            for side in sides:
                side.stop()
    answers = {name: ", ".join(f"{k} {v}" for k, v in c.items()) for name, c in seen.items()}
    report(args, loads, timed, answers)
    if seen["notifier"] != seen["alertmanager"]:
        sys.exit("the two sides disagree (see answers)")


if __name__ == "__main__":
    main()
