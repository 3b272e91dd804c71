"""Allocation from the kubelet's pod-resources API, against a real gRPC server on a Unix socket."""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest

from inferwatch import catalog
from inferwatch.exporter.collectors.base import CollectorFailed
from inferwatch.exporter.kube.allocation import AllocationCollector
from inferwatch.exporter.kube.podresources import PodResourcesClient
from inferwatch.exporter.loop import CollectorLoop
from inferwatch.simulate.nvml.fake import FakeNVML
from tests.exporter.kube.fake_kubelet import FakeKubelet, serve

GPU, MIG = "nvidia.com/gpu", "nvidia.com/mig-3g.40gb"


@pytest.fixture
def sock_dir():
    """A short folder for the socket (a Unix socket path has at most 107 bytes)."""
    path = tempfile.mkdtemp(prefix="podres-", dir="/tmp")
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def kubelet(sock_dir):
    fake = FakeKubelet()
    path = str(sock_dir / "kubelet.sock")
    server = await serve(fake, path)
    yield fake, path
    fake.release()
    await server.stop(grace=None)


def _samples(families) -> dict[str, set[tuple[str, ...]]]:
    out: dict[str, set[tuple[str, ...]]] = {}
    for family in families:
        for s in family.samples:
            assert s.value == 1.0
            out.setdefault(s.name, set()).add(tuple(s.labels.values()))
    return out


def _mig_uuids(nvml: FakeNVML) -> list[str]:
    """MIG UUIDs of GPU 0, read through the fake's own API."""
    nvml.nvmlInit()
    try:
        parent = nvml.nvmlDeviceGetHandleByIndex(0)
        return [nvml.nvmlDeviceGetUUID(nvml.nvmlDeviceGetMigDeviceHandleByIndex(parent, s))
                for s in (0, 1)]
    finally:
        nvml.nvmlShutdown()


async def test_every_allocated_device_busy_or_idle(kubelet):
    fake, path = kubelet
    nvml = FakeNVML(gpus=4, scenario="mig")  # GPU 0 split into two MIG devices
    u = [nvml.uuid(i) for i in range(4)]
    mig0, mig1 = _mig_uuids(nvml)
    fake.pods = [
        ("llm", "vllm-0", [("vllm", [(GPU, [u[1]])]), ("sidecar", [])]),
        ("llm", "idle-0", [("main", [(GPU, [u[2]]), ("example.com/fpga", ["fpga0"])])]),
        ("batch", "mig-0", [("job", [(MIG, [mig1])])]),
        # time-slicing replicas of one GPU fold onto it; an index id (device-id-strategy=index)
        ("shared", "a", [("w", [("nvidia.com/gpu.shared", [f"{u[3]}::0", f"{u[3]}::3"])])]),
        ("shared", "b", [("w", [(GPU, ["3"])])]),
        ("other", "unknown", [("x", [(GPU, ["GPU-not-on-this-node"])])]),
    ]
    fake.allocatable = [(GPU, u[1:]), (MIG, [mig0, mig1]), ("example.com/fpga", ["fpga0"])]
    collector = AllocationCollector(PodResourcesClient(path, deadline=5.0), nvml)
    try:
        got = _samples(await asyncio.to_thread(collector.collect))
    finally:
        collector.close()
    assert got[catalog.GPU_ALLOCATION_INFO.name] == {
        ("1", u[1], "llm", "vllm-0", "vllm", GPU),
        ("2", u[2], "llm", "idle-0", "main", GPU),  # no process anywhere: still attributed
        ("0", mig1, "batch", "mig-0", "job", MIG),
        ("3", u[3], "shared", "a", "w", "nvidia.com/gpu.shared"),
        ("3", u[3], "shared", "b", "w", GPU),
        ("", "GPU-not-on-this-node", "other", "unknown", "x", GPU),
    }
    assert got[catalog.GPU_ALLOCATABLE_INFO.name] == {
        ("1", u[1], GPU), ("2", u[2], GPU), ("3", u[3], GPU), ("0", mig0, MIG), ("0", mig1, MIG)}
    assert nvml._refcount == 0  # close() shut NVML down


async def test_without_nvml_the_gpu_label_is_empty(kubelet):
    fake, path = kubelet
    fake.pods = [("llm", "vllm-0", [("vllm", [(GPU, ["GPU-aaaa"])])])]
    fake.allocatable = None  # an old kubelet: UNIMPLEMENTED, asked once, family left out
    collector = AllocationCollector(PodResourcesClient(path))
    try:
        for _ in range(3):
            got = _samples(await asyncio.to_thread(collector.collect))
    finally:
        collector.close()
    assert got == {catalog.GPU_ALLOCATION_INFO.name: {("", "GPU-aaaa", "llm", "vllm-0", "vllm",
                                                        GPU)}}
    assert fake.calls == {"List": 3, "GetAllocatableResources": 1}


class _Other:
    """A healthy neighbour collector: it must stay up whatever the kubelet does."""

    name, interval, timeout = "other", 1.0, 1.0

    def collect(self):
        return [catalog.GPU_PROCESSES.family()]

    def close(self) -> None:
        pass


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "inferwatch.exporter.loop" and "kubelet_pod_resources" in r.getMessage()]


async def test_missing_socket_is_down_logged_once_then_recovers(sock_dir, caplog):
    caplog.set_level(logging.INFO, logger="inferwatch.exporter.loop")
    path = str(sock_dir / "kubelet.sock")
    collector = AllocationCollector(PodResourcesClient(path, deadline=2.0), timeout=3.0)
    other = _Other()
    loop = CollectorLoop([collector, other], dict)
    started = time.monotonic()
    for _ in range(3):
        await loop.run_once(collector)
        await loop.run_once(other)
    assert time.monotonic() - started < 3 * 2.0  # refused at once, not after the deadline
    assert not loop.states[collector.name].up and loop.states[other.name].up
    logged = _warnings(caplog)
    assert len(logged) == 1 and "UNAVAILABLE" in logged[0] and path in logged[0], logged
    fake = FakeKubelet()
    fake.pods = [("llm", "vllm-0", [("vllm", [(GPU, ["GPU-aaaa"])])])]
    server = await serve(fake, path)
    try:
        await loop.run_once(collector)  # a fresh channel: no reconnect backoff to wait out
    finally:
        await server.stop(grace=None)
        collector.close()
    assert loop.states[collector.name].up
    assert _warnings(caplog)[1:] == ["collector=kubelet_pod_resources recovered"]
    assert _samples(loop.states[collector.name].families) == {  # no allocatable device
        catalog.GPU_ALLOCATION_INFO.name: {("", "GPU-aaaa", "llm", "vllm-0", "vllm", GPU)}}


async def test_hung_kubelet_is_bounded_by_the_deadline(kubelet, caplog):
    caplog.set_level(logging.INFO, logger="inferwatch.exporter.loop")
    fake, path = kubelet
    fake.hang()
    collector = AllocationCollector(PodResourcesClient(path, deadline=0.5), timeout=2.0)
    other = _Other()
    loop = CollectorLoop([collector, other], dict)
    started = time.monotonic()
    try:
        await asyncio.gather(loop.run_once(collector), loop.run_once(other))
        await loop.run_once(collector)
        assert time.monotonic() - started < 2 * 2.0
        assert fake.hung.is_set()
        assert not loop.states[collector.name].up and loop.states[other.name].up
        logged = _warnings(caplog)
        assert len(logged) == 1 and "DEADLINE_EXCEEDED" in logged[0], logged
        fake.release()
        await loop.run_once(collector)
        assert loop.states[collector.name].up
    finally:
        collector.close()


async def test_a_socket_that_never_speaks_grpc(sock_dir):
    path = str(sock_dir / "kubelet.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen(8)  # connections queue in the backlog; nobody answers
        collector = AllocationCollector(PodResourcesClient(path, deadline=0.5))
        started = time.monotonic()
        try:
            with pytest.raises(CollectorFailed, match="DEADLINE_EXCEEDED"):
                await asyncio.to_thread(collector.collect)
        finally:
            collector.close()
        assert time.monotonic() - started < 2.0
