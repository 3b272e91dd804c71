"""Three notifier replicas on PostgreSQL beside one Alertmanager and one SQLite notifier.

    python bench/bench_ha.py [--groups 2000] [--lease 10] [--rounds 3]

A throwaway PostgreSQL cluster (initdb + pg_ctl in a temporary folder, 127.0.0.1) holds the
replicas' state. bench_notifier.py's receiver, alerts and throughput measure are reused: each
side gets `--groups` groups of one alert (group_wait 50 ms), posted in batches; the replicas
get them round-robin, as a Service in front of them would spread them. Notifications per
second = groups / (last arrival - first POST - group_wait). The three sides run one after
the other in each of `--rounds` rounds (the order rotating, the replicas on a fresh database
each round), so that a noisy moment of a shared machine weighs on one round, not on one side;
each side's figure is the median of its rounds, and the ratios are the medians of the rounds'
ratios. CPU: seconds of processor time the side's processes used while it sent the
notifications (the replicas' side: the three replicas and PostgreSQL's server processes), per
1000 notifications - a figure that other work on the machine disturbs less than the rate.
Takeover: one group (group_interval 1 s) notified by the replicas; its owner (the one holding
a lease) is killed with SIGKILL, an update of the group is posted to another replica, and the
time from the kill to the group's next notification (each round; the worst is printed) is
printed beside the bound the issue sets, lease + group_interval.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_notifier as bn
from common import free_port, wait_ready

ROOT = Path(__file__).resolve().parents[1]
INTERVAL = 1.0


def start_postgres(root: Path) -> tuple[str, list[str]]:
    """initdb and start a cluster (root/data); its URL and the pg_ctl command that stops
    it."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    if not bins:
        sys.exit("PostgreSQL missing: apt-get install postgresql")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(root, "postgres")
    data, port = root / "data", free_port()
    subprocess.run([*as_user, str(bins[0] / "initdb"), "-D", str(data), "-U", "bench",
                    "--auth=trust", "--no-sync"], check=True, stdout=subprocess.DEVNULL)
    with open(data / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write(f"\nport = {port}\nlisten_addresses = '127.0.0.1'\n"
                   f"unix_socket_directories = '{root}'\nmax_connections = 100\n")
    ctl = [*as_user, str(bins[0] / "pg_ctl"), "-D", str(data), "-w"]
    subprocess.run([*ctl, "start", "-l", str(data / "log")], check=True,
                   stdout=subprocess.DEVNULL)
    return f"postgresql://bench@127.0.0.1:{port}/postgres", [*ctl, "stop", "-m", "fast"]


def config(work: Path, hook: str) -> Path:
    cfg = work / "notifier.yml"
    cfg.write_text(bn.ROUTE + f"""    - matchers: ['phase="own"']
      group_interval: {int(INTERVAL * 1000)}ms
receivers:
  - name: hook
    urls: [{{url: "json://{hook}", template: bench}}]
templates:
  bench: {{title: "{{alertname}}", body: "{{firing}}", format: text}}
web: {{max_body_bytes: 67108864}}
""")
    return cfg


def replica(cfg: Path, url: str, name: str, lease: float, work: Path) -> tuple:
    port = free_port()
    with open(work / f"{name}.log", "w") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "inferwatch.cli", "notifier", "--config.file", str(cfg),
             "--web.listen-address", f"127.0.0.1:{port}", "--storage.url", url,
             "--cluster.replica-name", name, "--cluster.lease-duration", f"{int(lease * 1000)}ms"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    wait_ready(port, proc=proc, name=name,
               log=lambda: (work / f"{name}.log").read_text()[-800:])
    return proc, port


def lease_owner(url: str) -> str:
    """The replica holding the lease of the takeover group."""
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT owner FROM leases WHERE group_key LIKE %s",
                           ('%alertname="Own"%',)).fetchone()
    if row is None:
        sys.exit("takeover: no lease for the group")
    return row[0]


def cpu_seconds(pids: list[int]) -> float:
    """User + system processor time of these processes so far."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def server_pids(data: Path) -> list[int]:
    """PostgreSQL's postmaster and its children (backends, writers)."""
    main = int((data / "postmaster.pid").read_text().split()[0])
    pids = [main]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == main:
                    pids.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return pids


def measured(port: int, rx: bn.Receiver, path: str, groups: int, pids) -> dict:
    """bench_notifier's throughput, posting to `port` (or round-robin over a list of ports),
    with the CPU seconds of `pids()` while it ran."""
    ports = port if isinstance(port, list) else [port]
    before = cpu_seconds(pids())
    names = [f"T{i}" for i in range(groups)]
    alerts = [bn.alert(n, "fast") for n in names]
    first_post = time.time()
    for i in range(0, groups, bn.BATCH):
        bn.post_alerts(ports[(i // bn.BATCH) % len(ports)], alerts[i:i + bn.BATCH])
    first = rx.wait_for(path, set(names), 120)
    if len(first) < groups:
        sys.exit(f"{path}: only {len(first)} of {groups} notifications arrived")
    cpu = cpu_seconds(pids()) - before
    return {"per_s": groups / (max(first.values()) - first_post - bn.FAST_WAIT),
            "cpu_per_1000": 1000 * cpu / groups}


def single_side(name: str, args, rx: bn.Receiver, binary: str, round_: int) -> dict:
    """Alertmanager or the SQLite notifier, one process on fresh storage."""
    port, path = free_port(), f"/{name}{round_}"
    hook = f"127.0.0.1:{rx.port}{path}"
    with tempfile.TemporaryDirectory(prefix=f"bench-ha-{name}-") as tmp:
        work = Path(tmp)
        proc = bn.start_alertmanager(binary, work, hook, port) if name == "alertmanager" \
            else bn.start_notifier(work, hook, port)
        try:
            wait_ready(port, proc=proc, name=name)
            return measured(port, rx, path, args.groups, lambda: [proc.pid])
        finally:
            proc.terminate()
            proc.wait(10)


def replicas_side(args, rx: bn.Receiver, url: str, work: Path, round_: int) -> dict:
    path = f"/replicas{round_}"
    cfg = config(work, f"127.0.0.1:{rx.port}{path}")
    reps = [replica(cfg, url, f"r{i}", args.lease, work) for i in range(3)]
    try:
        pids = lambda: [p.pid for p, _ in reps] + server_pids(work / "data")  # noqa: E731
        out = measured([port for _, port in reps], rx, path, args.groups, pids)
        out["takeover_s"] = takeover(reps, rx, path, url)
    finally:
        for proc, _ in reps:
            proc.kill()
            proc.wait(10)
    return out


def takeover(reps: list, rx: bn.Receiver, path: str, url: str) -> float:
    bn.post_alerts(reps[0][1], [bn.alert("Own", "own", pod="a")])
    deadline = time.monotonic() + 30
    while not any(g == "Own" for _, g in rx.arrivals[path]):
        if time.monotonic() > deadline:
            sys.exit("takeover: the group's first notification never came")
        time.sleep(0.01)
    owner = reps[int(lease_owner(url)[1:])]
    other = next(r for r in reps if r is not owner)
    owner[0].send_signal(signal.SIGKILL)
    killed = time.time()
    owner[0].wait(10)
    bn.post_alerts(other[1], [bn.alert("Own", "own", pod="b")])
    deadline = time.monotonic() + 60
    while True:
        later = [at for at, g in rx.arrivals[path] if g == "Own" and at > killed]
        if later:
            return later[0] - killed
        if time.monotonic() > deadline:
            sys.exit("takeover: no flush by another replica within 60 s")
        time.sleep(0.01)


def fresh_database(url: str, round_: int) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE round{round_}")
    return url.rsplit("/", 1)[0] + f"/round{round_}"


SIDES = ("alertmanager", "sqlite", "replicas")
NAMES = {"alertmanager": "alertmanager (1 node)", "sqlite": "notifier sqlite (1)",
         "replicas": "notifier postgresql (3)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--lease", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if not binary:
        sys.exit("Alertmanager missing: apt-get install prometheus-alertmanager")
    rx = bn.Receiver()
    runs: dict[str, list[dict]] = {side: [] for side in SIDES}
    root = Path(tempfile.mkdtemp(prefix="bench-ha-"))
    try:
        url, stop = start_postgres(root)
        try:
            for round_ in range(args.rounds):
                for side in SIDES[round_ % 3:] + SIDES[:round_ % 3]:
                    runs[side].append(
                        replicas_side(args, rx, fresh_database(url, round_), root, round_)
                        if side == "replicas" else
                        single_side(side, args, rx, binary, round_))
        finally:
            subprocess.run(stop, stdout=subprocess.DEVNULL)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report(runs, args)


def report(runs: dict[str, list[dict]], args) -> None:
    med = {side: statistics.median(r["per_s"] for r in runs[side]) for side in SIDES}
    print(f"{os.cpu_count()} CPUs; {args.groups} groups x 1 alert, group_wait 50ms; "
          f"{args.rounds} rounds, the order rotating (medians); lease {args.lease}s, "
          f"takeover group_interval {INTERVAL}s")
    print(f"{'':26}{'notif/s':>9}{'rounds':>22}{'CPU s/1000':>12}")
    for side in SIDES:
        rates = " ".join(f"{r['per_s']:.0f}" for r in runs[side])
        cpu = statistics.median(r["cpu_per_1000"] for r in runs[side])
        print(f"{NAMES[side]:26}{med[side]:9.0f}{rates:>22}{cpu:12.2f}")
    print("  (CPU of the replicas' side: the 3 replicas and the PostgreSQL server)")

    def ratio(a: str, b: str) -> str:
        each = [x["per_s"] / y["per_s"] for x, y in zip(runs[a], runs[b], strict=True)]
        return (f"{statistics.median(each):.2f} (rounds "
                + " ".join(f"{r:.2f}" for r in each) + ")")
    print("ratios, median of the rounds: 3 replicas / alertmanager "
          f"{ratio('replicas', 'alertmanager')}")
    print(f"  3 replicas / sqlite {ratio('replicas', 'sqlite')}; "
          f"sqlite / alertmanager {ratio('sqlite', 'alertmanager')}")
    took = [r["takeover_s"] for r in runs["replicas"]]
    bound = args.lease + INTERVAL
    print(f"target, 3 replicas >= alertmanager (medians): {med['replicas'] >= med['alertmanager']}")
    print("kill -9 of a group's owner to its next flush by another replica: "
          + " ".join(f"{t:.2f}s" for t in took) + f" (worst {max(took):.2f}s; bound lease + "
          f"group_interval = {bound:.1f}s: {max(took) <= bound})")


if __name__ == "__main__":
    main()
