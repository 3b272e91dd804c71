"""Filesystem stats for the host collector, shaped like node_exporter's filesystem collector.

Mounts come from <procfs>/1/mounts (<procfs>/mounts when PID 1 is hidden), filtered by
node_exporter's default excludes. statvfs runs on the mount point under rootfs in a few
daemon worker threads, and a run waits for them only until its deadline. A mount that has not
answered by then is stuck: reported with device_error 1 and not stat'ed again until its
pending call returns, so a hung NFS server never blocks a run or piles up threads.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.core import Metric

from inferwatch import catalog

log = logging.getLogger(__name__)

# node_exporter's defaults (collector/filesystem_linux.go, defMountPointsExcluded and
# defFSTypesExcluded). They do not exclude kubelet volume mounts.
MOUNT_POINTS_EXCLUDE = re.compile(
    r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)")
FS_TYPES_EXCLUDE = re.compile(
    r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs"
    r"|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs"
    r"|squashfs|erofs|sysfs|tracefs)$")
STAT_WORKERS = 4  # node_exporter's --collector.filesystem.stat-workers default

StatVFS = Callable[[str], os.statvfs_result]
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True)
class Mount:
    """One mount to report; mountpoint is the host path (the label), without rootfs."""

    device: str
    mountpoint: str
    fstype: str
    readonly: bool

    @property
    def labels(self) -> list[str]:
        """Label values in catalog.FS order."""
        return [self.device, self.fstype, self.mountpoint]


def _unescape(field: str) -> str:
    """Undo the kernel's octal escapes in /proc/mounts (\\040 space, \\011 tab, ...)."""
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def strip_rootfs(path: str, rootfs: str) -> str:
    """The host path of a mount point seen from inside a container that mounts / at rootfs."""
    root = rootfs.rstrip("/")
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root):] or "/"
    return path


def _mount_table(procfs: str) -> str:
    try:
        return Path(procfs, "1", "mounts").read_text()
    except (FileNotFoundError, PermissionError):  # PID 1 hidden (hidepid) or no host PID ns
        return Path(procfs, "mounts").read_text()


def read_mounts(procfs: str, rootfs: str) -> list[Mount]:
    """Mounts to report: the topmost of each repeated mount point, then the excludes."""
    topmost: dict[str, Mount] = {}
    for line in _mount_table(procfs).splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        mountpoint = strip_rootfs(_unescape(fields[1]), rootfs)
        topmost[mountpoint] = Mount(_unescape(fields[0]), mountpoint, fields[2],
                                    "ro" in fields[3].split(","))
    return [m for m in topmost.values()
            if not MOUNT_POINTS_EXCLUDE.search(m.mountpoint)
            and not FS_TYPES_EXCLUDE.search(m.fstype)]


class FilesystemStats:
    """statvfs of each mount with a deadline per run; remembers stuck mounts between runs."""

    def __init__(self, rootfs: str, timeout: float, statvfs: StatVFS = os.statvfs,
                 workers: int = STAT_WORKERS):
        self._rootfs = rootfs
        self._timeout = timeout
        self._statvfs = statvfs
        self._workers = workers
        self._stuck: dict[str, Future] = {}  # mount point -> its unanswered statvfs call

    def families(self, mounts: list[Mount]) -> list[Metric]:
        """The filesystem families for these mounts; stuck ones get device_error 1 only."""
        self._stuck = {mp: fut for mp, fut in self._stuck.items() if not fut.done()}
        stuck = [m for m in mounts if m.mountpoint in self._stuck]
        results = self._stat_all([m for m in mounts if m.mountpoint not in self._stuck])
        error, readonly = catalog.HOST_FS_DEVICE_ERROR.family(), catalog.HOST_FS_READONLY.family()
        values = {spec: spec.family() for spec in _STATVFS_FIELDS}
        for mount in mounts:
            if mount not in results and mount not in stuck:
                continue  # never started: every worker was stuck; the next run tries again
            st = results.get(mount)
            error.add_metric(mount.labels, 1.0 if st is None else 0.0)
            readonly.add_metric(mount.labels, 1.0 if mount.readonly else 0.0)
            if st is None:
                continue
            for spec, field in _STATVFS_FIELDS.items():
                values[spec].add_metric(mount.labels, field(st))
        return [error, readonly, *values.values()]

    def _stat_all(self, mounts: list[Mount]) -> dict[Mount, os.statvfs_result | None]:
        """statvfs each mount in worker threads; None for an error or no answer in time."""
        jobs: queue.SimpleQueue[tuple[Future, str]] = queue.SimpleQueue()
        futures: dict[Mount, Future] = {}
        for mount in mounts:
            futures[mount] = Future()
            jobs.put((futures[mount], os.path.join(self._rootfs, mount.mountpoint.lstrip("/"))))
        for _ in range(min(self._workers, len(mounts))):
            threading.Thread(target=self._work, args=(jobs,), name="statvfs", daemon=True).start()
        wait(futures.values(), timeout=self._timeout)
        results: dict[Mount, os.statvfs_result | None] = {}
        for mount, fut in futures.items():
            if fut.cancel():
                continue
            if not fut.done():
                log.warning("mount %s did not answer statvfs in %.1fs; skipping it until it "
                            "does", mount.mountpoint, self._timeout)
                self._stuck[mount.mountpoint] = fut
                results[mount] = None
            elif isinstance(fut.exception(), OSError):
                log.debug("statvfs %s failed: %s", mount.mountpoint, fut.exception())
                results[mount] = None
            else:
                results[mount] = fut.result()  # re-raises anything but OSError: a bug
        return results

    def _work(self, jobs: queue.SimpleQueue[tuple[Future, str]]) -> None:
        while True:
            try:
                fut, path = jobs.get_nowait()
            except queue.Empty:
                return
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(self._statvfs(path))
            except Exception as err:  # handed to the collecting thread, which decides
                fut.set_exception(err)


_STATVFS_FIELDS: dict[catalog.MetricSpec, Callable[[os.statvfs_result], float]] = {
    catalog.HOST_FS_SIZE: lambda st: float(st.f_blocks * st.f_frsize),
    catalog.HOST_FS_FREE: lambda st: float(st.f_bfree * st.f_frsize),
    catalog.HOST_FS_AVAIL: lambda st: float(st.f_bavail * st.f_frsize),
    catalog.HOST_FS_FILES: lambda st: float(st.f_files),
    catalog.HOST_FS_FILES_FREE: lambda st: float(st.f_ffree),
}
