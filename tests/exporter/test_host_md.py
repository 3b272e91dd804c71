"""MdadmCollector on fixture and hostile /proc/mdstat files, without node_exporter."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from inferwatch import catalog
from inferwatch.exporter.collectors.base import CollectorFailed
from inferwatch.exporter.collectors.host_md import MdadmCollector
from tests.support.procs import ROOT

CASES = ROOT / "tests" / "testdata" / "host"
STATES = ("active", "inactive", "recovering", "resync", "check")

# case -> {array: (state, active, failed, spare)}
EXPECTED = {
    "raid1-active": {"md0": ("active", 2, 0, 0), "md1": ("active", 2, 0, 0)},
    "raid-degraded": {"md0": ("active", 1, 1, 0), "md2": ("active", 3, 1, 1),
                      "md3": ("active", 4, 2, 0)},
    "raid-resync": {"md0": ("resync", 2, 0, 0), "md1": ("check", 4, 0, 0),
                    "md2": ("recovering", 1, 0, 0), "md3": ("resync", 2, 0, 0),
                    "md4": ("resync", 2, 0, 0)},
    "raid-inactive": {"md127": ("inactive", 0, 0, 2), "md1": ("inactive", 0, 0, 1),
                      "md2": ("inactive", 0, 1, 0)},
    "raid-mixed": {"md0": ("active", 4, 0, 0), "md1": ("active", 2, 0, 0),
                   "md2": ("active", 2, 0, 1), "md3": ("active", 4, 0, 0)},
}


def arrays(families) -> dict[str, tuple[str, int, int, int]]:
    """{array: (its one state at 1, active, failed, spare)}; checks every state is there."""
    disks: dict[str, dict[str, float]] = {}
    states: dict[str, dict[str, float]] = {}
    for f in families:
        for s in f.samples:
            table = disks if s.name == catalog.HOST_MD_DISKS.name else states
            assert s.name in (catalog.HOST_MD_DISKS.name, catalog.HOST_MD_STATE.name)
            table.setdefault(s.labels["device"], {})[s.labels["state"]] = s.value
    result = {}
    for name, by_state in states.items():
        assert set(by_state) == set(STATES) and sum(by_state.values()) <= 1
        current = next((k for k, v in by_state.items() if v == 1), "")
        assert set(disks[name]) == {"active", "failed", "spare"}
        result[name] = (current, *(int(disks[name][k]) for k in ("active", "failed", "spare")))
    assert set(disks) == set(states)
    return result


def collect(tmp_path: Path, text: str | bytes) -> list:
    (tmp_path / "mdstat").write_bytes(text.encode() if isinstance(text, str) else text)
    return MdadmCollector(str(tmp_path)).collect()


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_fixture_arrays(case):
    assert arrays(MdadmCollector(str(CASES / case)).collect()) == EXPECTED[case]


def test_absent_file_is_no_series_and_no_error(tmp_path):
    assert MdadmCollector(str(tmp_path)).collect() == []


def test_no_arrays_is_no_series(tmp_path):
    assert collect(tmp_path, "Personalities : \nunused devices: <none>\n") == []


def test_unreadable_file_fails_the_run(tmp_path):
    (tmp_path / "mdstat").mkdir()
    with pytest.raises(CollectorFailed, match="mdstat"):
        MdadmCollector(str(tmp_path)).collect()


GOOD = """md0 : active raid1 sdb1[1] sda1[0]
      1046528 blocks super 1.2 [2/2] [UU]

"""
HOSTILE = {
    "too few fields": "md5 :\n      1046528 blocks super 1.2 [2/2] [UU]\n\n",
    "no colon": "md5 active raid1 sdc[0]\n      1046528 blocks [1/1] [U]\n\n",
    "no block count": "md5 : active raid1 sdc[0]\n      lots of blocks [1/1] [U]\n\n",
    "no [n/m] [U_]": "md5 : active raid1 sdc[0]\n      1046528 blocks super 1.2\n\n",
    "a huge block count": "md5 : active raid1 sdc[0]\n      1" + "0" * 5000
                          + " blocks [1/1] [U]\n\n",
    "a disk count beyond 63 bits": "md5 : active raid1 sdc[0]\n"
                                   "      100 blocks [1/9223372036854775808] [U]\n\n",
    "a huge disk count": "md5 : active raid1 sdc[0]\n      100 blocks [1/" + "9" * 5000
                         + "] [U]\n\n",
    "a name that is not UTF-8": b"md\xff : active raid1 sdc[0]\n"
                                b"      1046528 blocks [1/1] [U]\n\n",
    "a repeated array": GOOD,
    "an array line at the end": "md5 : active raid1 sdc[0]",
}


@pytest.mark.parametrize("reason", list(HOSTILE))
def test_hostile_array_is_skipped_alone(tmp_path, reason, caplog):
    bad = HOSTILE[reason]
    bad = bad if isinstance(bad, bytes) else bad.encode()
    tail = b"md9 : active raid1 sdz[1](S) sdy[0]\n      1046528 blocks [1/1] [U]\n\n"
    if reason == "an array line at the end":
        text = b"Personalities : [raid1]\n" + GOOD.encode() + tail + bad
    else:
        text = (b"Personalities : [raid1]\n" + GOOD.encode() + bad + tail
                + b"unused devices: <none>\n")
    with caplog.at_level(logging.WARNING, "inferwatch.exporter.collectors.host_md"):
        families = collect(tmp_path, text)
    assert arrays(families) == {"md0": ("active", 2, 0, 0), "md9": ("active", 1, 0, 1)}
    assert "skipped 1 unreadable arrays" in caplog.text


def test_sync_words_in_order_of_procfs(tmp_path):
    """recovery before check before resync, whatever else the line says."""
    text = ("md0 : active raid1 sdb[1] sda[0]\n      100 blocks [2/2] [UU]\n"
            "      [=>...]  recovery = 8.5% (1/100) finish=1.0min speed=1K/sec check resync\n\n"
            "md1 : active raid1 sdd[1] sdc[0]\n      100 blocks [2/2] [UU]\n"
            "      [=>...]  check = 8.5% (1/100) resync\n\n")
    assert {k: v[0] for k, v in arrays(collect(tmp_path, text)).items()} == {
        "md0": "recovering", "md1": "check"}
