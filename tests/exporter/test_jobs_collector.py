"""HPC jobs per GPU: dcgm-exporter's mapping directory and Slurm cgroups, over the fake NVML."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from inferwatch import catalog
from inferwatch.exporter.collectors import jobs
from inferwatch.exporter.collectors.jobs import JobCollector, job_id, slurm_job
from inferwatch.exporter.config import ExporterConfig
from inferwatch.exporter.main import build_collectors
from inferwatch.simulate.nvml.fake import FakeNVML


def _series(collector: JobCollector) -> set[tuple[str, str, str]]:
    (family,) = collector.collect()
    assert family.name == catalog.GPU_JOB_INFO.name
    assert all(s.value == 1.0 for s in family.samples)
    return {(s.labels["gpu"], s.labels["uuid"], s.labels["hpc_job"]) for s in family.samples}


def _uuids(lib: FakeNVML) -> list[str]:
    lib.nvmlInit()
    try:
        return [lib.nvmlDeviceGetUUID(lib.nvmlDeviceGetHandleByIndex(i))
                for i in range(lib.nvmlDeviceGetCount())]
    finally:
        lib.nvmlShutdown()


@pytest.mark.parametrize(("cgroup", "job"), [
    ("4:devices:/slurm/uid_1000/job_4711/step_0/task_0\n", "4711"),  # v1
    ("7:cpuset:/slurm_node17/uid_1000/job_12/step_batch/task_0\n", "12"),  # v1, multiple slurmd
    ("0::/system.slice/slurmstepd.scope/job_90210/step_0/user/task_0\n", "90210"),  # v2
    ("0::/system.slice/node3_slurmstepd.scope/job_5/step_extern/slurm\n", "5"),  # v2, multi
    ("0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-ab.scope\n", None),
    ("0::/user.slice/job_77/x\n", None),  # a job_ directory outside Slurm's tree
    ("0::/system.slice/slurmstepd.scope/job_" + "9" * 30 + "/step_0\n", None),  # too long
])
def test_slurm_job_from_cgroup(cgroup: str, job: str | None) -> None:
    assert slurm_job(cgroup) == job


@pytest.mark.parametrize(("line", "job"), [
    ("45916256", "45916256"), ("45916256 262563", "45916256"), ("host-job-0\n", "host-job-0"),
    ("bad id; rm", "bad"), ("$(x)", None), ("x" * (jobs.MAX_ID + 1), None), ("  ", None)])
def test_job_id_of_a_mapping_line(line: str, job: str | None) -> None:
    assert job_id(line) == job


def test_mapping_directory_by_index_and_uuid(tmp_path: Path) -> None:
    lib = FakeNVML(gpus=3)
    uuids = _uuids(lib)
    (tmp_path / "0").write_text("101\n102 1000\n")
    (tmp_path / uuids[2]).write_text("303\n")
    (tmp_path / "7").write_text("999\n")  # no such GPU
    (tmp_path / "1").mkdir()  # a directory is not a mapping file
    got = _series(JobCollector(lib, str(tmp_path), procfs=None))
    assert got == {("0", uuids[0], "101"), ("0", uuids[0], "102"), ("2", uuids[2], "303")}


def _process(procfs: Path, pid: int, cgroup: str, started: int = 4242) -> None:
    """<procfs>/<pid>/{stat,cgroup}: a process started at `started` (field 22) in `cgroup`."""
    (procfs / str(pid)).mkdir(exist_ok=True)
    (procfs / str(pid) / "cgroup").write_text(cgroup)
    fields = ["S", *["1"] * 18, str(started), "0"]
    (procfs / str(pid) / "stat").write_text(f"{pid} (python3 x) {' '.join(fields)}\n")


def _job_cgroup(job: int) -> str:
    return f"0::/system.slice/slurmstepd.scope/job_{job}/step_0/user/task_0\n"


def test_jobs_from_slurm_cgroups_of_gpu_processes(tmp_path: Path) -> None:
    lib = FakeNVML(gpus=2)
    uuids = _uuids(lib)
    lib.set_processes(0, compute=[(501, 1 << 30), (502, 1 << 30)])
    lib.set_processes(1, compute=[(503, 1 << 30), (504, None)])
    for pid, text in {501: "0::/system.slice/slurmstepd.scope/job_11/step_0/user/task_0\n",
                      502: "4:cpuset:/slurm/uid_5/job_12/step_0/task_1\n",
                      503: "0::/system.slice/slurmstepd.scope/job_11/step_0/user/task_1\n",
                      504: "0::/system.slice/sshd.service\n"}.items():
        _process(tmp_path, pid, text)
    got = _series(JobCollector(lib, None, procfs=str(tmp_path)))
    assert got == {("0", uuids[0], "11"), ("0", uuids[0], "12"), ("1", uuids[1], "11")}


def test_a_process_cgroup_is_read_once_and_again_when_its_pid_is_reused(tmp_path: Path) -> None:
    lib = FakeNVML(gpus=1)
    uuid = _uuids(lib)[0]
    lib.set_processes(0, compute=[(601, 1 << 30), (602, 1 << 30)])
    _process(tmp_path, 601, _job_cgroup(21))
    _process(tmp_path, 602, "0::/system.slice/sshd.service\n")  # outside a job: cached too
    collector = JobCollector(lib, None, procfs=str(tmp_path))
    assert _series(collector) == {("0", uuid, "21")} and collector.processes.reads == 2
    _process(tmp_path, 601, _job_cgroup(99))  # same process (start time): not read again
    assert _series(collector) == {("0", uuid, "21")} and collector.processes.reads == 2
    _process(tmp_path, 601, _job_cgroup(99), started=5000)  # the PID, reused by a new process
    assert _series(collector) == {("0", uuid, "99")} and collector.processes.reads == 3


def test_a_vanished_pid_is_dropped_from_the_cache(tmp_path: Path) -> None:
    lib = FakeNVML(gpus=2)
    uuids = _uuids(lib)
    lib.set_processes(0, compute=[(701, 1 << 30)])
    lib.set_processes(1, compute=[(702, 1 << 30)])
    _process(tmp_path, 701, _job_cgroup(31))
    _process(tmp_path, 702, _job_cgroup(32))
    collector = JobCollector(lib, None, procfs=str(tmp_path))
    assert len(_series(collector)) == 2 and collector.processes.cached.keys() == {701, 702}
    lib.set_processes(1, compute=[])  # 702 left its GPU
    for name in ("stat", "cgroup"):  # 701 is gone while NVML still lists it
        (tmp_path / "701" / name).unlink()
    assert _series(collector) == set() and collector.processes.cached == {}
    _process(tmp_path, 701, _job_cgroup(33), started=9000)
    assert _series(collector) == {("0", uuids[0], "33")}


def test_the_cache_holds_at_most_its_bound(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(jobs, "MAX_CACHED", 3)
    lib = FakeNVML(gpus=1)
    uuid = _uuids(lib)[0]
    pids = range(801, 806)
    lib.set_processes(0, compute=[(pid, 1 << 30) for pid in pids])
    for pid in pids:
        _process(tmp_path, pid, _job_cgroup(pid))
    collector = JobCollector(lib, None, procfs=str(tmp_path))
    for cycle in range(1, 3):  # every job found each cycle, 3 processes cached at most
        assert _series(collector) == {("0", uuid, str(pid)) for pid in pids}
        assert len(collector.processes.cached) == 3
        assert collector.processes.reads == 5 * cycle  # over the bound: read every cycle


def test_hostile_mapping_input_is_bounded(tmp_path: Path, caplog, monkeypatch) -> None:
    lib = FakeNVML(gpus=2)
    monkeypatch.setattr(jobs, "MAX_FILE_BYTES", 1000)
    (tmp_path / "0").write_text("".join(f"{i}\n" for i in range(10_000)))  # 48 kB of ids
    (tmp_path / "1").write_text("ok\n$(reboot)\n" + "y" * 500 + "\n")
    with caplog.at_level(logging.WARNING):
        got = _series(JobCollector(lib, str(tmp_path), procfs=None))
    per_gpu = {g: sum(1 for s in got if s[0] == g) for g in ("0", "1")}
    assert per_gpu == {"0": jobs.MAX_JOBS_PER_GPU, "1": 1}
    assert "kept 64" in caplog.text and "no job id" in caplog.text


def test_missing_directory_is_logged_not_fatal(tmp_path: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        got = _series(JobCollector(FakeNVML(gpus=1), str(tmp_path / "absent"), procfs=None))
    assert got == set() and "mapping directory" in caplog.text


def test_wired_behind_its_flag(tmp_path: Path) -> None:
    off = ExporterConfig.model_validate({"simulate_gpus": 1})
    assert "jobs" not in {c.name for c in build_collectors(off)}
    on = ExporterConfig.model_validate({"simulate_gpus": 1, "collectors": {
        "jobs": {"enabled": True, "mapping_dir": str(tmp_path), "cgroups": False}}})
    (collector,) = [c for c in build_collectors(on) if c.name == "jobs"]
    assert collector.mapping_dir == tmp_path and collector.procfs is None
