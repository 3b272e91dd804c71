"""The simulated hardware behind the fake NVML: GPUs, MIG instances, event sets, constants.

Handles are fake addresses (`BASE` + 0x10000 per GPU, + 0x100 per MIG slot), cast to the
binding's own ctypes types, so code that passes them around cannot tell them from real ones.
"""

from __future__ import annotations

import ctypes
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pynvml

XIDS = (13, 31, 43, 48, 63, 74, 79, 94, 119)
Handle = Any  # a pynvml.c_nvmlDevice_t (ctypes pointer types do not type-check)

NAME = "NVIDIA H100 80GB HBM3"
DRIVER, NVML_VERSION, CUDA_VERSION = "570.133.20", "12.570.133.20", 12080
MIB = 1 << 20
MEMORY_TOTAL, MEMORY_RESERVED = 81559 * MIB, 552 * MIB
POWER_IDLE_MW, POWER_LIMIT_MW = 70_000, 700_000
NVLINKS, MAX_MIG = 18, 7
ENERGY_AT_START_MJ = 4_000_000_000
PERIOD_S = 300.0  # one load cycle
NA = 0xFFFFFFFF
BASE = 0x7F3A_0000_0000
MAX_CLOCKS = {pynvml.NVML_CLOCK_GRAPHICS: 1980, pynvml.NVML_CLOCK_SM: 1980,
               pynvml.NVML_CLOCK_MEM: 2619, pynvml.NVML_CLOCK_VIDEO: 1545}
THRESHOLDS = {pynvml.NVML_TEMPERATURE_THRESHOLD_SHUTDOWN: 92,
               pynvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN: 89,
               pynvml.NVML_TEMPERATURE_THRESHOLD_GPU_MAX: 87,
               pynvml.NVML_TEMPERATURE_THRESHOLD_MEM_MAX: 95}
EVENTS = (pynvml.nvmlEventTypeXidCriticalError | pynvml.nvmlEventTypeDoubleBitEccError
           | pynvml.nvmlEventTypeSingleBitEccError | pynvml.nvmlEventTypePState)
HELPERS = frozenset({"nvmlExceptionClass", "nvmlStructToFriendlyObject",
                      "nvmlFriendlyObjectToStruct"})
UINT, ULL = pynvml.NVML_VALUE_TYPE_UNSIGNED_INT, pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG
FIELDS = {  # field id -> (value type, reading key)
    pynvml.NVML_FI_DEV_MEMORY_TEMP: (UINT, "memory_temperature"),
    pynvml.NVML_FI_DEV_NVLINK_LINK_COUNT: (UINT, "nvlink_links"),
    pynvml.NVML_FI_DEV_PCIE_COUNT_TX_BYTES: (ULL, "pcie_tx_bytes"),
    pynvml.NVML_FI_DEV_PCIE_COUNT_RX_BYTES: (ULL, "pcie_rx_bytes"),
    pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX: (ULL, "nvlink_tx_kib_per_link"),
    pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX: (ULL, "nvlink_rx_kib_per_link"),
    pynvml.NVML_FI_DEV_CLOCKS_EVENT_REASON_SW_POWER_CAP: (ULL, "throttle_power_ns"),
    pynvml.NVML_FI_DEV_PERF_POLICY_LOW_UTILIZATION: (ULL, "throttle_low_util_ns"),
    **{fid: (ULL, "throttle_other_ns") for fid in (
        pynvml.NVML_FI_DEV_CLOCKS_EVENT_REASON_SYNC_BOOST,
        pynvml.NVML_FI_DEV_CLOCKS_EVENT_REASON_SW_THERM_SLOWDOWN,
        pynvml.NVML_FI_DEV_CLOCKS_EVENT_REASON_HW_THERM_SLOWDOWN,
        pynvml.NVML_FI_DEV_CLOCKS_EVENT_REASON_HW_POWER_BRAKE_SLOWDOWN,
        pynvml.NVML_FI_DEV_PERF_POLICY_BOARD_LIMIT, pynvml.NVML_FI_DEV_PERF_POLICY_RELIABILITY)},
    **{fid: (ULL, "nvlink_errors_total") for fid in (  # summed over active links
        pynvml.NVML_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL,
        pynvml.NVML_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL,
        pynvml.NVML_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL,
        pynvml.NVML_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL)},
}
NVLINK_PER_LINK = (pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX,
                    pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX)


def nvml_error(code: int) -> pynvml.NVMLError:
    """The exception the real binding raises for `code` (an NVMLError_* subclass)."""
    return pynvml.NVMLError(code)


def address_of(pointer: Any) -> int:
    try:
        return ctypes.cast(pointer, ctypes.c_void_p).value or 0
    except ctypes.ArgumentError as err:
        raise nvml_error(pynvml.NVML_ERROR_INVALID_ARGUMENT) from err


@dataclass(frozen=True)
class Mig:
    slot: int
    gpu_instance: int
    profile: str
    total: int


@dataclass
class Gpu:
    index: int
    phase: float
    mig: tuple[Mig, ...] = ()
    overrides: dict[str, int] = field(default_factory=dict)
    # pinned process lists (pid, usedGpuMemory or None), by "compute" / "graphics"
    processes: dict[str, list[tuple[int, int | None]]] = field(default_factory=dict)
    model: dict[str, int] = field(default_factory=dict)  # the load model at `model_at`
    model_at: float | None = None
    # a load (0..1) read at each driver step instead of the sine (FakeNVML.drive), and the
    # integral of it so far: (t, load, area)
    driver: Callable[[], float] | None = None
    driven: tuple[float, float, float] | None = None
    # the driver's clock (FakeNVML.drive): the GPU's time is then clock() + clock_offset
    clock: Callable[[], float] | None = None
    clock_offset: float = 0.0

    @property
    def address(self) -> int:
        return BASE + 0x10000 * (self.index + 1)

    @property
    def uuid(self) -> str:
        return f"GPU-{self.index:08x}-5eed-4a3e-9c1d-0000fa4e{self.index:04x}"

    @property
    def bus_id(self) -> str:
        return f"00000000:{0x18 + 0x10 * self.index:02X}:00.0"


@dataclass
class EventSet:
    gpus: set[int] = field(default_factory=set)
    queue: deque[tuple[int, int]] = field(default_factory=deque)


