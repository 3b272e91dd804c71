"""The `jobs` collector: which HPC (Slurm) job uses each GPU, as a join metric.

Two sources, either or both:
- dcgm-exporter's job-mapping directory (its `--hpc-job-mapping-dir`, env
  DCGM_HPC_JOB_MAPPING_DIR, no default): one file per GPU, named by the GPU's index (`0`),
  a MIG device's `<gpu>.<gpu instance id>` or a GPU/MIG UUID, written by the scheduler's
  prolog and removed by its epilog; each line a job id, optionally followed by a space and the
  user's uid (`45916256 262563`), which is not published.
- Slurm's cgroups of the GPU's processes, from /proc/<pid>/cgroup (needs hostPID): cgroup v1
  `/slurm[_<node>]/uid_<uid>/job_<id>/step_<step>/...` and v2
  `/system.slice/[<node>_]slurmstepd.scope/job_<id>/step_<step>/...`. A process's job is
  cached per (pid, start time from /proc/<pid>/stat): a PID reused by a new process is read
  again, a PID that no GPU lists any more or that is gone is forgotten, and at most
  MAX_CACHED processes are kept (the oldest entry goes first).

Published as `inferwatch_gpu_job_info{gpu,uuid,hpc_job} 1`, never by copying every GPU
series per job: `inferwatch_gpu_utilization_ratio * on(uuid) group_left(hpc_job)
inferwatch_gpu_job_info` joins them at query time. Everything read is bounded: files per
directory, bytes per file, jobs per GPU and per node, and the id's length and characters; what
goes beyond is dropped and logged once per change.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import pynvml
from prometheus_client.core import Metric

from inferwatch import catalog
from inferwatch.exporter.collectors.base import CollectorFailed
from inferwatch.exporter.collectors.nvmlsession import NvmlSession, text
from inferwatch.exporter.kube.procs import start_time

log = logging.getLogger(__name__)
MAX_FILES = 1024  # mapping files read per cycle
MAX_FILE_BYTES = 64 * 1024  # of one mapping or cgroup file
MAX_JOBS_PER_GPU = 64
MAX_JOBS = 4096  # series per node
MAX_ID = 64  # characters of a job id
MAX_CACHED = 4096  # processes whose Slurm job is remembered across cycles
STAT_BYTES = 4096  # of /proc/<pid>/stat (its command name is at most 16 bytes)
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_SLURM_PARENT = re.compile(r"^(?:slurm(?:_[^/]+)?|(?:[^/]+_)?slurmstepd\.scope)$")
_CGROUP_JOB = re.compile(r"^job_([0-9]{1,20})$")
_GpuKey = tuple[str, str]  # (gpu index, uuid)


def job_id(line: str) -> str | None:
    """The job id of one mapping-file line (`job` or `job uid`), None when unusable."""
    words = line.split()
    if not words or len(words[0]) > MAX_ID or not _JOB_ID.match(words[0]):
        return None
    return words[0]


def slurm_job(cgroup: str) -> str | None:
    """The Slurm job of a /proc/<pid>/cgroup text (v1 or v2), None outside any job."""
    for line in cgroup.splitlines():
        path = line.split(":", 2)[-1]
        parts = [p for p in path.split("/") if p]
        for parent, part in zip(parts, parts[1:], strict=False):
            match = _CGROUP_JOB.match(part)
            if match and (_SLURM_PARENT.match(parent) or parent.startswith("uid_")):
                return match.group(1)
    return None


def read_bounded(path: Path) -> str:
    """At most MAX_FILE_BYTES of a file, as text; a longer file is cut at its last line."""
    with path.open("rb") as fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        data = data[:MAX_FILE_BYTES].rpartition(b"\n")[0]
    return data.decode("utf-8", "replace")


class ProcessJobs:
    """pid -> Slurm job of its cgroup, cached per (pid, start time)."""

    def __init__(self, procfs: Path):
        self.procfs = procfs
        self._root = str(procfs)
        self.reads = 0  # cgroup files read (a cache miss each)
        self.cached: dict[int, tuple[int, str | None]] = {}  # pid -> (start time, job)

    def started(self, pid: int) -> int | None:
        """The start time in /proc/<pid>/stat (one line of at most STAT_BYTES; read with
        os.read, as it is read for every process every cycle); None when it is gone."""
        try:
            fd = os.open(f"{self._root}/{pid}/stat", os.O_RDONLY)
        except OSError:
            return None
        try:
            return start_time(os.read(fd, STAT_BYTES).decode("utf-8", "replace"))
        except OSError:
            return None
        finally:
            os.close(fd)

    def job(self, pid: int) -> str | None:
        """The process's Slurm job; None outside a job and for a process that is gone or
        not in our PID namespace (not cached: its PID may come back as another process)."""
        started = self.started(pid)
        if started is None:
            self.cached.pop(pid, None)
            return None
        hit = self.cached.get(pid)
        if hit is not None and hit[0] == started:
            return hit[1]
        try:
            job = slurm_job(read_bounded(self.procfs / str(pid) / "cgroup"))
        except OSError:
            self.cached.pop(pid, None)
            return None
        self.reads += 1
        self.cached.pop(pid, None)
        while len(self.cached) >= MAX_CACHED:
            del self.cached[next(iter(self.cached))]
        self.cached[pid] = (started, job)
        return job

    def keep(self, pids: set[int]) -> None:
        """Forget the processes that no GPU lists any more."""
        for pid in self.cached.keys() - pids:
            del self.cached[pid]


class JobCollector:
    """GPU -> HPC jobs from a mapping directory and/or the GPUs' processes' cgroups."""

    name = "jobs"

    def __init__(self, lib: Any, mapping_dir: str | None = None, procfs: str | None = "/proc",
                 interval: float = 15.0, timeout: float = 10.0):
        self.lib = lib
        self.mapping_dir = Path(mapping_dir) if mapping_dir else None
        self.procfs = Path(procfs) if procfs else None
        self.interval, self.timeout = interval, timeout
        self.nvml = NvmlSession(lib)
        self.processes = ProcessJobs(self.procfs) if self.procfs else None
        self._problem = ""  # the last dropped-input message, logged once per change

    def collect(self) -> list[Metric]:
        gpus, migs = self._gpus()
        jobs: dict[_GpuKey, set[str]] = {}
        dropped: list[str] = []
        if self.mapping_dir is not None:
            self._from_directory(gpus, migs, jobs, dropped)
        if self.processes is not None:
            self._from_processes(self.processes, gpus, jobs)
        family = catalog.GPU_JOB_INFO.family()
        count = 0
        for (gpu, uuid), ids in sorted(jobs.items()):
            chosen = sorted(ids)
            if len(chosen) > MAX_JOBS_PER_GPU:
                dropped.append(f"gpu {gpu}: {len(chosen)} jobs, kept {MAX_JOBS_PER_GPU}")
                chosen = chosen[:MAX_JOBS_PER_GPU]
            for job in chosen:
                if count == MAX_JOBS:
                    dropped.append(f"over {MAX_JOBS} GPU jobs on the node")
                    break
                family.add_metric([gpu, uuid, job], 1.0)
                count += 1
        self._report(dropped)
        return [family]

    def close(self) -> None:
        self.nvml.close()

    def _gpus(self) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
        """index -> uuid, and `<index>.<gpu instance id>` -> (index, MIG uuid)."""
        try:
            self.nvml.start()
            gpus: dict[str, str] = {}
            migs: dict[str, tuple[str, str]] = {}
            for index in range(int(self.lib.nvmlDeviceGetCount())):
                handle = self.lib.nvmlDeviceGetHandleByIndex(index)
                gpus[str(index)] = text(self.lib.nvmlDeviceGetUUID(handle))
                migs.update(self._migs(index, handle))
            return gpus, migs
        except pynvml.NVMLError as err:
            self.close()
            raise CollectorFailed(f"NVML unavailable: {err}") from err

    def _migs(self, index: int, handle: Any) -> dict[str, tuple[str, str]]:
        try:
            mode = self.lib.nvmlDeviceGetMigMode(handle)
            if not mode or mode[0] != pynvml.NVML_DEVICE_MIG_ENABLE:
                return {}
            slots = int(self.lib.nvmlDeviceGetMaxMigDeviceCount(handle))
        except pynvml.NVMLError:
            return {}
        found = {}
        for slot in range(slots):
            try:
                mig = self.lib.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot)
                uuid = text(self.lib.nvmlDeviceGetUUID(mig))
                instance = int(self.lib.nvmlDeviceGetGpuInstanceId(mig))
            except pynvml.NVMLError:
                continue
            found[f"{index}.{instance}"] = (str(index), uuid)
        return found

    def _from_directory(self, gpus: dict[str, str], migs: dict[str, tuple[str, str]],
                        jobs: dict[_GpuKey, set[str]], dropped: list[str]) -> None:
        """Every mapping file whose name is a GPU index, MIG `<gpu>.<instance>` or UUID."""
        names: dict[str, _GpuKey] = {index: (index, uuid) for index, uuid in gpus.items()}
        names.update(migs)
        names.update({uuid: (index, uuid) for index, uuid in gpus.items()})
        names.update({key[1]: key for key in migs.values()})
        try:
            entries = os.scandir(self.mapping_dir)
        except OSError as err:
            dropped.append(f"mapping directory {self.mapping_dir}: {err.strerror or err}")
            return
        with entries:
            for n, entry in enumerate(entries):
                if n == MAX_FILES:
                    dropped.append(f"{self.mapping_dir}: over {MAX_FILES} files, rest skipped")
                    break
                key = names.get(entry.name)
                if key is None or not entry.is_file(follow_symlinks=False):
                    continue
                try:
                    text = read_bounded(Path(entry.path))
                except OSError as err:
                    dropped.append(f"{entry.path}: {err.strerror or err}")
                    continue
                ids = [job_id(line) for line in text.splitlines() if line.strip()]
                if None in ids:
                    dropped.append(f"{entry.path}: lines that are no job id skipped")
                jobs.setdefault(key, set()).update(i for i in ids if i)

    def _from_processes(self, processes: ProcessJobs, gpus: dict[str, str],
                        jobs: dict[_GpuKey, set[str]]) -> None:
        """The Slurm job of each compute process on each GPU (processes we cannot see, or
        outside a job, add nothing)."""
        listed: set[int] = set()
        for index, uuid in gpus.items():
            try:
                handle = self.lib.nvmlDeviceGetHandleByIndex(int(index))
                running = self.lib.nvmlDeviceGetComputeRunningProcesses(handle)
            except pynvml.NVMLError as err:
                log.debug("gpu=%s: processes: %s", index, err)
                continue
            for pid in {p.pid for p in running}:
                listed.add(pid)
                job = processes.job(pid)
                if job is not None:
                    jobs.setdefault((index, uuid), set()).add(job)
        processes.keep(listed)

    def _report(self, dropped: list[str]) -> None:
        problem = "; ".join(dropped[:5])
        if problem and problem != self._problem:
            log.warning("hpc job mapping: %s", problem)
        self._problem = problem
