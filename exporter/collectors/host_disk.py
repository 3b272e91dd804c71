"""Disk I/O from <procfs>/diskstats, shaped like node_exporter 1.5's diskstats collector.

Same names (under inferwatch_host_disk_*), units, device label and default device exclude,
with one difference: device-mapper volumes (dm-N) are left out unless asked for. A line that
cannot be read (too few columns, a non-number, a value beyond 64 bits, a name that is not
UTF-8, a device repeated) is skipped on its own; node_exporter fails the whole collector.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from prometheus_client.core import Metric

from inferwatch import catalog
from inferwatch.exporter.collectors.base import CollectorFailed

log = logging.getLogger(__name__)

# node_exporter 1.5's default --collector.diskstats.device-exclude (diskstats_linux.go,
# diskstatsDefaultIgnoredDevices): partitions of whole disks (sda1, nvme0n1p1), ram, loop and
# floppy devices. Matched as Go does: unanchored search, \d ASCII only.
DEVICE_EXCLUDE = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$"
# Device-mapper volumes (LVM, dm-crypt, multipath) repeat the I/O of the disks below them, so
# a sum over a node's devices would count it twice; node_exporter keeps them by default.
DEVICE_MAPPER = re.compile(r"^dm-\d+$", re.ASCII)

# The sector columns of /proc/diskstats are always 512-byte units, whatever the device's
# logical or hardware sector size ("standard UNIX 512-byte sectors, not any device- or
# filesystem-specific block size", the kernel's Documentation/block/stat.rst). node_exporter
# multiplies by the same constant (unixSectorSize), so /sys/block/<dev>/queue/hw_sector_size
# is not read: on a 4Kn disk it would overstate the bytes eightfold.
SECTOR_BYTES = 512.0
# node_exporter's secondsPerTick. Multiplying (not dividing by 1000) gives its very doubles.
SECONDS_PER_TICK = 1.0 / 1000.0

# (spec, column after major, minor and name, factor), Documentation/admin-guide/iostats.rst.
COLUMNS: tuple[tuple[catalog.MetricSpec, int, float], ...] = (
    (catalog.HOST_DISK_READS_COMPLETED, 0, 1.0),
    (catalog.HOST_DISK_READ_BYTES, 2, SECTOR_BYTES),
    (catalog.HOST_DISK_READ_TIME, 3, SECONDS_PER_TICK),
    (catalog.HOST_DISK_WRITES_COMPLETED, 4, 1.0),
    (catalog.HOST_DISK_WRITTEN_BYTES, 6, SECTOR_BYTES),
    (catalog.HOST_DISK_WRITE_TIME, 7, SECONDS_PER_TICK),
    (catalog.HOST_DISK_IO_NOW, 8, 1.0),
    (catalog.HOST_DISK_IO_TIME, 9, SECONDS_PER_TICK),
    (catalog.HOST_DISK_IO_TIME_WEIGHTED, 10, SECONDS_PER_TICK),
)
# 11 columns before kernel 4.18, 15 with the discard ones, 17 with the flush ones (5.5);
# kernels before 2.6.25 gave partitions 4 columns, which node_exporter (procfs) skips too.
MIN_COLUMNS = 11
MAX_COUNTER = 2**64 - 1  # the kernel prints unsigned 64-bit counters; procfs scans uint64


class DiskLineError(ValueError):
    """A /proc/diskstats line that cannot be read."""


def parse_line(line: bytes) -> tuple[str, list[int]]:
    """(device, its counter columns) of one /proc/diskstats line, or DiskLineError."""
    fields = line.split()
    if len(fields) < 3 + MIN_COLUMNS:
        raise DiskLineError(f"{len(fields)} fields, at least {3 + MIN_COLUMNS} expected")
    numbers = fields[:2] + fields[3:]
    if not all(f.isdigit() for f in numbers):  # bytes.isdigit: ASCII 0-9 only, no sign
        raise DiskLineError("a field is not an unsigned decimal number")
    # A length check first: int() refuses numbers of over 4300 digits with its own error.
    values = [int(f) if len(f) <= 20 else MAX_COUNTER + 1 for f in fields[3:]]
    if max(values) > MAX_COUNTER:
        raise DiskLineError("a value exceeds 64 bits")
    try:
        device = fields[2].decode("utf-8")
    except UnicodeDecodeError:
        raise DiskLineError("the device name is not UTF-8") from None
    return device, values


def device_filter(device_exclude: str = DEVICE_EXCLUDE, device_mapper: bool = False):
    """A predicate: is this device reported? (ValueError for a bad pattern)."""
    try:
        exclude = re.compile(device_exclude, re.ASCII) if device_exclude else None
    except re.error as err:
        raise ValueError(f"device_exclude {device_exclude!r}: {err}") from None

    def keep(device: str) -> bool:
        if exclude is not None and exclude.search(device):
            return False
        return device_mapper or not DEVICE_MAPPER.search(device)
    return keep


def diskstats_families(data: bytes, keep=None) -> tuple[list[Metric], list[str]]:
    """The disk families of a /proc/diskstats text, and a note per line skipped."""
    keep = keep or device_filter()
    families = {spec: spec.family() for spec, _, _ in COLUMNS}
    seen: set[str] = set()
    skipped: list[str] = []
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            device, values = parse_line(line)
        except DiskLineError as err:
            skipped.append(f"line {number}: {err}")
            continue
        if device in seen:
            skipped.append(f"line {number}: device {device!r} repeated")
            continue
        seen.add(device)
        if not keep(device):
            continue
        for spec, column, factor in COLUMNS:
            families[spec].add_metric([device], float(values[column]) * factor)
    return [f for f in families.values() if f.samples], skipped


class DiskstatsCollector:
    """Per-device I/O counters from <procfs>/diskstats; no series where the file is absent."""

    name = "diskstats"

    def __init__(self, procfs: str = "/proc", interval: float = 10.0, timeout: float = 5.0, *,
                 device_exclude: str = DEVICE_EXCLUDE, device_mapper: bool = False):
        self.procfs, self.interval, self.timeout = procfs, interval, timeout
        self._keep = device_filter(device_exclude, device_mapper)
        self._warned = False

    def collect(self) -> list[Metric]:
        """The disk families; CollectorFailed when the file exists but cannot be read."""
        path = Path(self.procfs, "diskstats")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            log.debug("%s is absent: no disk I/O metrics", path)
            return []
        except OSError as err:
            raise CollectorFailed(f"{path}: {err.strerror or err}") from None
        families, skipped = diskstats_families(data, self._keep)
        if skipped:
            # Once at warning level: a kernel format we do not know shows without flooding.
            report = log.debug if self._warned else log.warning
            report("%s: skipped %d unreadable lines (%s)", path, len(skipped),
                   "; ".join(skipped[:5]))
            self._warned = True
        return families

    def close(self) -> None:
        """Nothing to release."""
