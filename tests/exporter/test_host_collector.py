"""HostCollector against a fake procfs tree in tmp_path, a blocking statvfs, and the real /proc."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from inferwatch import catalog
from inferwatch.exporter.collectors.base import CollectorFailed
from inferwatch.exporter.collectors.host import HostCollector
from inferwatch.exporter.collectors.host_fs import strip_rootfs

USER_HZ = os.sysconf("SC_CLK_TCK")

STAT = """\
cpu  1000 200 300 40000 50 6 7 8 900 10
cpu0 500 100 150 20000 25 3 4 4 450 5
cpu1 500 100 150 20000 25 3 3 4 450 5
intr 12345 0 0
ctxt 999
"""
LOADAVG = "0.50 1.25 2.00 3/456 7890\n"
MEMINFO = """\
MemTotal:       16000000 kB
MemFree:         2000000 kB
MemAvailable:    9000000 kB
Buffers:          100000 kB
Cached:          5000000 kB
SwapTotal:       1000000 kB
SwapFree:         750000 kB
HugePages_Total:       0
"""
NETDEV = """\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0
  eth0:123456789 1000    2    3    0     0          0         5  987654   800    4    6    0     0       0          0
"""  # noqa: E501
PRESSURE = {
    "cpu": "some avg10=0.00 avg60=0.37 avg300=0.81 total=6026483\n"
           "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
    "memory": "some avg10=0.00 avg60=0.00 avg300=0.00 total=1500000\n"
              "full avg10=0.00 avg60=0.00 avg300=0.00 total=250\n",
    "io": "some avg10=0.00 avg60=0.00 avg300=0.00 total=42000000\n"
          "full avg10=0.00 avg60=0.00 avg300=0.00 total=7000000\n",
}
# Host paths, stat'ed under rootfs. Excluded by type or mount point, or shadowed: see below.
MOUNTS = """\
/dev/sda1 / ext4 rw,relatime 0 0
proc /proc proc rw,relatime 0 0
sysfs /sys sysfs rw,relatime 0 0
tmpfs /dev/shm tmpfs rw,nosuid 0 0
cgroup2 /sys/fs/cgroup cgroup2 rw 0 0
/dev/old /data ext4 rw 0 0
/dev/sdb1 /data xfs ro,noatime 0 0
overlay /var/lib/docker/overlay2/abc/merged overlay rw 0 0
overlay /run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs overlay rw 0 0
/dev/sdc1 /var/lib/docker ext4 rw 0 0
/dev/sdd1 /run/credentials/foo.service ext4 ro 0 0
/dev/loop0 /snap/core/1 squashfs ro 0 0
tmpfs /mnt/with\\040space tmpfs rw 0 0
/dev/nvme0n1 /var/lib/kubelet ext4 rw 0 0
"""
REPORTED = {  # mount point -> (device, fstype, readonly)
    "/": ("/dev/sda1", "ext4", 0.0),
    "/data": ("/dev/sdb1", "xfs", 1.0),
    "/var/lib/docker": ("/dev/sdc1", "ext4", 0.0),
    "/mnt/with space": ("tmpfs", "tmpfs", 0.0),
    "/var/lib/kubelet": ("/dev/nvme0n1", "ext4", 0.0),
}


def write_procfs(proc: Path, mounts: str = MOUNTS, pressure: bool = True) -> Path:
    """A fake procfs under `proc` with the files HostCollector reads."""
    (proc / "net").mkdir(parents=True)
    (proc / "1").mkdir()
    for name, text in (("stat", STAT), ("loadavg", LOADAVG), ("meminfo", MEMINFO),
                       ("net/dev", NETDEV), ("1/mounts", mounts)):
        (proc / name).write_text(text)
    if pressure:
        (proc / "pressure").mkdir()
        for resource, text in PRESSURE.items():
            (proc / "pressure" / resource).write_text(text)
    return proc


def make_rootfs(root: Path) -> Path:
    for mountpoint in REPORTED:
        (root / mountpoint.lstrip("/")).mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture
def proc(tmp_path: Path) -> Path:
    return write_procfs(tmp_path / "proc")


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    return make_rootfs(tmp_path / "host")


def series(families, spec: catalog.MetricSpec) -> dict[tuple[str, ...], float]:
    """Samples of one spec keyed by their label values in the spec's label order."""
    return {tuple(s.labels[k] for k in spec.labels): s.value
            for f in families for s in f.samples if s.name == spec.name}


def fs_labels(mountpoint: str) -> tuple[str, str, str]:
    device, fstype, _ = REPORTED[mountpoint]
    return (device, fstype, mountpoint)


def test_cpu_seconds_are_ticks_over_user_hz_without_guest(proc, rootfs):
    families = HostCollector(str(proc), str(rootfs)).collect()
    cpu = series(families, catalog.HOST_CPU_SECONDS)
    assert cpu == {("user",): 1000 / USER_HZ, ("nice",): 200 / USER_HZ,
                   ("system",): 300 / USER_HZ, ("idle",): 40000 / USER_HZ,
                   ("iowait",): 50 / USER_HZ, ("irq",): 6 / USER_HZ,
                   ("softirq",): 7 / USER_HZ, ("steal",): 8 / USER_HZ}
    assert series(families, catalog.HOST_CPUS) == {(): 2.0}


def test_load_and_memory(proc, rootfs):
    families = HostCollector(str(proc), str(rootfs)).collect()
    assert series(families, catalog.HOST_LOAD1) == {(): 0.5}
    assert series(families, catalog.HOST_LOAD5) == {(): 1.25}
    assert series(families, catalog.HOST_LOAD15) == {(): 2.0}
    expected = {catalog.HOST_MEMORY_TOTAL: 16000000, catalog.HOST_MEMORY_FREE: 2000000,
                catalog.HOST_MEMORY_AVAILABLE: 9000000, catalog.HOST_MEMORY_BUFFERS: 100000,
                catalog.HOST_MEMORY_CACHED: 5000000, catalog.HOST_SWAP_TOTAL: 1000000,
                catalog.HOST_SWAP_FREE: 750000}
    for spec, kib in expected.items():
        assert series(families, spec) == {(): kib * 1024.0}, spec.name


def test_memory_field_missing_from_kernel_is_omitted(proc, rootfs):
    (proc / "meminfo").write_text(MEMINFO.replace("MemAvailable:    9000000 kB\n", ""))
    families = HostCollector(str(proc), str(rootfs)).collect()
    assert series(families, catalog.HOST_MEMORY_AVAILABLE) == {}
    assert series(families, catalog.HOST_MEMORY_TOTAL) == {(): 16000000 * 1024.0}


def test_network_counters_by_device(proc, rootfs):
    families = HostCollector(str(proc), str(rootfs)).collect()
    expected = {catalog.HOST_NET_RX_BYTES: (3193, 123456789),
                catalog.HOST_NET_RX_PACKETS: (29, 1000), catalog.HOST_NET_RX_ERRS: (0, 2),
                catalog.HOST_NET_RX_DROP: (0, 3), catalog.HOST_NET_TX_BYTES: (3193, 987654),
                catalog.HOST_NET_TX_PACKETS: (29, 800), catalog.HOST_NET_TX_ERRS: (0, 4),
                catalog.HOST_NET_TX_DROP: (0, 6)}
    for spec, (lo, eth0) in expected.items():
        assert series(families, spec) == {("lo",): lo, ("eth0",): eth0}, spec.name


def test_pressure_totals_in_seconds(proc, rootfs):
    families = HostCollector(str(proc), str(rootfs)).collect()
    assert series(families, catalog.HOST_PRESSURE_CPU_WAITING) == {(): 6.026483}
    assert series(families, catalog.HOST_PRESSURE_MEMORY_WAITING) == {(): 1.5}
    assert series(families, catalog.HOST_PRESSURE_MEMORY_STALLED) == {(): 0.00025}
    assert series(families, catalog.HOST_PRESSURE_IO_WAITING) == {(): 42.0}
    assert series(families, catalog.HOST_PRESSURE_IO_STALLED) == {(): 7.0}


PRESSURE_SPECS = (catalog.HOST_PRESSURE_CPU_WAITING, catalog.HOST_PRESSURE_MEMORY_WAITING,
                  catalog.HOST_PRESSURE_MEMORY_STALLED, catalog.HOST_PRESSURE_IO_WAITING,
                  catalog.HOST_PRESSURE_IO_STALLED)


def test_pressure_absent_means_no_series(tmp_path, rootfs):
    proc = write_procfs(tmp_path / "proc", pressure=False)
    families = HostCollector(str(proc), str(rootfs)).collect()
    names = {f.name for f in families}
    for spec in PRESSURE_SPECS:
        assert series(families, spec) == {}
        assert not any(spec.name.startswith(n) for n in names)


def test_pressure_only_some_files_present(proc, rootfs):
    (proc / "pressure" / "io").unlink()
    families = HostCollector(str(proc), str(rootfs)).collect()
    assert series(families, catalog.HOST_PRESSURE_CPU_WAITING) == {(): 6.026483}
    assert series(families, catalog.HOST_PRESSURE_IO_WAITING) == {}
    assert series(families, catalog.HOST_PRESSURE_IO_STALLED) == {}


def assert_filesystems(families, rootfs: Path) -> None:
    """Exactly the REPORTED mounts, each with its own statvfs numbers under rootfs."""
    errors = series(families, catalog.HOST_FS_DEVICE_ERROR)
    assert errors == {fs_labels(mp): 0.0 for mp in REPORTED}
    assert series(families, catalog.HOST_FS_READONLY) == {
        fs_labels(mp): ro for mp, (_, _, ro) in REPORTED.items()}
    for mp in REPORTED:  # free space moves with other writers; size and inodes do not
        st = os.statvfs(rootfs / mp.lstrip("/"))
        labels = fs_labels(mp)
        assert series(families, catalog.HOST_FS_SIZE)[labels] == st.f_blocks * st.f_frsize
        assert series(families, catalog.HOST_FS_FILES)[labels] == st.f_files
        for spec in (catalog.HOST_FS_FREE, catalog.HOST_FS_AVAIL, catalog.HOST_FS_FILES_FREE):
            assert labels in series(families, spec)


def test_filesystems_excludes_dedup_and_unescape(proc, rootfs):
    assert_filesystems(HostCollector(str(proc), str(rootfs)).collect(), rootfs)


def test_mounts_fall_back_to_procfs_mounts_with_rootfs_prefix_stripped(proc, rootfs):
    """Without /proc/1 (hidepid), the container's own view lists host paths under rootfs."""
    (proc / "1" / "mounts").unlink()
    (proc / "1").rmdir()
    lines = []
    for line in MOUNTS.splitlines():
        device, mountpoint, rest = line.split(" ", 2)
        lines.append(f"{device} {str(rootfs).rstrip('/')}{mountpoint.rstrip('/')} {rest}")
    (proc / "mounts").write_text("\n".join(lines) + "\n")
    assert_filesystems(HostCollector(str(proc), str(rootfs) + "/").collect(), rootfs)


def test_statvfs_fields_in_bytes_on_the_rootfs_path(proc, rootfs):
    calls = []

    def statvfs(path: str) -> os.statvfs_result:
        calls.append(path)
        # f_bsize, f_frsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree, f_favail, ...
        return os.statvfs_result((8192, 4096, 1000, 300, 200, 50, 20, 20, 0, 255))

    families = HostCollector(str(proc), str(rootfs), statvfs=statvfs).collect()
    data = fs_labels("/data")
    assert series(families, catalog.HOST_FS_SIZE)[data] == 1000 * 4096
    assert series(families, catalog.HOST_FS_FREE)[data] == 300 * 4096
    assert series(families, catalog.HOST_FS_AVAIL)[data] == 200 * 4096
    assert series(families, catalog.HOST_FS_FILES)[data] == 50
    assert series(families, catalog.HOST_FS_FILES_FREE)[data] == 20
    assert sorted(calls) == sorted(os.path.join(rootfs, mp.lstrip("/")) for mp in REPORTED)


@pytest.mark.parametrize(("path", "rootfs", "host_path"), [
    ("/data", "/", "/data"),
    ("/host", "/host", "/"),
    ("/host/data", "/host/", "/data"),
    ("/hostile/data", "/host", "/hostile/data"),
])
def test_strip_rootfs(path, rootfs, host_path):
    assert strip_rootfs(path, rootfs) == host_path


class BlockingStatvfs:
    """os.statvfs, except that paths ending in `hang` block until released (a dead NFS)."""

    def __init__(self, hang: tuple[str, ...]):
        self.hang = hang
        self.release = threading.Event()
        self.calls: list[str] = []

    def __call__(self, path: str) -> os.statvfs_result:
        self.calls.append(path)
        if path.endswith(self.hang):
            self.release.wait(10)
        return os.statvfs(path)


@pytest.fixture
def blocking():
    statvfs = BlockingStatvfs(hang=("/data",))
    yield statvfs
    statvfs.release.set()


def timed_collect(collector: HostCollector) -> tuple[list, float]:
    start = time.monotonic()
    families = collector.collect()
    return families, time.monotonic() - start


def test_stuck_mount_is_marked_skipped_and_recovers(proc, rootfs, blocking):
    collector = HostCollector(str(proc), str(rootfs), fs_timeout=0.3, statvfs=blocking)
    families, took = timed_collect(collector)
    assert took < 0.3 + 0.5
    data = fs_labels("/data")
    assert series(families, catalog.HOST_FS_DEVICE_ERROR)[data] == 1.0
    assert series(families, catalog.HOST_FS_READONLY)[data] == 1.0
    assert data not in series(families, catalog.HOST_FS_SIZE)
    root = fs_labels("/")
    assert series(families, catalog.HOST_FS_DEVICE_ERROR)[root] == 0.0
    assert root in series(families, catalog.HOST_FS_SIZE)
    assert series(families, catalog.HOST_CPUS) == {(): 2.0}

    families, took = timed_collect(collector)  # still hung: reported, not stat'ed again
    assert took < 0.2
    assert series(families, catalog.HOST_FS_DEVICE_ERROR)[data] == 1.0
    assert sum(p.endswith("/data") for p in blocking.calls) == 1

    blocking.release.set()
    deadline = time.monotonic() + 2
    while sum(p.endswith("/data") for p in blocking.calls) < 2 and time.monotonic() < deadline:
        families = collector.collect()
    assert series(families, catalog.HOST_FS_DEVICE_ERROR)[data] == 0.0
    assert data in series(families, catalog.HOST_FS_SIZE)


def test_fs_wait_stays_inside_the_loop_timeout(proc, rootfs, blocking):
    collector = HostCollector(str(proc), str(rootfs), timeout=1.0, fs_timeout=5.0,
                              statvfs=blocking)
    families, took = timed_collect(collector)
    assert took < 1.0
    assert series(families, catalog.HOST_FS_DEVICE_ERROR)[fs_labels("/data")] == 1.0


def test_mounts_beyond_stuck_workers_are_left_for_the_next_run(proc, rootfs):
    """Four hung mounts take all four workers; the fifth waits for the next run."""
    statvfs = BlockingStatvfs(hang=("/", "/data", "/var/lib/docker", " space"))
    try:
        collector = HostCollector(str(proc), str(rootfs), fs_timeout=0.2, statvfs=statvfs)
        errors = series(collector.collect(), catalog.HOST_FS_DEVICE_ERROR)
        assert errors == {fs_labels(mp): 1.0 for mp in REPORTED if mp != "/var/lib/kubelet"}
        families = collector.collect()
        errors = series(families, catalog.HOST_FS_DEVICE_ERROR)
        assert errors == {fs_labels(mp): float(mp != "/var/lib/kubelet") for mp in REPORTED}
        assert fs_labels("/var/lib/kubelet") in series(families, catalog.HOST_FS_SIZE)
    finally:
        statvfs.release.set()


def test_statvfs_error_is_a_device_error(proc, rootfs):
    def statvfs(path: str) -> os.statvfs_result:
        if path.endswith("/data"):
            raise PermissionError(13, "Permission denied", path)
        return os.statvfs(path)

    families = HostCollector(str(proc), str(rootfs), statvfs=statvfs).collect()
    assert series(families, catalog.HOST_FS_DEVICE_ERROR)[fs_labels("/data")] == 1.0
    assert fs_labels("/data") not in series(families, catalog.HOST_FS_SIZE)
    assert series(families, catalog.HOST_FS_DEVICE_ERROR)[fs_labels("/")] == 0.0


def test_unreadable_section_fails_the_run_with_the_rest(proc, rootfs):
    (proc / "meminfo").unlink()
    with pytest.raises(CollectorFailed, match="meminfo") as failed:
        HostCollector(str(proc), str(rootfs)).collect()
    assert series(failed.value.families, catalog.HOST_CPUS) == {(): 2.0}
    assert series(failed.value.families, catalog.HOST_MEMORY_TOTAL) == {}
    assert fs_labels("/") in series(failed.value.families, catalog.HOST_FS_SIZE)


def test_real_proc():
    collector = HostCollector(fs_timeout=2.0)
    try:
        families = collector.collect()
    except CollectorFailed as failed:  # e.g. no /proc/net/dev in a sandbox; cpu/memory must be
        families = failed.families
    cpu = series(families, catalog.HOST_CPU_SECONDS)
    assert cpu[("idle",)] > 0
    assert series(families, catalog.HOST_CPUS)[()] >= 1
    assert series(families, catalog.HOST_MEMORY_TOTAL)[()] > 0
    collector.close()
