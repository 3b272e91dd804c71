"""GPU-to-pod attribution over the fake NVML and a fake procfs tree."""

from __future__ import annotations

from pathlib import Path

import pynvml
import pytest

from inferwatch import catalog
from inferwatch.exporter.collectors.base import CollectorFailed
from inferwatch.exporter.collectors.pods import PodAttributionCollector
from inferwatch.exporter.kube.pods import PodDirectory
from inferwatch.simulate.nvml.fake import FakeNVML
from tests.support.kubeapi import pod

GIB = 1 << 30
UID_A, UID_B, UID_C, UID_LATE = (f"{i:08x}-3f6b-4d5b-84d5-a137a6668011" for i in range(4))
CID_A, CID_A2, CID_B, CID_C = ("a" * 64, "b" * 64, "c" * 64, "d" * 64)


def _v2(uid: str, cid: str) -> str:
    return (f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
            f"{uid.replace('-', '_')}.slice/cri-containerd-{cid}.scope\n")


def _proc(procfs: Path, pid: int, cgroup: str, started: int = 1000) -> None:
    d = procfs / str(pid)
    d.mkdir(parents=True, exist_ok=True)
    (d / "stat").write_text(f"{pid} (python3) S 1 {pid} {pid} 0 -1 4194560 1 0 0 0 5 3 0 0 "
                            f"20 0 12 0 {started} 1 2 3\n")
    (d / "cgroup").write_text(cgroup)


@pytest.fixture
def node(tmp_path: Path):
    """Two GPUs, two pods (A with two containers, B), a host process, a pod not yet known."""
    procfs = tmp_path / "proc"
    _proc(procfs, 101, _v2(UID_A, CID_A))
    _proc(procfs, 102, _v2(UID_A, CID_A2))
    _proc(procfs, 103, _v2(UID_A, CID_A))
    _proc(procfs, 201, f"0::/kubepods/besteffort/pod{UID_B}/{CID_B}\n")
    _proc(procfs, 202, f"0::/kubepods/besteffort/pod{UID_B}/{CID_B}\n")
    _proc(procfs, 300, "0::/system.slice/nvidia-persistenced.service\n")
    _proc(procfs, 400, _v2(UID_LATE, CID_C))
    directory = PodDirectory()
    directory.replace([
        pod("vllm-0", UID_A, containers={"vllm": f"containerd://{CID_A}",
                                         "sidecar": f"containerd://{CID_A2}"}),
        pod("tgi-0", UID_B, namespace="serve", containers={"tgi": f"containerd://{CID_B}"})])
    nvml = FakeNVML(gpus=2)
    nvml.set_processes(0, compute=[(101, 30 * GIB), (102, 2 * GIB), (300, 1 * GIB),
                                   (400, 3 * GIB), (999, 4 * GIB)],
                       graphics=[(101, 30 * GIB)])  # a PID in both lists counts once
    nvml.set_processes(1, compute=[(103, 5 * GIB), (201, 7 * GIB), (202, None)])
    collector = PodAttributionCollector(nvml, directory, procfs=str(procfs))
    yield nvml, directory, procfs, collector
    collector.close()


def _samples(families) -> dict[str, dict[tuple[str, ...], float]]:
    out: dict[str, dict[tuple[str, ...], float]] = {}
    for family in families:
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(s.labels.values())] = s.value
    return out


def test_sums_per_pod_container_and_counts(node):
    nvml, _directory, _procfs, collector = node
    got = _samples(collector.collect())
    g0, g1 = ("0", nvml.uuid(0)), ("1", nvml.uuid(1))
    assert got[catalog.GPU_POD_MEMORY_USED.name] == {
        (*g0, "llm", "vllm-0", "vllm"): 30 * GIB,
        (*g0, "llm", "vllm-0", "sidecar"): 2 * GIB,
        (*g1, "llm", "vllm-0", "vllm"): 5 * GIB,
        (*g1, "serve", "tgi-0", "tgi"): 7 * GIB,  # 202's memory not reported: omitted
    }
    assert got[catalog.GPU_PROCESSES.name] == {g0: 5, g1: 3}
    # host process 300, pod 400 unknown to the API yet, PID 999 not in our procfs
    assert got[catalog.GPU_ATTRIBUTION_UNMAPPED.name] == {g0: 3, g1: 0}
    # join metrics only: no GPU device series is copied per pod
    assert set(got) == {catalog.GPU_POD_MEMORY_USED.name, catalog.GPU_PROCESSES.name,
                        catalog.GPU_ATTRIBUTION_UNMAPPED.name, catalog.GPU_POD_UTILIZATION.name}


def test_cache_per_pid_and_start_time_with_negative_entries(node):
    nvml, directory, procfs, collector = node
    collector.collect()
    reads = collector.resolver.reads
    assert reads == 7  # every readable PID once, the host process included
    collector.collect()
    assert collector.resolver.reads == reads  # positive and negative hits
    # the API catches up on pod 400: names come without reading its cgroup again
    directory.replace([pod("late", UID_LATE, containers={"x": f"containerd://{CID_C}"})])
    got = _samples(collector.collect())
    assert got[catalog.GPU_POD_MEMORY_USED.name] == {("0", nvml.uuid(0), "llm", "late", "x"):
                                                     3 * GIB}
    assert collector.resolver.reads == reads


def test_pid_reuse_is_looked_up_again(node):
    nvml, directory, procfs, collector = node
    collector.collect()
    reads = collector.resolver.reads
    _proc(procfs, 101, _v2(UID_C, CID_C), started=5000)  # PID 101 died and was reused
    directory.replace([pod("new-0", UID_C, namespace="batch",
                           containers={"job": f"containerd://{CID_C}"})])
    nvml.set_processes(0, compute=[(101, 9 * GIB)])
    got = _samples(collector.collect())
    assert got[catalog.GPU_POD_MEMORY_USED.name] == {
        ("0", nvml.uuid(0), "batch", "new-0", "job"): 9 * GIB}
    assert collector.resolver.reads == reads + 1


def test_idle_gpus_report_zero_and_entries_are_dropped(node):
    nvml, _directory, _procfs, collector = node
    collector.collect()
    nvml.set_processes(0)
    nvml.set_processes(1)
    got = _samples(collector.collect())
    assert catalog.GPU_POD_MEMORY_USED.name not in got
    assert set(got[catalog.GPU_PROCESSES.name].values()) == {0}
    assert set(got[catalog.GPU_ATTRIBUTION_UNMAPPED.name].values()) == {0}
    assert collector.resolver._cache == {}


def test_without_a_directory_everything_is_unmapped(node):
    nvml, _directory, procfs, _collector = node
    collector = PodAttributionCollector(nvml, None, procfs=str(procfs))
    got = _samples(collector.collect())
    assert got[catalog.GPU_ATTRIBUTION_UNMAPPED.name] == {("0", nvml.uuid(0)): 5,
                                                         ("1", nvml.uuid(1)): 3}
    collector.close()


def test_nvml_trouble_on_one_gpu_and_on_all(node):
    nvml, _directory, _procfs, collector = node
    nvml.fail(None, "nvmlDeviceGetGraphicsRunningProcesses", pynvml.NVML_ERROR_NOT_SUPPORTED)
    nvml.fail(0, "nvmlDeviceGetComputeRunningProcesses", pynvml.NVML_ERROR_UNKNOWN)
    got = _samples(collector.collect())
    assert set(got[catalog.GPU_PROCESSES.name]) == {("1", nvml.uuid(1))}
    nvml.lose(1)
    with pytest.raises(CollectorFailed, match="no GPU's processes"):
        collector.collect()
    nvml.clear()
    assert _samples(collector.collect())[catalog.GPU_PROCESSES.name][("0", nvml.uuid(0))] == 5


def test_init_failure_is_a_failed_run(tmp_path):
    nvml = FakeNVML(gpus=1, scenario="init-failure", init_failures=1)
    collector = PodAttributionCollector(nvml, PodDirectory(), procfs=str(tmp_path))
    with pytest.raises(CollectorFailed, match="NVML unavailable"):
        collector.collect()
    nvml.set_processes(0)
    assert _samples(collector.collect())[catalog.GPU_PROCESSES.name] == {("0", nvml.uuid(0)): 0}
    collector.close()
