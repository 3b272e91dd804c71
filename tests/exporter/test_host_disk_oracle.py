"""Disk I/O and md arrays beside the real node_exporter (Debian's 1.5), value by value.

node_exporter reads the same fixture procfs trees (tests/testdata/host/<case>/) with only its
diskstats and mdadm collectors; every node_disk_* / node_md_* sample we publish under another
name must be there with the same labels and the very same double.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from inferwatch import catalog
from inferwatch.exporter.collectors.host_disk import DiskstatsCollector
from inferwatch.exporter.collectors.host_md import MdadmCollector
from tests.support.procs import ROOT, free_port, need_binary, wait_http

pytestmark = pytest.mark.ecosystem

CASES = ROOT / "tests" / "testdata" / "host"
DISK_CASES = sorted(p.name for p in CASES.iterdir() if (p / "diskstats").is_file())
MD_CASES = sorted(p.name for p in CASES.iterdir() if (p / "mdstat").is_file())

# node_exporter's sample name -> ours.
NAMES = {
    "node_disk_reads_completed_total": catalog.HOST_DISK_READS_COMPLETED,
    "node_disk_writes_completed_total": catalog.HOST_DISK_WRITES_COMPLETED,
    "node_disk_read_bytes_total": catalog.HOST_DISK_READ_BYTES,
    "node_disk_written_bytes_total": catalog.HOST_DISK_WRITTEN_BYTES,
    "node_disk_read_time_seconds_total": catalog.HOST_DISK_READ_TIME,
    "node_disk_write_time_seconds_total": catalog.HOST_DISK_WRITE_TIME,
    "node_disk_io_now": catalog.HOST_DISK_IO_NOW,
    "node_disk_io_time_seconds_total": catalog.HOST_DISK_IO_TIME,
    "node_disk_io_time_weighted_seconds_total": catalog.HOST_DISK_IO_TIME_WEIGHTED,
    "node_md_disks": catalog.HOST_MD_DISKS,
    "node_md_state": catalog.HOST_MD_STATE,
}
Samples = dict[tuple[str, frozenset], float]


def scrape_node_exporter(procfs: Path) -> tuple[Samples, dict[str, float]]:
    """(its samples under our names, node_scrape_collector_success by collector)."""
    port = free_port()
    proc = subprocess.Popen(
        [need_binary("prometheus-node-exporter"), f"--path.procfs={procfs}",
         f"--path.sysfs={procfs}", "--collector.disable-defaults", "--collector.diskstats",
         "--collector.mdadm", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        text = wait_http(f"http://127.0.0.1:{port}/metrics").decode()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    samples: Samples = {}
    success: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name in NAMES:
                samples[(NAMES[s.name].name, frozenset(s.labels.items()))] = s.value
            elif s.name == "node_scrape_collector_success":
                success[s.labels["collector"]] = s.value
    return samples, success


def ours(families) -> Samples:
    return {(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples}


def devices(samples: Samples) -> set[str]:
    return {dict(labels)["device"] for _, labels in samples}


@pytest.mark.parametrize("case", DISK_CASES)
def test_diskstats_match_node_exporter(case):
    theirs, success = scrape_node_exporter(CASES / case)
    theirs = {k: v for k, v in theirs.items() if k[0].startswith("inferwatch_host_disk_")}
    assert success["diskstats"] == 1
    assert len(theirs) >= 9 * 3, "node_exporter reported almost nothing: a broken fixture?"
    with_dm = ours(DiskstatsCollector(str(CASES / case), device_mapper=True).collect())
    assert with_dm == theirs
    default = ours(DiskstatsCollector(str(CASES / case)).collect())
    assert devices(default) == {d for d in devices(theirs) if not d.startswith("dm-")}
    assert default == {k: v for k, v in theirs.items() if dict(k[1])["device"] in
                       devices(default)}


@pytest.mark.parametrize("case", MD_CASES)
def test_md_arrays_match_node_exporter(case):
    theirs, success = scrape_node_exporter(CASES / case)
    theirs = {k: v for k, v in theirs.items() if k[0].startswith("inferwatch_host_md_")}
    assert success["mdadm"] == 1
    mine = ours(MdadmCollector(str(CASES / case)).collect())
    assert len(mine) >= 8 * 2  # two arrays at least, 3 disk and 5 state series each
    assert mine == theirs


def test_one_bad_line_fails_node_exporter_whole_but_only_that_line_here(tmp_path):
    """The difference we chose: procfs stops at the first line it cannot scan."""
    good = (CASES / "disks-kernel4.18" / "diskstats").read_text()
    (tmp_path / "diskstats").write_text("   8       0 sdz 1 2 x 4 5 6 7 8 9 10 11\n" + good)
    theirs, success = scrape_node_exporter(tmp_path)
    assert success["diskstats"] == 0
    assert not [k for k in theirs if k[0].startswith("inferwatch_host_disk_")]
    mine = ours(DiskstatsCollector(str(tmp_path)).collect())
    expected = ours(DiskstatsCollector(str(CASES / "disks-kernel4.18")).collect())
    assert mine == expected and "sdz" not in devices(mine)


def test_a_4k_hardware_sector_size_changes_no_byte_count_in_either(tmp_path):
    """Issue 17 asked for /sys/block/<dev>/queue/hw_sector_size where it is not 512; the
    kernel's diskstats sectors are 512-byte units whatever the device's sector size, and
    node_exporter, given that sysfs tree, multiplies by 512 too. So do we."""
    (tmp_path / "diskstats").write_text(
        "   8       0 sda 10 0 100 5 20 0 200 7 0 9 12 0 0 0 0 0 0\n"
        " 259       0 nvme0n1 1 0 8 1 1 0 24 1 0 1 1\n")
    for device, size in (("sda", 4096), ("nvme0n1", 4096)):
        queue = tmp_path / "block" / device / "queue"
        queue.mkdir(parents=True)
        (queue / "hw_sector_size").write_text(f"{size}\n")
        (queue / "logical_block_size").write_text(f"{size}\n")
    theirs, success = scrape_node_exporter(tmp_path)
    assert success["diskstats"] == 1
    theirs = {k: v for k, v in theirs.items() if k[0].startswith("inferwatch_host_disk_")}
    mine = ours(DiskstatsCollector(str(tmp_path)).collect())
    assert mine == theirs
    read, written = catalog.HOST_DISK_READ_BYTES.name, catalog.HOST_DISK_WRITTEN_BYTES.name
    assert {(name, dict(labels)["device"]): v for (name, labels), v in mine.items()
            if name in (read, written)} == {
        (read, "sda"): 100 * 512.0, (written, "sda"): 200 * 512.0,
        (read, "nvme0n1"): 8 * 512.0, (written, "nvme0n1"): 24 * 512.0}
