"""Per-pod SM share on shared GPUs (nvmlDeviceGetProcessUtilization) over the fake NVML's
"shared" scenario: three pods time-slicing GPU 0, mapped through a fake procfs tree."""

from __future__ import annotations

import inspect
from pathlib import Path

import pynvml
import pytest

from inferwatch import catalog
from inferwatch.exporter.collectors.pods import PodAttributionCollector
from inferwatch.exporter.kube.pods import PodDirectory
from inferwatch.simulate.nvml.fake import FakeNVML
from inferwatch.simulate.nvml.scenarios import SHARED
from tests.support.kubeapi import pod

PODS = [(f"{i:08x}-aaaa-4bbb-8ccc-0123456789ab", f"{c}" * 64, name)
        for i, c, name in ((1, "a", "vllm-0"), (2, "b", "vllm-1"), (3, "c", "embed-0"))]
UTIL = "inferwatch_gpu_pod_utilization_ratio"


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def shared_gpu_node(procfs: Path, nvml: FakeNVML) -> PodAttributionCollector:
    """Three pods, one per process of SHARED (the scenario's processes on GPU 0)."""
    for (pid, _used), (uid, cid, _name) in zip(SHARED, PODS, strict=True):
        d = procfs / str(pid)
        d.mkdir(parents=True)
        (d / "stat").write_text(f"{pid} (python3) S 1 {pid} {pid} 0 -1 4194560 1 0 0 0 5 3 0 0 "
                                "20 0 12 0 1000 1 2 3\n")
        (d / "cgroup").write_text(f"0::/kubepods/burstable/pod{uid}/{cid}\n")
    directory = PodDirectory()
    directory.replace([pod(name, uid, namespace="serve", containers={"main": f"containerd://{cid}"})
                       for uid, cid, name in PODS])
    return PodAttributionCollector(nvml, directory, procfs=str(procfs))


@pytest.fixture
def node(tmp_path):
    clock = Clock()
    nvml = FakeNVML(gpus=2, scenario="shared", clock=clock)
    nvml.set(0, utilization_gpu=90)
    collector = shared_gpu_node(tmp_path / "proc", nvml)
    yield nvml, clock, collector
    collector.close()


def _util(families) -> dict[tuple[str, ...], float]:
    return {tuple(s.labels.values()): s.value for f in families for s in f.samples
            if s.name == UTIL}


def _expected(nvml: FakeNVML, gpu_util: int) -> dict[tuple[str, ...], float]:
    """The fake splits the GPU's SM time by the processes' memory, in whole percent."""
    total = sum(used for _pid, used in SHARED)
    return {("0", nvml.uuid(0), "serve", name, "main"): round(gpu_util * used / total) / 100
            for (_pid, used), (_uid, _cid, name) in zip(SHARED, PODS, strict=True)}


def test_three_pods_share_one_gpu(node):
    nvml, _clock, collector = node
    got = _util(collector.collect())
    assert got == _expected(nvml, 90)
    assert got[("0", nvml.uuid(0), "serve", "vllm-0", "main")] == 0.51  # 4/7 of 90%
    assert sum(got.values()) <= 0.9 + 1e-9
    # GPU 1's only process (pid 4001) is no pod's: no series for it, none copied per GPU
    assert all(labels[0] == "0" for labels in got)


def test_each_cycle_reads_the_samples_since_the_last(node):
    nvml, clock, collector = node
    collector.collect()
    # nothing newer than the last sample seen: NOT_FOUND, every listed process was idle
    assert set(_util(collector.collect()).values()) == {0.0}
    clock.t += 1.0
    nvml.set(0, utilization_gpu=70)
    assert _util(collector.collect()) == _expected(nvml, 70)


def test_idle_processes_read_zero(node):
    nvml, _clock, collector = node
    nvml.set(0, utilization_gpu=0)  # no busy process: NVML has no sample at all
    got = _util(collector.collect())
    assert got == {k: 0.0 for k in _expected(nvml, 90)}


@pytest.mark.parametrize("code", [pynvml.NVML_ERROR_NOT_FOUND, pynvml.NVML_SUCCESS])
def test_no_sample_at_all_reads_zero(node, code):
    nvml, _clock, collector = node
    nvml.fail(0, "nvmlDeviceGetProcessUtilization", code)
    assert _util(collector.collect()) == {k: 0.0 for k in _expected(nvml, 90)}


@pytest.mark.parametrize("code", [pynvml.NVML_ERROR_NOT_SUPPORTED,
                                  pynvml.NVML_ERROR_FUNCTION_NOT_FOUND,
                                  pynvml.NVML_ERROR_UNKNOWN])
def test_without_samples_the_series_are_omitted_and_memory_stays(node, code):
    nvml, _clock, collector = node
    nvml.fail(0, "nvmlDeviceGetProcessUtilization", code)
    families = collector.collect()
    assert _util(families) == {}
    memory = [s for f in families for s in f.samples
              if s.name == catalog.GPU_POD_MEMORY_USED.name]
    assert len(memory) == 3


def test_mig_gpus_are_asked_through_their_mig_handles(tmp_path):
    nvml = FakeNVML(gpus=1, scenario="mig")  # parent and MIG devices: NOT_SUPPORTED
    nvml.set_processes(0, compute=list(SHARED))
    collector = shared_gpu_node(tmp_path / "proc", nvml)
    assert _util(collector.collect()) == {}
    assert nvml.calls["nvmlDeviceGetMigDeviceHandleByIndex"] > 0
    collector.close()


class MigSamples(FakeNVML):
    """A driver that samples inside MIG devices: two samples of pid 5001 on MIG slot 0, one
    of 5002 on slot 1 (the fake's own devices and UUIDs otherwise)."""

    def nvmlDeviceGetProcessUtilization(self, handle, timeStamp):
        gpu, mig = self._resolve(handle)
        self._enter("nvmlDeviceGetProcessUtilization", gpu)
        if mig is None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        sample = pynvml.c_nvmlProcessUtilizationSample_t
        if mig.slot == 0:
            return [sample(pid=5001, timeStamp=10, smUtil=20), sample(5001, 20, 40)]
        return [sample(pid=5002, timeStamp=15, smUtil=55)]


def test_mig_device_samples_are_labelled_with_the_mig_uuid(tmp_path):
    nvml = MigSamples(gpus=1, scenario="mig")
    nvml.set_processes(0, compute=list(SHARED))
    collector = shared_gpu_node(tmp_path / "proc", nvml)
    nvml.nvmlInit()
    parent = nvml.nvmlDeviceGetHandleByIndex(0)
    migs = [nvml.nvmlDeviceGetUUID(nvml.nvmlDeviceGetMigDeviceHandleByIndex(parent, s))
            for s in (0, 1)]
    nvml.nvmlShutdown()
    assert _util(collector.collect()) == {("0", migs[0], "serve", "vllm-0", "main"): 0.30,
                                          ("0", migs[1], "serve", "vllm-1", "main"): 0.55}
    collector.close()


def test_the_fake_mirrors_the_bindings_function():
    real = inspect.signature(pynvml.nvmlDeviceGetProcessUtilization).parameters
    fake_fn = FakeNVML(1).nvmlDeviceGetProcessUtilization
    assert list(inspect.signature(fake_fn).parameters) == list(real) == ["handle", "timeStamp"]
    source = inspect.getsource(pynvml.nvmlDeviceGetProcessUtilization)
    assert "c_nvmlProcessUtilizationSample_t" in source and "c_samples[0:" in source
    nvml = FakeNVML(1, "shared")
    nvml.nvmlInit()
    got = nvml.nvmlDeviceGetProcessUtilization(nvml.nvmlDeviceGetHandleByIndex(0), 0)
    assert type(got) is list
    assert {type(s) for s in got} == {pynvml.c_nvmlProcessUtilizationSample_t}
    assert [s.pid for s in got] == [pid for pid, _used in SHARED]
    with pytest.raises(pynvml.NVMLError_NotFound):
        nvml.nvmlDeviceGetProcessUtilization(nvml.nvmlDeviceGetHandleByIndex(0),
                                             got[0].timeStamp)
    nvml.nvmlShutdown()
