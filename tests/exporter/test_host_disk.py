"""DiskstatsCollector on fixture and hostile /proc/diskstats files, without node_exporter."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from inferwatch import catalog
from inferwatch.exporter.collectors.base import CollectorFailed
from inferwatch.exporter.collectors.host_disk import DiskstatsCollector, parse_line
from tests.support.procs import ROOT

CASES = ROOT / "tests" / "testdata" / "host"
SDA = "   8       0 sda 653328673 340407594 806207582482 9731413546 708852283 475179308 " \
      "675536225699 14802611830 16 25634069 154181518994"
DISK_SPECS = (catalog.HOST_DISK_READS_COMPLETED, catalog.HOST_DISK_WRITES_COMPLETED,
              catalog.HOST_DISK_READ_BYTES, catalog.HOST_DISK_WRITTEN_BYTES,
              catalog.HOST_DISK_READ_TIME, catalog.HOST_DISK_WRITE_TIME,
              catalog.HOST_DISK_IO_NOW, catalog.HOST_DISK_IO_TIME,
              catalog.HOST_DISK_IO_TIME_WEIGHTED)


def by_device(families, spec: catalog.MetricSpec) -> dict[str, float]:
    return {s.labels["device"]: s.value for f in families for s in f.samples
            if s.name == spec.name}


def collect(tmp_path: Path, text: str | bytes, **kwargs) -> list:
    data = text.encode() if isinstance(text, str) else text
    (tmp_path / "diskstats").write_bytes(data)
    return DiskstatsCollector(str(tmp_path), **kwargs).collect()


def test_columns_units_and_sector_size_of_one_disk(tmp_path):
    families = collect(tmp_path, SDA + "\n")
    # Approximately: ticks * 0.001 is node_exporter's double (the oracle test checks it).
    assert {spec: by_device(families, spec)["sda"] for spec in DISK_SPECS} == pytest.approx({
        catalog.HOST_DISK_READS_COMPLETED: 653328673.0,
        catalog.HOST_DISK_READ_BYTES: 806207582482 * 512.0,  # always 512-byte sectors
        catalog.HOST_DISK_READ_TIME: 9731413.546,
        catalog.HOST_DISK_WRITES_COMPLETED: 708852283.0,
        catalog.HOST_DISK_WRITTEN_BYTES: 675536225699 * 512.0,
        catalog.HOST_DISK_WRITE_TIME: 14802611.83,
        catalog.HOST_DISK_IO_NOW: 16.0,
        catalog.HOST_DISK_IO_TIME: 25634.069,
        catalog.HOST_DISK_IO_TIME_WEIGHTED: 154181518.994,
    }, rel=1e-15)
    names = {s.name for f in families for s in f.samples}
    assert names == {spec.name for spec in DISK_SPECS}


@pytest.mark.parametrize("case, expected", [
    ("disks-kernel6", {"nvme0n1", "nvme1n1", "nvme2n1", "nvme3n1", "nvme10n1", "sda", "sr0",
                       "md0", "md1", "zram0", "nbd0"}),
    ("disks-kernel4.18", {"sda", "sdb", "sdc", "sdq", "vda", "xvda", "hda", "md127"}),
    ("disks-kernel4", {"sda", "sdb", "md0", "xvdb"}),  # sdb1's 4-column line is skipped
])
def test_default_excludes_partitions_loop_ram_fd_and_device_mapper(case, expected):
    families = DiskstatsCollector(str(CASES / case)).collect()
    for spec in DISK_SPECS:
        assert set(by_device(families, spec)) == expected, spec.name


def test_device_mapper_only_when_asked():
    with_dm = DiskstatsCollector(str(CASES / "disks-kernel4"), device_mapper=True).collect()
    assert set(by_device(with_dm, catalog.HOST_DISK_IO_NOW)) == {
        "sda", "sdb", "md0", "xvdb", "dm-0", "dm-1"}


def test_own_exclude_replaces_the_default():
    families = DiskstatsCollector(str(CASES / "disks-kernel4"), device_exclude="^(sd|md)").collect()
    assert set(by_device(families, catalog.HOST_DISK_IO_NOW)) == {"loop0", "xvdb", "xvdb1"}


def test_absent_file_is_no_series_and_no_error(tmp_path):
    assert DiskstatsCollector(str(tmp_path)).collect() == []


def test_unreadable_file_fails_the_run(tmp_path):
    (tmp_path / "diskstats").mkdir()  # exists, cannot be read as a file
    with pytest.raises(CollectorFailed, match="diskstats"):
        DiskstatsCollector(str(tmp_path)).collect()


HOSTILE = {
    "too few fields": b"   8  32 sdc 1 2 3 4 5 6 7 8 9 10",
    "a number beyond 64 bits": b"   8  32 sdc 1 2 18446744073709551616 4 5 6 7 8 9 10 11",
    "a 5000-digit number": b"   8  32 sdc 1 2 " + b"7" * 5000 + b" 4 5 6 7 8 9 10 11",
    "a sign": b"   8  32 sdc 1 2 -3 4 5 6 7 8 9 10 11",
    "a non-ASCII digit": "   8  32 sdc 1 2 \u0663 4 5 6 7 8 9 10 11".encode(),
    "a fraction": b"   8  32 sdc 1 2 3.5 4 5 6 7 8 9 10 11",
    "a word for the minor": b"   8  x sdc 1 2 3 4 5 6 7 8 9 10 11",
    "a name that is not UTF-8": b"   8  32 sd\xff\xfe 1 2 3 4 5 6 7 8 9 10 11",
    "NUL bytes": b"\x00\x00\x00\x00",
    "a repeated device": b"   8   0 sda 9 9 9 9 9 9 9 9 9 9 9",
}


@pytest.mark.parametrize("reason", list(HOSTILE))
def test_hostile_line_is_skipped_alone(tmp_path, reason, caplog):
    text = SDA.encode() + b"\n" + HOSTILE[reason] + b"\n   8  48 sdd 1 2 3 4 5 6 7 8 9 10 11\n"
    with caplog.at_level(logging.WARNING, "inferwatch.exporter.collectors.host_disk"):
        families = collect(tmp_path, text)
    for spec in DISK_SPECS:
        assert set(by_device(families, spec)) == {"sda", "sdd"}, spec.name
    assert by_device(families, catalog.HOST_DISK_READS_COMPLETED)["sda"] == 653328673.0
    assert "skipped 1 unreadable lines" in caplog.text
    assert "\\xff" not in caplog.text and "\u0663" not in caplog.text  # notes, not the line


def test_largest_64_bit_counter_is_kept(tmp_path):
    line = "   8  32 sdc 1 2 18446744073709551615 4 5 6 7 8 9 10 11\n"
    assert by_device(collect(tmp_path, line), catalog.HOST_DISK_READ_BYTES) == {
        "sdc": float(2**64) * 512}


def test_only_the_first_warning_is_at_warning_level(tmp_path, caplog):
    (tmp_path / "diskstats").write_bytes(b"garbage\n" + SDA.encode() + b"\n")
    collector = DiskstatsCollector(str(tmp_path))
    with caplog.at_level(logging.DEBUG, "inferwatch.exporter.collectors.host_disk"):
        for _ in range(3):
            assert by_device(collector.collect(), catalog.HOST_DISK_IO_NOW) == {"sda": 16.0}
    levels = [r.levelname for r in caplog.records if "unreadable" in r.message]
    assert levels == ["WARNING", "DEBUG", "DEBUG"]


def test_newer_kernel_columns_and_extra_ones_are_ignored():
    base = b"259 0 nvme0n1 " + b" ".join(str(n).encode() for n in range(1, 12))
    for extra in (b"", b" 12 13 14 15", b" 12 13 14 15 16 17", b" 12 13 14 15 16 17 18 19"):
        device, values = parse_line(base + extra)
        assert (device, values[:11]) == ("nvme0n1", list(range(1, 12)))


def test_empty_and_blank_file_give_no_series(tmp_path):
    assert collect(tmp_path, "") == []
    assert collect(tmp_path, "\n  \n\t\n") == []
