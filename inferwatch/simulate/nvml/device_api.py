"""The device queries of the fake NVML: identity, utilisation, memory, thermal, power,
clocks, field values, health, interconnect, MIG and processes, as nvidia-ml-py names them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pynvml

from inferwatch.simulate.nvml.hardware import (
    FIELDS,
    MAX_CLOCKS,
    MAX_MIG,
    MEMORY_RESERVED,
    MEMORY_TOTAL,
    MIB,
    NA,
    NAME,
    NVLINK_PER_LINK,
    THRESHOLDS,
    UINT,
    Gpu,
    Handle,
    nvml_error,
)

SAMPLE_EPOCH_US = 1_750_000_000_000_000  # the CPU clock (µs) of process samples at the start


class DeviceQueries:
    """A mixin of FakeNVML: every method resolves its handle through FakeNVML._dev."""

    # --- identity -----------------------------------------------------------------------------
    def nvmlDeviceGetHandleByIndex(self, index: int) -> Handle:
        if not 0 <= index < len(self._gpus):
            self._enter("nvmlDeviceGetHandleByIndex")
            raise nvml_error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        gpu = self._gpus[index]
        self._enter("nvmlDeviceGetHandleByIndex", gpu)
        return self._handle(gpu.address)

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> Handle:
        gpu = next((g for g in self._gpus if g.uuid == uuid), None)
        self._enter("nvmlDeviceGetHandleByUUID", gpu)
        if gpu is None:
            raise nvml_error(pynvml.NVML_ERROR_NOT_FOUND)
        return self._handle(gpu.address)

    def nvmlDeviceGetIndex(self, handle: Handle) -> int:
        return self._dev("nvmlDeviceGetIndex", handle)[0].index

    def nvmlDeviceGetUUID(self, handle: Handle) -> str:
        gpu, mig = self._dev("nvmlDeviceGetUUID", handle, mig_ok=True)
        if mig is None:
            return gpu.uuid
        return f"MIG-{gpu.index:08x}-{mig.slot:04x}-4000-8000-00000000{mig.gpu_instance:04x}"

    def nvmlDeviceGetName(self, handle: Handle) -> str:
        _, mig = self._dev("nvmlDeviceGetName", handle, mig_ok=True)
        return NAME if mig is None else f"{NAME} MIG {mig.profile}"

    def nvmlDeviceGetPciInfo_v3(self, handle: Handle) -> pynvml.nvmlPciInfo_t:
        gpu, _ = self._dev("nvmlDeviceGetPciInfo_v3", handle)
        bus = gpu.bus_id.encode()
        return pynvml.nvmlPciInfo_t(busIdLegacy=bus, domain=0, bus=0x18 + 0x10 * gpu.index,
                                    device=0, pciDeviceId=0x233010DE,
                                    pciSubSystemId=0x16C110DE, busId=bus)

    def nvmlDeviceGetPciInfo(self, handle: Handle) -> pynvml.nvmlPciInfo_t:
        return self.nvmlDeviceGetPciInfo_v3(handle)

    def nvmlDeviceGetMinorNumber(self, handle: Handle) -> int:
        return self._dev("nvmlDeviceGetMinorNumber", handle)[0].index

    def nvmlDeviceGetSerial(self, handle: Handle) -> str:
        return f"1650123{self._dev('nvmlDeviceGetSerial', handle)[0].index:06d}"

    def nvmlDeviceGetVbiosVersion(self, handle: Handle) -> str:
        self._dev("nvmlDeviceGetVbiosVersion", handle)
        return "96.00.99.00.01"

    def nvmlDeviceGetCudaComputeCapability(self, handle: Handle) -> tuple[int, int]:
        self._dev("nvmlDeviceGetCudaComputeCapability", handle)
        return (9, 0)

    def nvmlDeviceGetMigMode(self, device: Handle) -> list[int]:
        gpu, _ = self._dev("nvmlDeviceGetMigMode", device)
        mode = pynvml.NVML_DEVICE_MIG_ENABLE if gpu.mig else pynvml.NVML_DEVICE_MIG_DISABLE
        return [mode, mode]

    # --- utilisation, memory, thermal, power, clocks --------------------------------------------
    def nvmlDeviceGetUtilizationRates(self, handle: Handle) -> pynvml.c_nvmlUtilization_t:
        gpu, _ = self._dev("nvmlDeviceGetUtilizationRates", handle)
        if gpu.mig:  # not available on a GPU in MIG mode
            raise nvml_error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        r = self.readings(gpu.index)
        return pynvml.c_nvmlUtilization_t(gpu=r["utilization_gpu"],
                                          memory=r["utilization_memory"])

    def nvmlDeviceGetEncoderUtilization(self, handle: Handle) -> list[int]:
        return [self._read("nvmlDeviceGetEncoderUtilization", handle, "encoder"), 167000]

    def nvmlDeviceGetDecoderUtilization(self, handle: Handle) -> list[int]:
        return [self._read("nvmlDeviceGetDecoderUtilization", handle, "decoder"), 167000]

    def nvmlDeviceGetMemoryInfo(self, handle: Handle, version: int | None = None) -> Any:
        symbol = "nvmlDeviceGetMemoryInfo_v2" if version else None
        gpu, mig = self._dev("nvmlDeviceGetMemoryInfo", handle, symbol, mig_ok=True)
        if version and version != pynvml.nvmlMemory_v2:
            raise nvml_error(pynvml.NVML_ERROR_ARGUMENT_VERSION_MISMATCH)
        used = self.readings(gpu.index)["memory_used"]
        total, reserved = MEMORY_TOTAL, MEMORY_RESERVED
        if mig is not None:
            total, reserved = mig.total, 16 * MIB
            used = int(used * mig.total / MEMORY_TOTAL) // MIB * MIB
        if not version:  # v1: `used` includes what the driver reserved
            return pynvml.c_nvmlMemory_t(total=total, free=total - reserved - used,
                                         used=used + reserved)
        return pynvml.c_nvmlMemory_v2_t(version=version, total=total, reserved=reserved,
                                        free=total - reserved - used, used=used)

    def nvmlDeviceGetTemperatureV(self, handle: Handle, sensor: int,
                                  version: int = pynvml.nvmlTemperature_v1) -> int:
        gpu, _ = self._dev("nvmlDeviceGetTemperatureV", handle)
        if version != pynvml.nvmlTemperature_v1:
            raise nvml_error(pynvml.NVML_ERROR_ARGUMENT_VERSION_MISMATCH)
        return self._temperature(gpu, sensor)

    def nvmlDeviceGetTemperature(self, handle: Handle, sensor: int) -> int:
        return self._temperature(self._dev("nvmlDeviceGetTemperature", handle)[0], sensor)

    def _temperature(self, gpu: Gpu, sensor: int) -> int:
        if sensor != pynvml.NVML_TEMPERATURE_GPU:
            raise nvml_error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return self.readings(gpu.index)["temperature"]

    def nvmlDeviceGetTemperatureThreshold(self, handle: Handle, threshold: int) -> int:
        self._dev("nvmlDeviceGetTemperatureThreshold", handle)
        if threshold not in THRESHOLDS:
            raise nvml_error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return THRESHOLDS[threshold]

    def nvmlDeviceGetPowerUsage(self, handle: Handle) -> int:
        return self._read("nvmlDeviceGetPowerUsage", handle, "power_mw")

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: Handle) -> int:
        return self._read("nvmlDeviceGetEnforcedPowerLimit", handle, "power_limit_mw")

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: Handle) -> int:
        return self._read("nvmlDeviceGetTotalEnergyConsumption", handle, "energy_mj")

    def nvmlDeviceGetPerformanceState(self, handle: Handle) -> int:
        return self._read("nvmlDeviceGetPerformanceState", handle, "pstate")

    def nvmlDeviceGetClockInfo(self, handle: Handle, type: int) -> int:
        gpu, _ = self._dev("nvmlDeviceGetClockInfo", handle)
        keys = {pynvml.NVML_CLOCK_GRAPHICS: "clock_graphics", pynvml.NVML_CLOCK_SM: "clock_sm",
                pynvml.NVML_CLOCK_MEM: "clock_mem", pynvml.NVML_CLOCK_VIDEO: "clock_video"}
        if type not in keys:
            raise nvml_error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return self.readings(gpu.index)[keys[type]]

    def nvmlDeviceGetMaxClockInfo(self, handle: Handle, type: int) -> int:
        self._dev("nvmlDeviceGetMaxClockInfo", handle)
        if type not in MAX_CLOCKS:
            raise nvml_error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return MAX_CLOCKS[type]

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: Handle) -> int:
        return self._read("nvmlDeviceGetCurrentClocksEventReasons", handle, "clock_reasons")

    # --- field values, health, interconnect ----------------------------------------------------
    def nvmlDeviceGetFieldValues(self, handle: Handle, fieldIds: Sequence[Any]) -> Any:
        gpu, _ = self._dev("nvmlDeviceGetFieldValues", handle)
        r = self.readings(gpu.index)
        r["nvlink_errors_total"] = r["nvlink_errors"] * r["nvlink_active"]
        values = (pynvml.c_nvmlFieldValue_t * len(fieldIds))()
        stamp = int((self._clock() - self._t0) * 1e6)
        for slot, field_id in zip(values, fieldIds, strict=True):
            fid, scope = field_id if isinstance(field_id, tuple) else (field_id, 0)
            slot.fieldId, slot.scopeId, slot.timestamp = fid, scope, stamp
            known = FIELDS.get(fid)
            code = self._field_faults.get((gpu.index, fid), pynvml.NVML_SUCCESS)
            if known is None or (fid in NVLINK_PER_LINK and scope >= r["nvlink_links"]):
                code = code or pynvml.NVML_ERROR_NOT_SUPPORTED
            slot.nvmlReturn = code
            if code == pynvml.NVML_SUCCESS and known is not None:
                slot.valueType = known[0]
                setattr(slot.value, "uiVal" if known[0] == UINT else "ullVal", r[known[1]])
        return values

    def nvmlDeviceGetTotalEccErrors(self, handle: Handle, errorType: int,
                                    counterType: int) -> int:
        gpu, _ = self._dev("nvmlDeviceGetTotalEccErrors", handle)
        key = ("ecc_corrected" if errorType == pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED
               else "ecc_uncorrected")
        return self.readings(gpu.index)[key]

    def nvmlDeviceGetRemappedRows(self, device: Handle) -> tuple[int, int, int, int]:
        gpu, _ = self._dev("nvmlDeviceGetRemappedRows", device)
        r = self.readings(gpu.index)
        return (r["remapped_correctable"], r["remapped_uncorrectable"], r["remap_pending"],
                r["remap_failed"])

    def nvmlDeviceGetPcieReplayCounter(self, handle: Handle) -> int:
        return self._read("nvmlDeviceGetPcieReplayCounter", handle, "pcie_replays")

    def nvmlDeviceGetCurrPcieLinkGeneration(self, handle: Handle) -> int:
        return self._read("nvmlDeviceGetCurrPcieLinkGeneration", handle, "pcie_generation")

    def nvmlDeviceGetCurrPcieLinkWidth(self, handle: Handle) -> int:
        return self._read("nvmlDeviceGetCurrPcieLinkWidth", handle, "pcie_width")

    def nvmlDeviceGetNvLinkState(self, device: Handle, link: int) -> int:
        gpu, _ = self._dev("nvmlDeviceGetNvLinkState", device)
        r = self.readings(gpu.index)
        if not 0 <= link < r["nvlink_links"]:
            raise nvml_error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return int(link < r["nvlink_active"])

    def nvmlDeviceGetNvLinkErrorCounter(self, device: Handle, link: int, counter: int) -> int:
        gpu, _ = self._dev("nvmlDeviceGetNvLinkErrorCounter", device)
        if not 0 <= link < self.readings(gpu.index)["nvlink_links"]:
            raise nvml_error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return self.readings(gpu.index)["nvlink_errors"]

    # --- MIG and processes ----------------------------------------------------------------------
    def nvmlDeviceGetMaxMigDeviceCount(self, device: Handle) -> int:
        self._dev("nvmlDeviceGetMaxMigDeviceCount", device)
        return MAX_MIG

    def nvmlDeviceGetMigDeviceHandleByIndex(self, device: Handle, index: int) -> Handle:
        gpu, _ = self._dev("nvmlDeviceGetMigDeviceHandleByIndex", device)
        if not gpu.mig or not 0 <= index < MAX_MIG:
            raise nvml_error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        if all(m.slot != index for m in gpu.mig):
            raise nvml_error(pynvml.NVML_ERROR_NOT_FOUND)
        return self._handle(gpu.address + 0x100 * (index + 1))

    def nvmlDeviceGetDeviceHandleFromMigDeviceHandle(self, migDevice: Handle) -> Handle:
        gpu, _ = self._dev("nvmlDeviceGetDeviceHandleFromMigDeviceHandle", migDevice, mig_ok=True)
        return self._handle(gpu.address)

    def nvmlDeviceGetGpuInstanceId(self, device: Handle) -> int:
        _, mig = self._dev("nvmlDeviceGetGpuInstanceId", device, mig_ok=True)
        if mig is None:
            raise nvml_error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return mig.gpu_instance

    def nvmlDeviceGetComputeRunningProcesses(self, handle: Handle) -> list[Any]:
        return self._processes("nvmlDeviceGetComputeRunningProcesses", handle)

    def nvmlDeviceGetComputeRunningProcesses_v3(self, handle: Handle) -> list[Any]:
        return self._processes("nvmlDeviceGetComputeRunningProcesses_v3", handle)

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: Handle) -> list[Any]:
        return self._processes("nvmlDeviceGetGraphicsRunningProcesses", handle, "graphics")

    def nvmlDeviceGetGraphicsRunningProcesses_v3(self, handle: Handle) -> list[Any]:
        return self._processes("nvmlDeviceGetGraphicsRunningProcesses_v3", handle, "graphics")

    def nvmlDeviceGetProcessUtilization(self, handle: Handle, timeStamp: int
                                        ) -> list[pynvml.c_nvmlProcessUtilizationSample_t]:
        """One sample per compute process busy in the driver's last 100 ms step, stamped in
        CPU microseconds; the GPU's SM and memory utilisation split by the processes'
        memory (evenly when none reports any). NOT_FOUND when no sample is newer than
        `timeStamp`; NOT_SUPPORTED on a MIG device and on a GPU in MIG mode."""
        gpu, _ = self._dev("nvmlDeviceGetProcessUtilization", handle)
        if gpu.mig:
            raise nvml_error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        stamp = SAMPLE_EPOCH_US + math.floor((self._clock() - self._t0) * 10) * 100_000
        r = self.readings(gpu.index)
        procs = gpu.processes.get("compute", [(4000 + gpu.index, r["memory_used"])])
        known = [used for _pid, used in procs if used]
        share = {pid: (used / sum(known) if known and used else 0.0) if known else 1 / len(procs)
                 for pid, used in procs}
        samples = [pynvml.c_nvmlProcessUtilizationSample_t(
            pid=pid, timeStamp=stamp, smUtil=round(r["utilization_gpu"] * w),
            memUtil=round(r["utilization_memory"] * w), encUtil=0, decUtil=0)
            for pid, w in share.items()]
        samples = [s for s in samples if s.smUtil or s.memUtil]  # NVML: busy processes only
        if stamp <= timeStamp or not samples:
            raise nvml_error(pynvml.NVML_ERROR_NOT_FOUND)
        return samples

    def _processes(self, name: str, handle: Handle, kind: str = "compute") -> list[Any]:
        gpu, _ = self._dev(name, handle)
        default = [(4000 + gpu.index, self.readings(gpu.index)["memory_used"])]
        pinned = gpu.processes.get(kind, default if kind == "compute" else [])
        procs = []
        for pid, used in pinned:
            info = pynvml.c_nvmlProcessInfo_v3_t(
                pid=pid, usedGpuMemory=pynvml.NVML_VALUE_NOT_AVAILABLE_ulonglong.value
                if used is None else used, gpuInstanceId=NA, computeInstanceId=NA)
            obj = pynvml.nvmlStructToFriendlyObject(info)
            if used is None:
                obj.usedGpuMemory = None
            procs.append(obj)
        return procs
