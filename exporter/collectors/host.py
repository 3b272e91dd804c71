"""Host metrics read straight from procfs, shaped like node_exporter's collectors.

Every file is read under the `procfs` path, so a DaemonSet can mount the host's /proc at
/host/proc (with hostNetwork, or /proc/net/dev shows the pod's own interfaces). Filesystems
are in host_fs.py. A section that cannot be read fails the run with what the others gave.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

from prometheus_client.core import Metric

from inferwatch import catalog
from inferwatch.exporter.collectors.base import CollectorFailed
from inferwatch.exporter.collectors.host_fs import FilesystemStats, StatVFS, read_mounts

# /proc/stat's first eight columns. user and nice include guest time, which is not exported
# separately, so the modes add up to the CPUs' total time (as node_cpu_seconds_total does).
CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")

MEMINFO_FIELDS = {
    catalog.HOST_MEMORY_TOTAL: "MemTotal",
    catalog.HOST_MEMORY_AVAILABLE: "MemAvailable",
    catalog.HOST_MEMORY_FREE: "MemFree",
    catalog.HOST_MEMORY_CACHED: "Cached",
    catalog.HOST_MEMORY_BUFFERS: "Buffers",
    catalog.HOST_SWAP_TOTAL: "SwapTotal",
    catalog.HOST_SWAP_FREE: "SwapFree",
}

# /proc/net/dev columns after "iface:" (receive 0-7, transmit 8-15).
NETDEV_COLUMNS = {
    catalog.HOST_NET_RX_BYTES: 0, catalog.HOST_NET_RX_PACKETS: 1,
    catalog.HOST_NET_RX_ERRS: 2, catalog.HOST_NET_RX_DROP: 3,
    catalog.HOST_NET_TX_BYTES: 8, catalog.HOST_NET_TX_PACKETS: 9,
    catalog.HOST_NET_TX_ERRS: 10, catalog.HOST_NET_TX_DROP: 11,
}

# (file under <procfs>/pressure, line kind) -> spec; cpu's "full" line is not exported.
PRESSURE_LINES = {
    ("cpu", "some"): catalog.HOST_PRESSURE_CPU_WAITING,
    ("memory", "some"): catalog.HOST_PRESSURE_MEMORY_WAITING,
    ("memory", "full"): catalog.HOST_PRESSURE_MEMORY_STALLED,
    ("io", "some"): catalog.HOST_PRESSURE_IO_WAITING,
    ("io", "full"): catalog.HOST_PRESSURE_IO_STALLED,
}


def cpu_families(stat: str, user_hz: int) -> list[Metric]:
    """CPU seconds by mode (all CPUs together) and the number of CPUs, from /proc/stat."""
    seconds, cpus = catalog.HOST_CPU_SECONDS.family(), catalog.HOST_CPUS.family()
    count, found = 0, False
    for line in stat.splitlines():
        name, _, rest = line.partition(" ")
        if name == "cpu":
            found = True
            for mode, ticks in zip(CPU_MODES, rest.split(), strict=False):
                seconds.add_metric([mode], int(ticks) / user_hz)
        elif name.startswith("cpu"):
            count += 1
    if not found:
        raise ValueError("no aggregate 'cpu' line")
    cpus.add_metric([], float(count))
    return [seconds, cpus]


def load_families(loadavg: str) -> list[Metric]:
    """load1, load5 and load15 from /proc/loadavg."""
    fields = loadavg.split()
    if len(fields) < 3:
        raise ValueError(f"unexpected content {loadavg!r}")
    families = []
    for spec, value in zip((catalog.HOST_LOAD1, catalog.HOST_LOAD5, catalog.HOST_LOAD15),
                           fields, strict=False):
        family = spec.family()
        family.add_metric([], float(value))
        families.append(family)
    return families


def parse_meminfo(meminfo: str) -> dict[str, float]:
    """/proc/meminfo as field -> value, in bytes where the kernel gives kB."""
    values = {}
    for line in meminfo.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            values[key] = float(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return values


def memory_families(meminfo: str) -> list[Metric]:
    """Memory and swap gauges; a field this kernel lacks is left out."""
    values = parse_meminfo(meminfo)
    families = []
    for spec, key in MEMINFO_FIELDS.items():
        if key in values:
            family = spec.family()
            family.add_metric([], values[key])
            families.append(family)
    return families


def netdev_families(netdev: str) -> list[Metric]:
    """Per-device receive/transmit counters from /proc/net/dev (two header lines)."""
    families = {spec: spec.family() for spec in NETDEV_COLUMNS}
    for line in netdev.splitlines()[2:]:
        device, _, rest = line.partition(":")
        columns = rest.split()
        if len(columns) < 16:
            raise ValueError(f"short /proc/net/dev line {line!r}")
        for spec, column in NETDEV_COLUMNS.items():
            families[spec].add_metric([device.strip()], float(columns[column]))
    return list(families.values())


def pressure_families(resource: str, text: str) -> list[Metric]:
    """PSI `total=` (microseconds) of one /proc/pressure file as seconds counters."""
    families = []
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        spec = PRESSURE_LINES.get((resource, kind))
        totals = [f.removeprefix("total=") for f in rest.split() if f.startswith("total=")]
        if spec is not None and totals:
            family = spec.family()
            family.add_metric([], int(totals[0]) / 1e6)
            families.append(family)
    return families


class HostCollector:
    """CPU, load, memory, network, PSI and filesystems of the node, from procfs and statvfs."""

    name = "host"

    def __init__(self, procfs: str = "/proc", rootfs: str = "/", interval: float = 10.0,
                 timeout: float = 5.0, fs_timeout: float = 5.0, *,
                 statvfs: StatVFS = os.statvfs):
        self.procfs, self.rootfs = procfs, rootfs
        self.interval, self.timeout = interval, timeout
        self._user_hz = os.sysconf("SC_CLK_TCK")
        # Wait for statvfs no longer than the loop allows the whole run, so the first run
        # that meets a hung mount still reports everything else.
        self._fs = FilesystemStats(rootfs, min(fs_timeout, 0.8 * timeout), statvfs)

    def collect(self) -> list[Metric]:
        """Every host family; raises CollectorFailed (with the rest) when a section fails."""
        families: list[Metric] = []
        failures: list[str] = []
        sections: tuple[tuple[str, Callable[[], list[Metric]]], ...] = (
            ("stat", lambda: cpu_families(self._read("stat"), self._user_hz)),
            ("loadavg", lambda: load_families(self._read("loadavg"))),
            ("meminfo", lambda: memory_families(self._read("meminfo"))),
            ("net/dev", lambda: netdev_families(self._read("net/dev"))),
            ("pressure", self._pressure),
            ("mounts", lambda: self._fs.families(read_mounts(self.procfs, self.rootfs))),
        )
        for section, read in sections:
            try:
                families += read()
            except (OSError, ValueError) as err:
                failures.append(f"{section}: {err}")
        if failures:
            raise CollectorFailed("; ".join(failures), families)
        return families

    def _read(self, name: str) -> str:
        return Path(self.procfs, name).read_text()

    def _pressure(self) -> list[Metric]:
        """PSI families; none for a resource whose file is absent or disabled (psi=0)."""
        families = []
        for resource in ("cpu", "memory", "io"):
            try:
                text = self._read(f"pressure/{resource}")
            except FileNotFoundError:
                continue
            except OSError as err:
                if err.errno != errno.EOPNOTSUPP:
                    raise
                continue
            families += pressure_families(resource, text)
        return families

    def close(self) -> None:
        """Nothing to release: stuck statvfs calls run in daemon threads."""
