"""Per-GPU NVML reads: identity once per handle, values every cycle, in base units."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pynvml

from inferwatch import catalog
from inferwatch.catalog import MetricSpec
from inferwatch.exporter.collectors.gpu_errors import ErrorBook, Labels

Sample = tuple[MetricSpec, tuple[str, ...], float]
Handle = Any  # pynvml.c_nvmlDevice_t

CLOCKS = (("sm", pynvml.NVML_CLOCK_SM), ("memory", pynvml.NVML_CLOCK_MEM),
          ("graphics", pynvml.NVML_CLOCK_GRAPHICS), ("video", pynvml.NVML_CLOCK_VIDEO))
REASONS = (
    ("gpu_idle", pynvml.nvmlClocksEventReasonGpuIdle),
    ("applications_clocks", pynvml.nvmlClocksEventReasonApplicationsClocksSetting),
    ("sw_power_cap", pynvml.nvmlClocksEventReasonSwPowerCap),
    ("hw_slowdown", pynvml.nvmlClocksEventReasonHwSlowdown),
    ("sync_boost", pynvml.nvmlClocksEventReasonSyncBoost),
    ("sw_thermal", pynvml.nvmlClocksEventReasonSwThermalSlowdown),
    ("hw_thermal", pynvml.nvmlClocksEventReasonHwThermalSlowdown),
    ("hw_power_brake", pynvml.nvmlClocksEventReasonHwPowerBrakeSlowdown),
    ("display_clock", pynvml.nvmlClocksEventReasonDisplayClockSetting),
)
THROTTLE_FIELDS = (  # cumulative nanoseconds
    ("sw_power_cap", pynvml.NVML_FI_DEV_CLOCKS_EVENT_REASON_SW_POWER_CAP),
    ("sync_boost", pynvml.NVML_FI_DEV_CLOCKS_EVENT_REASON_SYNC_BOOST),
    ("sw_thermal", pynvml.NVML_FI_DEV_CLOCKS_EVENT_REASON_SW_THERM_SLOWDOWN),
    ("hw_thermal", pynvml.NVML_FI_DEV_CLOCKS_EVENT_REASON_HW_THERM_SLOWDOWN),
    ("hw_power_brake", pynvml.NVML_FI_DEV_CLOCKS_EVENT_REASON_HW_POWER_BRAKE_SLOWDOWN),
    ("board_limit", pynvml.NVML_FI_DEV_PERF_POLICY_BOARD_LIMIT),
    ("low_utilization", pynvml.NVML_FI_DEV_PERF_POLICY_LOW_UTILIZATION),
    ("reliability", pynvml.NVML_FI_DEV_PERF_POLICY_RELIABILITY),
)
ECC = (("corrected", pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED),
       ("uncorrected", pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED))
NVLINK_ERRORS = (("replay", pynvml.NVML_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL),
                 ("recovery", pynvml.NVML_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL),
                 ("crc_flit", pynvml.NVML_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL),
                 ("crc_data", pynvml.NVML_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL))
_VALUE_FIELDS = {
    pynvml.NVML_VALUE_TYPE_DOUBLE: "dVal", pynvml.NVML_VALUE_TYPE_UNSIGNED_INT: "uiVal",
    pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG: "ulVal",
    pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG: "ullVal",
    pynvml.NVML_VALUE_TYPE_SIGNED_LONG_LONG: "sllVal",
    pynvml.NVML_VALUE_TYPE_SIGNED_INT: "siVal", pynvml.NVML_VALUE_TYPE_UNSIGNED_SHORT: "usVal",
}
_EMPTY_MIG_SLOT = (pynvml.NVML_ERROR_NOT_FOUND, pynvml.NVML_ERROR_INVALID_ARGUMENT)
FieldRequest = tuple[str, int, int]  # (cache key, field id, scope id)


@dataclass
class Device:
    """One GPU of the current NVML session, with what never changes while it is up."""

    index: int
    handle: Handle
    uuid: str
    info: tuple[str, ...] = ()  # values of GPU_INFO's labels, in order
    mig_enabled: bool = False
    slowdown_celsius: int | None = None
    max_clocks_mhz: dict[str, int] = field(default_factory=dict)
    nvlinks: int = 0

    @property
    def labels(self) -> Labels:
        return (str(self.index), self.uuid)


def text(value: str | bytes) -> str:
    """Struct char arrays come back as bytes, wrapped functions as str."""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def field_value(fv: Any) -> float:
    """The number in a c_nvmlFieldValue_t, read through its valueType."""
    return float(getattr(fv.value, _VALUE_FIELDS.get(fv.valueType, "ullVal")))


class Reader:
    """Reads one GPU through `lib` (pynvml or a fake), field errors accounted in `book`."""

    def __init__(self, lib: Any, book: ErrorBook):
        self.lib = lib
        self.book = book

    def _get(self, dev: Device, key: str, fn: Callable[..., Any], *args: Any) -> Any:
        return self.book.guard(dev.labels, key, lambda: fn(dev.handle, *args))

    # --- identity, once per handle -----------------------------------------------------------
    def identify(self, index: int, handle: Handle, system: tuple[str, str]) -> Device:
        """A Device with its identity read; UUID errors propagate (counted)."""
        uuid = text(self.book.check((str(index), ""), lambda: self.lib.nvmlDeviceGetUUID(handle)))
        dev = Device(index, handle, uuid)
        lib = self.lib
        pci = self._get(dev, "pci_info", lib.nvmlDeviceGetPciInfo_v3)
        minor = self._get(dev, "minor_number", lib.nvmlDeviceGetMinorNumber)
        cc = self._get(dev, "compute_capability", lib.nvmlDeviceGetCudaComputeCapability)
        mig = self._get(dev, "mig_mode", lib.nvmlDeviceGetMigMode)
        dev.mig_enabled = bool(mig) and mig[0] == pynvml.NVML_DEVICE_MIG_ENABLE
        dev.info = (
            dev.labels[0], uuid, text(self._get(dev, "name", lib.nvmlDeviceGetName) or ""),
            text(pci.busId) if pci is not None else "", "" if minor is None else str(minor),
            text(self._get(dev, "serial", lib.nvmlDeviceGetSerial) or ""),
            text(self._get(dev, "vbios_version", lib.nvmlDeviceGetVbiosVersion) or ""),
            *system, f"{cc[0]}.{cc[1]}" if cc else "",
            "" if mig is None else ("enabled" if dev.mig_enabled else "disabled"))
        dev.slowdown_celsius = self._get(dev, "slowdown_threshold",
                                         lib.nvmlDeviceGetTemperatureThreshold,
                                         pynvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN)
        for name, clock in CLOCKS:
            mhz = self._get(dev, f"max_clock_{name}", lib.nvmlDeviceGetMaxClockInfo, clock)
            if mhz is not None:
                dev.max_clocks_mhz[name] = mhz
        links = self._fields(dev, [("nvlink_link_count", pynvml.NVML_FI_DEV_NVLINK_LINK_COUNT, 0)])
        dev.nvlinks = int(links.get(("nvlink_link_count", 0), 0))
        return dev

    # --- values, every cycle -----------------------------------------------------------------
    def read(self, dev: Device) -> list[Sample]:
        """Every sample of one GPU; raises NVMLError when the GPU itself is in trouble."""
        out: list[Sample] = []
        for part in (self._utilization, self._memory, self._thermal, self._power,
                     self._clocks, self._health, self._pcie, self._interconnect, self._mig):
            part(dev, out)
        return out

    def _utilization(self, dev: Device, out: list[Sample]) -> None:
        lib, lb = self.lib, dev.labels
        util = self._get(dev, "utilization", lib.nvmlDeviceGetUtilizationRates)
        if util is not None:
            out.append((catalog.GPU_UTILIZATION, lb, util.gpu / 100))
            out.append((catalog.GPU_MEMORY_COPY_UTILIZATION, lb, util.memory / 100))
        for spec, key, fn in ((catalog.GPU_ENCODER_UTILIZATION, "encoder",
                               lib.nvmlDeviceGetEncoderUtilization),
                              (catalog.GPU_DECODER_UTILIZATION, "decoder",
                               lib.nvmlDeviceGetDecoderUtilization)):
            value = self._get(dev, key, fn)
            if value is not None:
                out.append((spec, lb, value[0] / 100))

    def _memory_info(self, dev: Device, handle: Handle, key: str) -> Any:
        """Memory info v2 (has `reserved`), v1 where the driver lacks v2."""
        lib = self.lib
        info = self.book.guard(dev.labels, f"{key}_v2", lambda: lib.nvmlDeviceGetMemoryInfo(
            handle, version=pynvml.nvmlMemory_v2))
        if info is None and self.book.skipped(dev.uuid, f"{key}_v2"):
            info = self.book.guard(dev.labels, key, lambda: lib.nvmlDeviceGetMemoryInfo(handle))
        return info

    def _memory(self, dev: Device, out: list[Sample]) -> None:
        info = self._memory_info(dev, dev.handle, "memory")
        if info is None:
            return
        lb = dev.labels
        out += [(catalog.GPU_MEMORY_TOTAL, lb, float(info.total)),
                (catalog.GPU_MEMORY_USED, lb, float(info.used)),
                (catalog.GPU_MEMORY_FREE, lb, float(info.free))]
        if isinstance(info, pynvml.c_nvmlMemory_v2_t):
            out.append((catalog.GPU_MEMORY_RESERVED, lb, float(info.reserved)))

    def _thermal(self, dev: Device, out: list[Sample]) -> None:
        lib, lb = self.lib, dev.labels
        temp = self._get(dev, "temperature_v", lib.nvmlDeviceGetTemperatureV,
                         pynvml.NVML_TEMPERATURE_GPU)
        if temp is None and self.book.skipped(dev.uuid, "temperature_v"):
            temp = self._get(dev, "temperature", lib.nvmlDeviceGetTemperature,
                             pynvml.NVML_TEMPERATURE_GPU)
        if temp is not None:
            out.append((catalog.GPU_TEMPERATURE, lb, float(temp)))
        if dev.slowdown_celsius is not None:
            out.append((catalog.GPU_SLOWDOWN_TEMPERATURE, lb, float(dev.slowdown_celsius)))

    def _power(self, dev: Device, out: list[Sample]) -> None:
        lib, lb = self.lib, dev.labels
        for spec, key, fn, divisor in (  # mW -> W, mJ -> J
                (catalog.GPU_POWER_USAGE, "power_usage", lib.nvmlDeviceGetPowerUsage, 1000),
                (catalog.GPU_POWER_LIMIT, "power_limit", lib.nvmlDeviceGetEnforcedPowerLimit,
                 1000),
                (catalog.GPU_ENERGY, "energy", lib.nvmlDeviceGetTotalEnergyConsumption, 1000),
                (catalog.GPU_PERFORMANCE_STATE, "pstate", lib.nvmlDeviceGetPerformanceState, 1)):
            value = self._get(dev, key, fn)
            if value is not None:
                out.append((spec, lb, value / divisor))

    def _clocks(self, dev: Device, out: list[Sample]) -> None:
        lib, lb = self.lib, dev.labels
        for name, clock in CLOCKS:
            mhz = self._get(dev, f"clock_{name}", lib.nvmlDeviceGetClockInfo, clock)
            if mhz is not None:
                out.append((catalog.GPU_CLOCK, (*lb, name), mhz * 1e6))
            if name in dev.max_clocks_mhz:
                out.append((catalog.GPU_CLOCK_MAX, (*lb, name), dev.max_clocks_mhz[name] * 1e6))
        mask = self._get(dev, "clock_event_reasons", lib.nvmlDeviceGetCurrentClocksEventReasons)
        if mask is not None:
            out += [(catalog.GPU_CLOCK_EVENT_REASON, (*lb, reason), float(bool(mask & bit)))
                    for reason, bit in REASONS]

    def _health(self, dev: Device, out: list[Sample]) -> None:
        lib, lb = self.lib, dev.labels
        for kind, error_type in ECC:
            count = self._get(dev, f"ecc_{kind}", lib.nvmlDeviceGetTotalEccErrors, error_type,
                              pynvml.NVML_VOLATILE_ECC)
            if count is not None:
                out.append((catalog.GPU_ECC_ERRORS, (*lb, kind), float(count)))
        rows = self._get(dev, "remapped_rows", lib.nvmlDeviceGetRemappedRows)
        if rows is not None:
            out += [(catalog.GPU_REMAPPED_ROWS, (*lb, "correctable"), float(rows[0])),
                    (catalog.GPU_REMAPPED_ROWS, (*lb, "uncorrectable"), float(rows[1])),
                    (catalog.GPU_ROW_REMAP_PENDING, lb, float(bool(rows[2]))),
                    (catalog.GPU_ROW_REMAP_FAILED, lb, float(bool(rows[3])))]

    def _pcie(self, dev: Device, out: list[Sample]) -> None:
        lib, lb = self.lib, dev.labels
        for spec, key, fn in (
                (catalog.GPU_PCIE_REPLAYS, "pcie_replays", lib.nvmlDeviceGetPcieReplayCounter),
                (catalog.GPU_PCIE_LINK_GENERATION, "pcie_link_generation",
                 lib.nvmlDeviceGetCurrPcieLinkGeneration),
                (catalog.GPU_PCIE_LINK_WIDTH, "pcie_link_width",
                 lib.nvmlDeviceGetCurrPcieLinkWidth)):
            value = self._get(dev, key, fn)
            if value is not None:
                out.append((spec, lb, float(value)))

    def _fields(self, dev: Device, requests: list[FieldRequest]) -> dict[tuple[str, int], float]:
        """One nvmlDeviceGetFieldValues call for every requested field not known unsupported.

        A key whose field failed for any of its scopes (links) is left out entirely.
        """
        wanted = [r for r in requests if not self.book.skipped(dev.uuid, r[0])]
        if not wanted:
            return {}
        values = self._get(dev, "field_values", self.lib.nvmlDeviceGetFieldValues,
                           [(fid, scope) for _, fid, scope in wanted])
        if values is None:
            return {}
        got: dict[tuple[str, int], float] = {}
        failed: set[str] = set()
        for (key, _, scope), fv in zip(wanted, values, strict=True):
            if fv.nvmlReturn == pynvml.NVML_SUCCESS:
                got[(key, scope)] = field_value(fv)
            elif key not in failed:
                failed.add(key)
                self.book.failed(dev.labels, key, pynvml.NVMLError(fv.nvmlReturn))
        return {k: v for k, v in got.items() if k[0] not in failed}

    def _active_links(self, dev: Device) -> list[int] | None:
        """Indices of NVLink links up, or None without NVLink (or when unreadable)."""
        if not dev.nvlinks:
            return None
        active = []
        for link in range(dev.nvlinks):
            state = self._get(dev, "nvlink_state", self.lib.nvmlDeviceGetNvLinkState, link)
            if state is None:
                return None
            if state == pynvml.NVML_FEATURE_ENABLED:
                active.append(link)
        return active

    def _interconnect(self, dev: Device, out: list[Sample]) -> None:
        """Field values (one batch), NVLink state and errors."""
        lb = dev.labels
        links = self._active_links(dev)
        if links is not None:
            out.append((catalog.GPU_NVLINK_LINKS_ACTIVE, lb, float(len(links))))
        requests: list[FieldRequest] = [
            ("memory_temperature", pynvml.NVML_FI_DEV_MEMORY_TEMP, 0),
            ("pcie_tx_bytes", pynvml.NVML_FI_DEV_PCIE_COUNT_TX_BYTES, 0),
            ("pcie_rx_bytes", pynvml.NVML_FI_DEV_PCIE_COUNT_RX_BYTES, 0),
            *((f"throttle_{reason}", fid, 0) for reason, fid in THROTTLE_FIELDS)]
        for link in links or ():
            requests += [("nvlink_tx_kib", pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX, link),
                         ("nvlink_rx_kib", pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX, link)]
        if links:  # error totals over all links, in the same batch
            requests += [(f"nvlink_errors_{kind}", fid, 0) for kind, fid in NVLINK_ERRORS]
        got = self._fields(dev, requests)
        for spec, key, labels, divisor in (  # ns -> s for throttle time
                (catalog.GPU_MEMORY_TEMPERATURE, "memory_temperature", lb, 1),
                (catalog.GPU_PCIE_TX, "pcie_tx_bytes", lb, 1),
                (catalog.GPU_PCIE_RX, "pcie_rx_bytes", lb, 1),
                *((catalog.GPU_THROTTLE_SECONDS, f"throttle_{reason}", (*lb, reason), 1e9)
                  for reason, _ in THROTTLE_FIELDS),
                *((catalog.GPU_NVLINK_ERRORS, f"nvlink_errors_{kind}", (*lb, kind), 1)
                  for kind, _ in NVLINK_ERRORS)):
            if (key, 0) in got:
                out.append((spec, labels, got[(key, 0)] / divisor))
        for spec, key in ((catalog.GPU_NVLINK_TX, "nvlink_tx_kib"),
                          (catalog.GPU_NVLINK_RX, "nvlink_rx_kib")):
            parts = [got.get((key, link)) for link in links or ()]
            if parts and None not in parts:
                out.append((spec, lb, sum(parts) * 1024))  # type: ignore[arg-type]

    def _mig(self, dev: Device, out: list[Sample]) -> None:
        """Memory of each MIG GPU instance, when the GPU is in MIG mode."""
        if not dev.mig_enabled:
            return
        slots = self._get(dev, "mig_device_count", self.lib.nvmlDeviceGetMaxMigDeviceCount)
        for slot in range(slots or 0):
            handle = self.book.guard(
                dev.labels, "mig_device",
                partial(self.lib.nvmlDeviceGetMigDeviceHandleByIndex, dev.handle, slot),
                quiet=_EMPTY_MIG_SLOT)
            if handle is not None:
                self._mig_instance(dev, handle, out)

    def _mig_instance(self, dev: Device, handle: Handle, out: list[Sample]) -> None:
        book, lib = self.book, self.lib
        gi = book.guard(dev.labels, "mig_gpu_instance",
                        partial(lib.nvmlDeviceGetGpuInstanceId, handle))
        info = self._memory_info(dev, handle, "mig_memory")
        if gi is None or info is None:
            return
        name = text(book.guard(dev.labels, "mig_name", partial(lib.nvmlDeviceGetName, handle))
                    or "")
        profile = name.rpartition("MIG ")[2] if "MIG " in name else ""
        labels = (*dev.labels, str(gi), profile)
        out += [(catalog.MIG_MEMORY_TOTAL, labels, float(info.total)),
                (catalog.MIG_MEMORY_USED, labels, float(info.used))]
