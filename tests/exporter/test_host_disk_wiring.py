"""The diskstats and mdadm collectors in the exporter: flags, config, and their own `up`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from inferwatch import catalog
from inferwatch.cli import build_parser
from inferwatch.core.config import ConfigError
from inferwatch.exporter.cli import EXPORTER_FLAGS, overrides
from inferwatch.exporter.config import ExporterConfig, load_config
from inferwatch.exporter.loop import CollectorLoop, build_labels
from inferwatch.exporter.main import build_collectors
from tests.exporter.test_host_collector import make_rootfs, write_procfs
from tests.support.procs import ROOT

CASES = ROOT / "tests" / "testdata" / "host"


def exporter_config(*flags: str) -> ExporterConfig:
    argv = ["exporter", *flags]
    args = build_parser(argv).parse_args(argv)
    return load_config(None, overrides(args, EXPORTER_FLAGS)).exporter


def host_collectors(config: ExporterConfig) -> dict:
    return {c.name: c for c in build_collectors(config) if c.name in
            ("host", "diskstats", "mdadm")}


def test_both_on_by_default_beside_host():
    assert set(host_collectors(exporter_config("--no-collector.gpu"))) == {
        "host", "diskstats", "mdadm"}


@pytest.mark.parametrize("flag, left", [("--no-collector.diskstats", {"host", "mdadm"}),
                                        ("--no-collector.mdadm", {"host", "diskstats"})])
def test_each_has_its_own_flag(flag, left):
    assert set(host_collectors(exporter_config("--no-collector.gpu", flag))) == left


def test_flags_reach_the_collector(tmp_path):
    shutil.copy(CASES / "disks-kernel4" / "diskstats", tmp_path / "diskstats")
    config = exporter_config("--no-collector.gpu", f"--path.procfs={tmp_path}",
                             "--collector.diskstats.device-mapper",
                             "--collector.diskstats.device-exclude=^sd")
    families = host_collectors(config)["diskstats"].collect()
    devices = {s.labels["device"] for f in families for s in f.samples}
    assert devices == {"dm-0", "dm-1", "md0", "loop0", "xvdb", "xvdb1"}


def test_a_bad_exclude_is_a_config_error(tmp_path):
    f = tmp_path / "c.yml"
    f.write_text("exporter:\n  collectors:\n    diskstats: {device_exclude: '(unclosed'}\n")
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert any(p.startswith(f"{f}: exporter.collectors.diskstats: device_exclude is not a "
                            "regular expression") for p in err.value.problems)


async def up_after_one_run(procfs: Path, rootfs: Path) -> dict[str, bool]:
    config = ExporterConfig.model_validate(
        {"paths": {"procfs": str(procfs), "rootfs": str(rootfs)},
         "collectors": {"gpu": {"enabled": False}, "engines": {"enabled": False}}})
    loop = CollectorLoop(list(host_collectors(config).values()), build_labels)
    for collector in loop.collectors:
        await loop.run_once(collector)
    return {name: state.up for name, state in loop.states.items()}


async def test_hostile_files_never_take_the_host_collector_down(tmp_path):
    procfs, rootfs = write_procfs(tmp_path / "proc"), make_rootfs(tmp_path / "host")
    (procfs / "diskstats").write_bytes(b"\xff\xfe garbage\n   8 0 sda 1 2\n   8 16 sdb 1 2 "
                                       + b"9" * 10_000 + b" 4 5 6 7 8 9 10 11\n")
    (procfs / "mdstat").write_bytes(b"md0 : \xff\n" + b"[" * 10_000 + b"\n")
    assert await up_after_one_run(procfs, rootfs) == {"host": True, "diskstats": True,
                                                      "mdadm": True}


async def test_absent_files_are_up_with_no_series(tmp_path):
    procfs, rootfs = write_procfs(tmp_path / "proc"), make_rootfs(tmp_path / "host")
    assert await up_after_one_run(procfs, rootfs) == {"host": True, "diskstats": True,
                                                      "mdadm": True}
    config = ExporterConfig.model_validate({"paths": {"procfs": str(procfs)}})
    for name in ("diskstats", "mdadm"):
        assert host_collectors(config)[name].collect() == []


async def test_an_unreadable_file_fails_only_its_own_collector(tmp_path):
    procfs, rootfs = write_procfs(tmp_path / "proc"), make_rootfs(tmp_path / "host")
    (procfs / "diskstats").mkdir()
    shutil.copy(CASES / "raid-degraded" / "mdstat", procfs / "mdstat")
    assert await up_after_one_run(procfs, rootfs) == {"host": True, "diskstats": False,
                                                      "mdadm": True}


def test_catalogue_has_every_disk_and_md_name():
    names = set(catalog.by_name())
    for suffix in ("read_bytes_total", "written_bytes_total", "reads_completed_total",
                   "writes_completed_total", "io_time_seconds_total",
                   "io_time_weighted_seconds_total", "read_time_seconds_total",
                   "write_time_seconds_total", "io_now"):
        assert f"inferwatch_host_disk_{suffix}" in names
    assert catalog.HOST_MD_DISKS.labels == catalog.HOST_MD_STATE.labels == ("device", "state")
