"""Three notifier replicas on PostgreSQL beside one Alertmanager and one SQLite notifier.

    python bench/bench_ha.py [--groups 2000] [--lease 10]

A throwaway PostgreSQL cluster (initdb + pg_ctl in a temporary folder, 127.0.0.1) holds the
replicas' state. bench_notifier.py's receiver, alerts and throughput measure are reused: each
side gets `--groups` groups of one alert (group_wait 50 ms), posted in batches; the replicas
get them round-robin, as a Service in front of them would spread them. Notifications per
second = groups / (last arrival - first POST - group_wait).
Takeover: one group (group_interval 1 s) notified by the replicas; its owner (the one holding
a lease) is killed with SIGKILL, an update of the group is posted to another replica, and the
time from the kill to the group's next notification is printed beside the bound the issue
sets, lease + group_interval.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
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
    """initdb and start a cluster; its URL and the pg_ctl command that stops it."""
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


def replicas_side(args, rx: bn.Receiver, url: str, work: Path) -> dict:
    path = "/replicas"
    cfg = config(work, f"127.0.0.1:{rx.port}{path}")
    reps = [replica(cfg, url, f"r{i}", args.lease, work) for i in range(3)]
    try:
        names = [f"T{i}" for i in range(args.groups)]
        alerts = [bn.alert(n, "fast") for n in names]
        first_post = time.time()
        for i in range(0, args.groups, bn.BATCH):
            bn.post_alerts(reps[(i // bn.BATCH) % 3][1], alerts[i:i + bn.BATCH])
        first = rx.wait_for(path, set(names), 120)
        if len(first) < args.groups:
            sys.exit(f"replicas: only {len(first)} of {args.groups} notifications arrived")
        rate = args.groups / (max(first.values()) - first_post - bn.FAST_WAIT)
        took = takeover(reps, rx, path, url)
    finally:
        for proc, _ in reps:
            proc.kill()
            proc.wait(10)
    return {"per_s": rate, "takeover_s": took}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--lease", type=float, default=10.0)
    args = parser.parse_args()
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if not binary:
        sys.exit("Alertmanager missing: apt-get install prometheus-alertmanager")
    rx = bn.Receiver()
    single = argparse.Namespace(groups=args.groups, storm_groups=10, storm_size=10)
    am = bn.run_one("alertmanager", single, rx, binary)["tp_per_s"]
    lite = bn.run_one("notifier", single, rx, binary)["tp_per_s"]
    root = Path(tempfile.mkdtemp(prefix="bench-ha-"))
    try:
        url, stop = start_postgres(root)
        try:
            ha = replicas_side(args, rx, url, root)
        finally:
            subprocess.run(stop, stdout=subprocess.DEVNULL)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    bound = args.lease + INTERVAL
    print(f"{os.cpu_count()} CPUs; {args.groups} groups x 1 alert, group_wait 50ms; "
          f"lease {args.lease}s, takeover group_interval {INTERVAL}s")
    print(f"{'':28}{'notif/s':>10}")
    for name, rate in (("alertmanager (1 node)", am), ("notifier sqlite (1)", lite),
                       ("notifier postgresql (3)", ha["per_s"])):
        print(f"{name:28}{rate:10.0f}")
    print(f"ratios: 3 replicas / alertmanager {ha['per_s'] / am:.2f}, 3 replicas / sqlite "
          f"{ha['per_s'] / lite:.2f}, sqlite / alertmanager {lite / am:.2f}")
    print(f"kill -9 of a group's owner to its next flush by another replica: "
          f"{ha['takeover_s']:.2f}s (bound lease + group_interval = {bound:.1f}s: "
          f"{ha['takeover_s'] <= bound})")


if __name__ == "__main__":
    main()
