"""md (software RAID) arrays from <procfs>/mdstat, shaped like node_exporter 1.5's mdadm collector.

The arrays are read as prometheus/procfs 0.8 (mdstat.go) reads them: an array line
(`md0 : active raid1 sdb1[1] sda1[0](F)`), then its status line (`... blocks ... [2/1] [U_]`),
an optional bitmap line and a sync line (recovery, resync, check). Failed and spare disks are
the (F) and (S) marks of the array line; active ones the second number of [n/m] (every
member of raid0 and linear, none of an inactive array). Where procfs rejects the whole file
(and node_exporter reports nothing), only the array it cannot read is left out here.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.core import Metric

from inferwatch import catalog
from inferwatch.exporter.collectors.base import CollectorFailed

log = logging.getLogger(__name__)

MAX_COUNT = 2**63 - 1  # procfs parses the counts as int64
STATUS_LINE = re.compile(r"(\d+) blocks .*\[(\d+)/(\d+)\] \[([U_]+)\]", re.ASCII)
DISK_STATES = ("active", "failed", "spare")
# inferwatch_host_md_state's states, and the procfs activity state each one stands for.
ARRAY_STATES = {"active": "active", "inactive": "inactive", "recovering": "recovering",
                "resync": "resyncing", "check": "checking"}


class MdstatError(ValueError):
    """An array in /proc/mdstat that cannot be read."""


@dataclass(frozen=True)
class MdArray:
    """One md array: its name, activity state and disks by state."""

    name: str
    state: str  # active, inactive, recovering, resyncing, checking (or the kernel's word)
    active: int
    failed: int
    spare: int


def _disks_active(array_line: str, status_line: str) -> int:
    """Active disks, as procfs' evalStatusLine counts them."""
    fields = status_line.split()
    if not fields or not fields[0].isascii() or not fields[0].isdigit():
        raise MdstatError("no block count on the status line")
    if len(fields[0]) > 19 or int(fields[0]) > MAX_COUNT:
        raise MdstatError("the block count exceeds 64 bits")
    if "raid0" in array_line or "linear" in array_line:
        return array_line.count("[")  # only member disks carry a [n]
    if "inactive" in array_line:
        return 0
    if len(status_line) > 4096:  # keeps the backtracking of STATUS_LINE's .* bounded
        raise MdstatError("the status line is too long")
    match = STATUS_LINE.search(status_line)
    if match is None:
        raise MdstatError("no [n/m] [UU] on the status line")
    if max(len(match.group(2)), len(match.group(3))) > 19 or \
            max(int(match.group(2)), int(match.group(3))) > MAX_COUNT:
        raise MdstatError("a disk count exceeds 64 bits")
    return int(match.group(3))


def _array(lines: list[str], i: int) -> MdArray:
    """The array whose line is lines[i]."""
    line = lines[i]
    fields = line.split()
    if len(fields) < 3 or fields[1] != ":":
        raise MdstatError("not `mdN : state ...`")
    name = fields[0]
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise MdstatError("the array name is not UTF-8") from None
    if i + 1 >= len(lines):
        raise MdstatError("no status line")
    active = _disks_active(line, lines[i + 1])
    sync_index = i + 3 if "bitmap" in _at(lines, i + 2) else i + 2
    sync = _at(lines, sync_index)
    state = fields[2]
    if "recovery" in sync:
        state = "recovering"
    elif "check" in sync:
        state = "checking"
    elif "resync" in sync:
        state = "resyncing"
    return MdArray(name, state, active, line.count("(F)"), line.count("(S)"))


def _at(lines: list[str], index: int) -> str:
    return lines[index] if index < len(lines) else ""


def parse_mdstat(text: str) -> tuple[list[MdArray], list[str]]:
    """The arrays of an mdstat text, and a note for each array line that cannot be read."""
    lines = text.split("\n")
    arrays: list[MdArray] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for i, line in enumerate(lines):
        if (not line.strip() or line[0] == " "
                or line.startswith(("Personalities", "unused"))):
            continue  # as procfs: only array lines start in the first column
        try:
            array = _array(lines, i)
        except MdstatError as err:
            skipped.append(f"line {i + 1}: {err}")
            continue
        if array.name in seen:
            skipped.append(f"line {i + 1}: array {array.name!r} repeated")
            continue
        seen.add(array.name)
        arrays.append(array)
    return arrays, skipped


def md_families(arrays: list[MdArray]) -> list[Metric]:
    """inferwatch_host_md_disks and _md_state, every state of every array (as node_exporter)."""
    disks, states = catalog.HOST_MD_DISKS.family(), catalog.HOST_MD_STATE.family()
    for array in arrays:
        for state, count in zip(DISK_STATES, (array.active, array.failed, array.spare),
                                strict=True):
            disks.add_metric([array.name, state], float(count))
        for state, activity in ARRAY_STATES.items():
            states.add_metric([array.name, state], 1.0 if array.state == activity else 0.0)
    return [f for f in (disks, states) if f.samples]


class MdadmCollector:
    """md arrays from <procfs>/mdstat; no series where the file is absent (no md driver)."""

    name = "mdadm"

    def __init__(self, procfs: str = "/proc", interval: float = 10.0, timeout: float = 5.0):
        self.procfs, self.interval, self.timeout = procfs, interval, timeout
        self._warned = False

    def collect(self) -> list[Metric]:
        """The md families; CollectorFailed when the file exists but cannot be read."""
        path = Path(self.procfs, "mdstat")
        try:
            text = path.read_bytes().decode("utf-8", errors="surrogateescape")
        except FileNotFoundError:
            log.debug("%s is absent: no md arrays", path)
            return []
        except OSError as err:
            raise CollectorFailed(f"{path}: {err.strerror or err}") from None
        arrays, skipped = parse_mdstat(text)
        if skipped:
            report = log.debug if self._warned else log.warning
            report("%s: skipped %d unreadable arrays (%s)", path, len(skipped),
                   "; ".join(skipped[:5]))
            self._warned = True
        return md_families(arrays)

    def close(self) -> None:
        """Nothing to release."""
