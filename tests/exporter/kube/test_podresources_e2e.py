"""End to end: `inferwatch exporter --collector.kubelet-pod-resources --kubelet.pod-resources-socket
SOCK` as a subprocess on simulated GPUs, against the loopback kubelet (fake_kubelet.py): its
/metrics shows each allocated GPU with the GPU's index, and the collector goes down when the
kubelet goes away."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from inferwatch import catalog
from tests.exporter.kube.fake_kubelet import FakeKubelet, serve
from tests.support.procs import free_port

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[3]
GPU = "nvidia.com/gpu"
NAME = "kubelet_pod_resources"


async def _until(url: str, up: float, proc: asyncio.subprocess.Process,
                 timeout: float = 25.0) -> str:
    """Poll url until the collector's `up` is the one wanted, without blocking the loop (it
    serves the fake kubelet); fail with the exporter's stderr when it exits or the time is up."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    body = await resp.text()
                    if resp.status == 200 and _series(body, catalog.COLLECTOR_UP.name,
                                                      collector=NAME) == [({"collector": NAME},
                                                                           up)]:
                        return body
            except (aiohttp.ClientError, TimeoutError):
                pass
            if proc.returncode is not None:
                err = (await proc.stderr.read()).decode(errors="replace")
                pytest.fail(f"the exporter exited {proc.returncode}:\n{err[-3000:]}")
            await asyncio.sleep(0.2)
    pytest.fail(f"collector {NAME} not up={up} on {url} within {timeout}s")


def _series(body: str, name: str, **match: str) -> list[tuple[dict[str, str], float]]:
    return [(s.labels, s.value) for family in text_string_to_metric_families(body)
            for s in family.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in match.items())]


async def test_exporter_publishes_the_kubelets_allocations():
    folder = tempfile.mkdtemp(prefix="podres-", dir="/tmp")
    sock = f"{folder}/kubelet.sock"
    kubelet = FakeKubelet()
    uuid1 = "GPU-00000001-5eed-4a3e-9c1d-0000fa4e0001"  # the fake NVML's GPU 1
    kubelet.pods = [("llm", "idle-0", [("main", [(GPU, [uuid1])])])]
    kubelet.allocatable = [(GPU, [uuid1])]
    server = await serve(kubelet, sock)
    config = Path(folder) / "exporter.yml"  # the socket from the flag, a short interval here
    config.write_text("exporter:\n  collectors:\n    kubelet_pod_resources:\n"
                      "      interval: 1s\n")
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "inferwatch.cli", "exporter", "--config.file", str(config),
        "--simulate-gpus", "2",
        "--web.listen-address", f"127.0.0.1:{port}", "--no-collector.host",
        "--no-collector.engines", "--no-collector.gpu", "--collector.kubelet-pod-resources",
        "--kubelet.pod-resources-socket", sock, cwd=ROOT, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        body = await _until(url, 1.0, proc)
        assert _series(body, catalog.GPU_ALLOCATION_INFO.name) == [
            ({"gpu": "1", "uuid": uuid1, "namespace": "llm", "pod": "idle-0",
              "container": "main", "resource": GPU}, 1.0)]
        await server.stop(grace=None)
        body = await _until(url, 0.0, proc)
        assert _series(body, catalog.GPU_ALLOCATION_INFO.name) == []
    finally:
        if proc.returncode is None:
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        await server.stop(grace=None)
        shutil.rmtree(folder, ignore_errors=True)
