"""GPU-to-pod attribution: which pod's processes hold how much memory and SM time on which GPU.

Per GPU, NVML's compute and graphics processes (each PID once) are mapped to a pod UID and
container id through /proc/<pid>/cgroup (exporter.kube.procs, cached per PID and start
time), then to names through the PodDirectory kept by the pod watch. Published as join
metrics - per-pod memory and SM share, process and unmapped counts per GPU - never by copying
the GPU's own series per pod: `inferwatch_gpu_utilization_ratio * on(uuid) group_left(namespace,
pod) inferwatch_gpu_pod_memory_used_bytes` joins them at query time. Runs in the background
(blocking `collect()` in a worker thread), so a scrape never waits on NVML or procfs.

The SM share comes from nvmlDeviceGetProcessUtilization, asked for the samples newer than the
last one seen on that device (all of the driver's buffer on the first cycle): per process the
mean smUtil of its samples, summed per container. A process listed on the GPU without a sample
was idle (NVML samples busy processes only), so its container reads 0. A GPU in MIG mode is
asked through each MIG device's handle (labelled with the MIG device's UUID); where NVML does
not support it (MIG on current drivers, MPS clients) the series are left out.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import pynvml
from prometheus_client.core import Metric

from inferwatch import catalog
from inferwatch.exporter.collectors.base import CollectorFailed
from inferwatch.exporter.collectors.nvmlsession import NvmlSession, text
from inferwatch.exporter.kube.pods import PodDirectory
from inferwatch.exporter.kube.procs import ProcResolver

log = logging.getLogger(__name__)
_OPTIONAL = (pynvml.NVML_ERROR_NOT_SUPPORTED, pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
_EMPTY_MIG_SLOT = (pynvml.NVML_ERROR_NOT_FOUND, pynvml.NVML_ERROR_INVALID_ARGUMENT)
GpuKey = tuple[str, str]  # (gpu index, uuid)
PodKey = tuple[str, str, str]  # (namespace, pod, container)


class PodAttributionCollector:
    """The `pods` collector over `lib` (pynvml or FakeNVML) and a procfs mount."""

    name = "pods"

    def __init__(self, lib: Any, directory: PodDirectory | None, procfs: str = "/proc",
                 interval: float = 15.0, timeout: float = 10.0):
        self.lib = lib
        self.directory = directory
        self.resolver = ProcResolver(procfs)
        self.interval, self.timeout = interval, timeout
        self.nvml = NvmlSession(lib)
        self._last_sample: dict[str, int] = {}  # uuid -> newest process sample's timeStamp

    def collect(self) -> list[Metric]:
        """One attribution cycle over every GPU; a GPU whose reads fail is left out."""
        count = self._start()
        processes: dict[GpuKey, int] = {}
        unmapped: dict[GpuKey, int] = {}
        memory: Counter[tuple[str, ...]] = Counter()
        sm: dict[tuple[str, ...], float] = {}
        failed = 0
        for index in range(count):
            try:
                gpu, running, handle = self._gpu(index)
            except pynvml.NVMLError as err:
                log.warning("gpu=%s: cannot list its processes: %s", index, err)
                failed += 1
                continue
            pods = {pid: self._pod(pid) for pid in running}
            processes[gpu] = len(running)
            unmapped[gpu] = self._attribute(gpu, running, pods, memory)
            self._utilization(gpu, handle, pods, sm)
        self.resolver.end_cycle()
        if count and failed == count:
            self.nvml.close()  # initialise again next cycle, as after a driver reload
            raise CollectorFailed(f"no GPU's processes could be listed ({failed} failed)")
        return _families(processes, unmapped, memory, sm)

    def close(self) -> None:
        self.nvml.close()

    def _start(self) -> int:
        try:
            self.nvml.start()
            return int(self.lib.nvmlDeviceGetCount())
        except pynvml.NVMLError as err:
            self.nvml.close()
            raise CollectorFailed(f"NVML unavailable: {err}") from err

    def _gpu(self, index: int) -> tuple[GpuKey, dict[int, int | None], Any]:
        """The GPU's labels, its processes (pid -> used bytes, None: not reported), handle."""
        handle = self.lib.nvmlDeviceGetHandleByIndex(index)
        uuid = self.lib.nvmlDeviceGetUUID(handle)
        uuid = text(uuid)
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
        return (str(index), uuid), running, handle

    def _pod(self, pid: int) -> PodKey | None:
        """The container a PID runs in, None for host processes and pods not known yet."""
        ref = self.resolver.resolve(pid)
        pod = self.directory.lookup(ref.pod_uid) if ref and self.directory else None
        if ref is None or pod is None:
            return None
        return pod.namespace, pod.pod, pod.container(ref.container_id)

    def _attribute(self, gpu: GpuKey, running: dict[int, int | None],
                   pods: dict[int, PodKey | None], memory: Counter[tuple[str, ...]]) -> int:
        """Add each process's memory to its pod's container; the number left unmapped."""
        left = 0
        for pid, used in running.items():
            if pods[pid] is None:
                left += 1
            elif used is not None:  # omit, don't zero: memory NVML did not report
                memory[(*gpu, *pods[pid])] += used
        return left

    def _utilization(self, gpu: GpuKey, handle: Any, pods: dict[int, PodKey | None],
                     sm: dict[tuple[str, ...], float]) -> None:
        """Each container's SM share on the GPU, or on each of its MIG devices."""
        samples = self._samples(gpu[1], handle)
        if samples is not None:
            for pid in pods.keys() | samples.keys():
                pod = pods[pid] if pid in pods else self._pod(pid)
                if pod is not None:
                    key = (*gpu, *pod)
                    sm[key] = sm.get(key, 0.0) + samples.get(pid, 0.0) / 100
            return
        for mig_uuid, mig in self._migs(handle):
            for pid, percent in (self._samples(mig_uuid, mig) or {}).items():
                pod = self._pod(pid)
                if pod is not None:
                    key = (gpu[0], mig_uuid, *pod)
                    sm[key] = sm.get(key, 0.0) + percent / 100

    def _samples(self, uuid: str, handle: Any) -> dict[int, float] | None:
        """pid -> mean smUtil (percent) of the samples since the last cycle's; {} when there
        is none (NOT_FOUND: all idle), None when the device cannot tell."""
        since = self._last_sample.get(uuid, 0)
        try:
            got = self.lib.nvmlDeviceGetProcessUtilization(handle, since)
        except pynvml.NVMLError as err:
            # NOT_FOUND: no sample since `since`; SUCCESS (raised by the binding when the
            # sizing call finds nothing to size) means the same
            if err.value in (pynvml.NVML_ERROR_NOT_FOUND, pynvml.NVML_SUCCESS):
                return {}
            if err.value not in _OPTIONAL:
                log.debug("uuid=%s: process utilization: %s", uuid, err)
            return None
        per_pid: dict[int, list[int]] = {}
        for sample in got:
            per_pid.setdefault(sample.pid, []).append(min(max(sample.smUtil, 0), 100))
        self._last_sample[uuid] = max((s.timeStamp for s in got), default=since)
        return {pid: sum(v) / len(v) for pid, v in per_pid.items()}

    def _migs(self, handle: Any) -> list[tuple[str, Any]]:
        """(uuid, handle) of each MIG device of a GPU in MIG mode; [] otherwise."""
        try:
            mode = self.lib.nvmlDeviceGetMigMode(handle)
            if not mode or mode[0] != pynvml.NVML_DEVICE_MIG_ENABLE:
                return []
            slots = int(self.lib.nvmlDeviceGetMaxMigDeviceCount(handle))
        except pynvml.NVMLError:
            return []
        found = []
        for slot in range(slots):
            try:
                mig = self.lib.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot)
                uuid = self.lib.nvmlDeviceGetUUID(mig)
            except pynvml.NVMLError as err:
                if err.value not in _EMPTY_MIG_SLOT:
                    log.debug("MIG slot %s: %s", slot, err)
                continue
            found.append((text(uuid), mig))
        return found


def _families(processes: dict[GpuKey, int], unmapped: dict[GpuKey, int],
              memory: Counter[tuple[str, ...]], sm: dict[tuple[str, ...], float]
              ) -> list[Metric]:
    count = catalog.GPU_PROCESSES.family()
    left = catalog.GPU_ATTRIBUTION_UNMAPPED.family()
    for gpu, n in processes.items():
        count.add_metric(list(gpu), float(n))
        left.add_metric(list(gpu), float(unmapped[gpu]))
    used = catalog.GPU_POD_MEMORY_USED.family()
    for labels, value in sorted(memory.items()):
        used.add_metric(list(labels), float(value))
    share = catalog.GPU_POD_UTILIZATION.family()
    for labels, value in sorted(sm.items()):
        share.add_metric(list(labels), min(value, 1.0))
    return [used, share, count, left]
