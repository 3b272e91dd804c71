"""The `kubelet_pod_resources` collector: which container each GPU and MIG device is allocated to.

From the kubelet's pod-resources API (exporter.kube.podresources), so a GPU allocated to an idle
pod is attributed too, and no hostPID is needed. Device ids are GPU or MIG UUIDs; the NVIDIA
device plugin's shared replicas (`<uuid>::<n>`, time-slicing and MPS) are folded onto their
device, and its `--device-id-strategy=index` ids (`0`, MIG `0:1`) are turned into UUIDs through
NVML. The `gpu` label (the GPU's index; a MIG device's parent GPU) comes from NVML too, and is
empty where NVML is unavailable. Only resources of the `nvidia.com/` vendor are published.
"""

from __future__ import annotations

import logging
from typing import Any

import pynvml
from prometheus_client.core import Metric

from inferwatch import catalog
from inferwatch.exporter.collectors.base import CollectorFailed
from inferwatch.exporter.collectors.nvmlsession import NvmlSession, text
from inferwatch.exporter.kube.podresources import PodResourcesClient, PodResourcesError

log = logging.getLogger(__name__)
VENDOR = "nvidia.com/"
_REPLICA = "::"
_EMPTY_MIG_SLOT = (pynvml.NVML_ERROR_NOT_FOUND, pynvml.NVML_ERROR_INVALID_ARGUMENT)


class GpuIndex:
    """GPU and MIG UUIDs to their GPU's index, and plugin index ids to UUIDs, read from NVML
    when a UUID is not known yet (at most once a cycle)."""

    def __init__(self, lib: Any | None):
        self.lib = lib
        self.by_uuid: dict[str, str] = {}  # uuid -> gpu index
        self.by_id: dict[str, str] = {}  # "0" / "0:1" -> uuid
        self.nvml = NvmlSession(lib)

    def refresh(self) -> None:
        """Enumerate the GPUs and their MIG devices; on an NVML error keep what was known."""
        if self.lib is None:
            return
        try:
            self.nvml.start()
            by_uuid, by_id = {}, {}
            for index in range(int(self.lib.nvmlDeviceGetCount())):
                handle = self.lib.nvmlDeviceGetHandleByIndex(index)
                uuid = text(self.lib.nvmlDeviceGetUUID(handle))
                by_uuid[uuid], by_id[str(index)] = str(index), uuid
                for slot, mig in self._migs(handle):
                    by_uuid[mig], by_id[f"{index}:{slot}"] = str(index), mig
        except pynvml.NVMLError as err:
            log.debug("NVML, to map device ids to GPU indexes: %s", err)
            self.close()
            return
        self.by_uuid, self.by_id = by_uuid, by_id

    def _migs(self, handle: Any) -> list[tuple[int, str]]:
        try:
            mode = self.lib.nvmlDeviceGetMigMode(handle)
        except pynvml.NVMLError:
            return []  # not MIG-capable
        if not mode or mode[0] != pynvml.NVML_DEVICE_MIG_ENABLE:
            return []
        found = []
        for slot in range(int(self.lib.nvmlDeviceGetMaxMigDeviceCount(handle))):
            try:
                mig = self.lib.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot)
            except pynvml.NVMLError as err:
                if err.value in _EMPTY_MIG_SLOT:
                    continue
                raise
            found.append((slot, text(self.lib.nvmlDeviceGetUUID(mig))))
        return found

    def close(self) -> None:
        self.nvml.close()


def device_uuid(device_id: str, index: GpuIndex) -> str:
    """The device a plugin id names: replicas folded, index ids turned into UUIDs."""
    base = device_id.split(_REPLICA, 1)[0].strip()
    return index.by_id.get(base, base)


class AllocationCollector:
    """`inferwatch_gpu_allocation_info` (and `..._allocatable_info`) from the kubelet."""

    name = "kubelet_pod_resources"

    def __init__(self, client: PodResourcesClient, lib: Any | None = None,
                 interval: float = 15.0, timeout: float = 5.0):
        self.client = client
        self.index = GpuIndex(lib)
        self.interval, self.timeout = interval, timeout

    def collect(self) -> list[Metric]:
        try:
            allocations, allocatable = self.client.fetch()
        except PodResourcesError as err:
            raise CollectorFailed(f"kubelet pod-resources {err}") from None
        ids = [a.device_id for a in allocations if a.resource.startswith(VENDOR)]
        ids += [a.device_id for a in allocatable or () if a.resource.startswith(VENDOR)]
        if any(device_uuid(i, self.index) not in self.index.by_uuid for i in ids):
            self.index.refresh()
        allocated = catalog.GPU_ALLOCATION_INFO.family()
        rows = {(self._gpu(a.device_id), a.namespace, a.pod, a.container, a.resource)
                for a in allocations if a.resource.startswith(VENDOR)}
        for (gpu, uuid), namespace, pod, container, resource in sorted(rows):
            allocated.add_metric([gpu, uuid, namespace, pod, container, resource], 1.0)
        families = [allocated]
        if allocatable is not None:
            offered = catalog.GPU_ALLOCATABLE_INFO.family()
            for (gpu, uuid), resource in sorted({(self._gpu(a.device_id), a.resource)
                                                 for a in allocatable
                                                 if a.resource.startswith(VENDOR)}):
                offered.add_metric([gpu, uuid, resource], 1.0)
            families.append(offered)
        return families

    def _gpu(self, device_id: str) -> tuple[str, str]:
        uuid = device_uuid(device_id, self.index)
        return self.index.by_uuid.get(uuid, ""), uuid

    def close(self) -> None:
        self.client.close()
        self.index.close()
