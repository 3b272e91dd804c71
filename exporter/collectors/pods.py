"""GPU-to-pod attribution: which pod's processes hold how much memory on which GPU.

Per GPU, NVML's compute and graphics processes (each PID once) are mapped to a pod UID and
container id through /proc/<pid>/cgroup (exporter.kube.procs, cached per PID and start
time), then to names through the PodDirectory kept by the pod watch. Published as join
metrics - per-pod memory, process and unmapped counts per GPU - never by copying the GPU's
own series per pod: `inferwatch_gpu_utilization_ratio * on(uuid) group_left(namespace, pod)
inferwatch_gpu_pod_memory_used_bytes` joins them at query time. Runs in the background
(blocking `collect()` in a worker thread), so a scrape never waits on NVML or procfs.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import pynvml
from prometheus_client.core import Metric

from inferwatch import catalog
from inferwatch.exporter.collectors.base import CollectorFailed
from inferwatch.exporter.kube.pods import PodDirectory
from inferwatch.exporter.kube.procs import ProcResolver

log = logging.getLogger(__name__)
_OPTIONAL = (pynvml.NVML_ERROR_NOT_SUPPORTED, pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
GpuKey = tuple[str, str]  # (gpu index, uuid)


class PodAttributionCollector:
    """The `pods` collector over `lib` (pynvml or FakeNVML) and a procfs mount."""

    name = "pods"

    def __init__(self, lib: Any, directory: PodDirectory | None, procfs: str = "/proc",
                 interval: float = 15.0, timeout: float = 10.0):
        self.lib = lib
        self.directory = directory
        self.resolver = ProcResolver(procfs)
        self.interval, self.timeout = interval, timeout
        self._initialized = False

    def collect(self) -> list[Metric]:
        """One attribution cycle over every GPU; a GPU whose reads fail is left out."""
        count = self._start()
        processes: dict[GpuKey, int] = {}
        unmapped: dict[GpuKey, int] = {}
        memory: Counter[tuple[str, ...]] = Counter()
        failed = 0
        for index in range(count):
            try:
                gpu, running = self._gpu(index)
            except pynvml.NVMLError as err:
                log.warning("gpu=%s: cannot list its processes: %s", index, err)
                failed += 1
                continue
            processes[gpu] = len(running)
            unmapped[gpu] = self._attribute(gpu, running, memory)
        self.resolver.end_cycle()
        if count and failed == count:
            self._shutdown()  # initialise again next cycle, as after a driver reload
            raise CollectorFailed(f"no GPU's processes could be listed ({failed} failed)")
        return _families(processes, unmapped, memory)

    def close(self) -> None:
        self._shutdown()

    def _start(self) -> int:
        try:
            if not self._initialized:
                self.lib.nvmlInit()
                self._initialized = True
            return int(self.lib.nvmlDeviceGetCount())
        except pynvml.NVMLError as err:
            self._shutdown()
            raise CollectorFailed(f"NVML unavailable: {err}") from err

    def _shutdown(self) -> None:
        if self._initialized:
            self._initialized = False
            try:
                self.lib.nvmlShutdown()
            except pynvml.NVMLError as err:
                log.debug("nvmlShutdown: %s", err)

    def _gpu(self, index: int) -> tuple[GpuKey, dict[int, int | None]]:
        """The GPU's labels and its processes: pid -> used bytes (None: not reported)."""
        handle = self.lib.nvmlDeviceGetHandleByIndex(index)
        uuid = self.lib.nvmlDeviceGetUUID(handle)
        uuid = uuid.decode() if isinstance(uuid, bytes) else str(uuid)
        running: dict[int, int | None] = {}
        listings = [self.lib.nvmlDeviceGetComputeRunningProcesses(handle)]
        try:
            listings.append(self.lib.nvmlDeviceGetGraphicsRunningProcesses(handle))
        except pynvml.NVMLError as err:
            if err.value not in _OPTIONAL:
                raise
        for proc in (p for listing in listings for p in listing):
            used = proc.usedGpuMemory
            known = running.get(proc.pid)
            running[proc.pid] = used if known is None else max(known, used or 0)
        return (str(index), uuid), running

    def _attribute(self, gpu: GpuKey, running: dict[int, int | None],
                   memory: Counter[tuple[str, ...]]) -> int:
        """Add each process's memory to its pod's container; the number left unmapped."""
        left = 0
        for pid, used in running.items():
            ref = self.resolver.resolve(pid)
            pod = self.directory.lookup(ref.pod_uid) if ref and self.directory else None
            if ref is None or pod is None:
                left += 1
                continue
            if used is not None:  # omit, don't zero: memory NVML did not report
                memory[(*gpu, pod.namespace, pod.pod, pod.container(ref.container_id))] += used
        return left


def _families(processes: dict[GpuKey, int], unmapped: dict[GpuKey, int],
              memory: Counter[tuple[str, ...]]) -> list[Metric]:
    count = catalog.GPU_PROCESSES.family()
    left = catalog.GPU_ATTRIBUTION_UNMAPPED.family()
    for gpu, n in processes.items():
        count.add_metric(list(gpu), float(n))
        left.add_metric(list(gpu), float(unmapped[gpu]))
    used = catalog.GPU_POD_MEMORY_USED.family()
    for labels, value in sorted(memory.items()):
        used.add_metric(list(labels), float(value))
    return [used, count, left]
