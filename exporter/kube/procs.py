"""PID -> pod UID and container id, from <procfs>/<pid>/cgroup.

Handles cgroup v1 (one line per hierarchy) and v2 (`0::/path`), the cgroupfs layout
(`/kubepods/burstable/pod<uid>/<id>`) and the systemd one
(`/kubepods.slice/.../kubepods-burstable-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope`),
containerd, CRI-O and Docker ids, and paths relative to a cgroup namespace (`/../..`).
Results are cached per (pid, start time) so a reused PID is looked up again; processes that
are not in a pod are cached too (negative cache). Entries not seen in a cycle are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# A pod UID: a dashed or underscored UUID, or a static pod's 32-hex config hash.
_POD = re.compile(r"(?:^|-)pod([0-9a-f]{8}(?:[-_]?[0-9a-f]{4}){3}[-_]?[0-9a-f]{12})"
                  r"(?:\.slice)?$")
_CONTAINER = re.compile(r"^(?:cri-containerd-|crio-|docker-|containerd-|libpod-)?"
                        r"([0-9a-f]{64})(?:\.scope)?$")


@dataclass(frozen=True)
class CgroupRef:
    """Where a process runs: its pod's UID (dashed, lower case) and container id ('' if
    the process sits in the pod cgroup itself)."""

    pod_uid: str
    container_id: str = ""


def parse_cgroup(text: str) -> CgroupRef | None:
    """The pod a /proc/<pid>/cgroup belongs to, or None for a process outside any pod."""
    for line in text.splitlines():
        _hierarchy, _sep, rest = line.partition(":")
        _controllers, _sep, path = rest.partition(":")
        ref = parse_path(path.strip())
        if ref is not None:
            return ref
    return None


def parse_path(path: str) -> CgroupRef | None:
    """The pod (and container) of one cgroup path: the innermost pod component wins."""
    parts = [p for p in path.lower().split("/") if p]
    for i in range(len(parts) - 1, -1, -1):
        match = _POD.search(parts[i])
        if match is None:
            continue
        uid = match.group(1).replace("_", "-")  # systemd escapes '-' in unit names
        container = ""
        if i + 1 < len(parts):
            found = _CONTAINER.match(parts[i + 1])
            container = found.group(1) if found else ""
        return CgroupRef(uid, container)
    return None


def start_time(stat: str) -> int | None:
    """Field 22 (starttime, clock ticks since boot) of a /proc/<pid>/stat line."""
    _comm, sep, rest = stat.rpartition(")")
    fields = rest.split()
    if not sep or len(fields) < 20 or not fields[19].isdigit():
        return None
    return int(fields[19])


class ProcResolver:
    """Resolves PIDs through `procfs`, caching per (pid, start time) across cycles."""

    def __init__(self, procfs: str = "/proc"):
        self.procfs = Path(procfs)
        self.reads = 0  # cgroup files read (a cache miss each)
        self._cache: dict[tuple[int, int], CgroupRef | None] = {}
        self._seen: dict[tuple[int, int], CgroupRef | None] = {}

    def resolve(self, pid: int) -> CgroupRef | None:
        """The pod of a PID; None for host processes and for PIDs that cannot be read
        (gone, or not in our PID namespace) - the latter are not cached."""
        try:
            stat = (self.procfs / str(pid) / "stat").read_text(errors="replace")
        except OSError:
            return None
        started = start_time(stat)
        if started is None:
            return None
        key = (pid, started)
        if key in self._seen:
            return self._seen[key]
        if key not in self._cache:
            try:
                text = (self.procfs / str(pid) / "cgroup").read_text(errors="replace")
            except OSError:
                return None
            self.reads += 1
            self._cache[key] = parse_cgroup(text)
        self._seen[key] = self._cache[key]
        return self._seen[key]

    def end_cycle(self) -> None:
        """Keep only what this cycle used, so the cache is bounded by live GPU processes."""
        self._cache, self._seen = self._seen, {}
