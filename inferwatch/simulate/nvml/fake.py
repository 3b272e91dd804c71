"""A simulated NVML with nvidia-ml-py's names, return types and errors (--simulate-gpus, tests).

Scenarios: "load" (H100-like GPUs under a changing load), "unsupported" (fields an older or
smaller card lacks), "gpu-lost" (one GPU falls off the bus for a while), "init-failure"
(nvmlInit raises DRIVER_NOT_LOADED), "xid" (periodic Xid critical events), "mig" (GPU 0 in MIG
mode). Tests inject faults directly: `fail`, `fail_field`, `lose`/`restore`, `emit_xid`,
`hang`/`release`, and pin readings with `set`. Constants and exception classes come from
pynvml itself; an NVML function the fake lacks raises NVMLError_FunctionNotFound, as the real
binding does on a driver without that symbol.
"""

from __future__ import annotations

import ctypes
import inspect
import math
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pynvml

SCENARIOS = ("load", "unsupported", "gpu-lost", "init-failure", "xid", "mig")
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
_NA = 0xFFFFFFFF
_BASE = 0x7F3A_0000_0000
_MAX_CLOCKS = {pynvml.NVML_CLOCK_GRAPHICS: 1980, pynvml.NVML_CLOCK_SM: 1980,
               pynvml.NVML_CLOCK_MEM: 2619, pynvml.NVML_CLOCK_VIDEO: 1545}
_THRESHOLDS = {pynvml.NVML_TEMPERATURE_THRESHOLD_SHUTDOWN: 92,
               pynvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN: 89,
               pynvml.NVML_TEMPERATURE_THRESHOLD_GPU_MAX: 87,
               pynvml.NVML_TEMPERATURE_THRESHOLD_MEM_MAX: 95}
_EVENTS = (pynvml.nvmlEventTypeXidCriticalError | pynvml.nvmlEventTypeDoubleBitEccError
           | pynvml.nvmlEventTypeSingleBitEccError | pynvml.nvmlEventTypePState)
_HELPERS = frozenset({"nvmlExceptionClass", "nvmlStructToFriendlyObject",
                      "nvmlFriendlyObjectToStruct"})
_UINT, _ULL = pynvml.NVML_VALUE_TYPE_UNSIGNED_INT, pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG
_FIELDS = {  # field id -> (value type, reading key)
    pynvml.NVML_FI_DEV_MEMORY_TEMP: (_UINT, "memory_temperature"),
    pynvml.NVML_FI_DEV_NVLINK_LINK_COUNT: (_UINT, "nvlink_links"),
    pynvml.NVML_FI_DEV_PCIE_COUNT_TX_BYTES: (_ULL, "pcie_tx_bytes"),
    pynvml.NVML_FI_DEV_PCIE_COUNT_RX_BYTES: (_ULL, "pcie_rx_bytes"),
    pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX: (_ULL, "nvlink_tx_kib_per_link"),
    pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX: (_ULL, "nvlink_rx_kib_per_link"),
    pynvml.NVML_FI_DEV_CLOCKS_EVENT_REASON_SW_POWER_CAP: (_ULL, "throttle_power_ns"),
    pynvml.NVML_FI_DEV_PERF_POLICY_LOW_UTILIZATION: (_ULL, "throttle_low_util_ns"),
    **{fid: (_ULL, "throttle_other_ns") for fid in (
        pynvml.NVML_FI_DEV_CLOCKS_EVENT_REASON_SYNC_BOOST,
        pynvml.NVML_FI_DEV_CLOCKS_EVENT_REASON_SW_THERM_SLOWDOWN,
        pynvml.NVML_FI_DEV_CLOCKS_EVENT_REASON_HW_THERM_SLOWDOWN,
        pynvml.NVML_FI_DEV_CLOCKS_EVENT_REASON_HW_POWER_BRAKE_SLOWDOWN,
        pynvml.NVML_FI_DEV_PERF_POLICY_BOARD_LIMIT, pynvml.NVML_FI_DEV_PERF_POLICY_RELIABILITY)},
    **{fid: (_ULL, "nvlink_errors_total") for fid in (  # summed over active links
        pynvml.NVML_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL,
        pynvml.NVML_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL,
        pynvml.NVML_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL,
        pynvml.NVML_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL)},
}
_NVLINK_PER_LINK = (pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX,
                    pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX)


def _error(code: int) -> pynvml.NVMLError:
    """The exception the real binding raises for `code` (an NVMLError_* subclass)."""
    return pynvml.NVMLError(code)


def _address(pointer: Any) -> int:
    try:
        return ctypes.cast(pointer, ctypes.c_void_p).value or 0
    except ctypes.ArgumentError as err:
        raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT) from err


@dataclass(frozen=True)
class _Mig:
    slot: int
    gpu_instance: int
    profile: str
    total: int


@dataclass
class _Gpu:
    index: int
    phase: float
    mig: tuple[_Mig, ...] = ()
    overrides: dict[str, int] = field(default_factory=dict)
    # pinned process lists (pid, usedGpuMemory or None), by "compute" / "graphics"
    processes: dict[str, list[tuple[int, int | None]]] = field(default_factory=dict)
    model: dict[str, int] = field(default_factory=dict)  # the load model at `model_at`
    model_at: float | None = None

    @property
    def address(self) -> int:
        return _BASE + 0x10000 * (self.index + 1)

    @property
    def uuid(self) -> str:
        return f"GPU-{self.index:08x}-5eed-4a3e-9c1d-0000fa4e{self.index:04x}"

    @property
    def bus_id(self) -> str:
        return f"00000000:{0x18 + 0x10 * self.index:02X}:00.0"


@dataclass
class _EventSet:
    gpus: set[int] = field(default_factory=set)
    queue: deque[tuple[int, int]] = field(default_factory=deque)


class FakeNVML:
    """A deterministic stand-in for the `pynvml` module (see the module docstring)."""

    def __init__(self, gpus: int = 2, scenario: str = "load", *, seed: int = 0,
                 clock: Callable[[], float] = time.monotonic, init_failures: int | None = None,
                 lost_gpu: int | None = None, lost_at: float = 60.0,
                 lost_for: float | None = 60.0, xid_every: float = 20.0,
                 first_xid: float | None = None, hang_limit_s: float = 60.0):
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
        self.scenario = scenario
        self.calls: Counter[str] = Counter()
        self.init_attempts = 0
        self.hang_limit_s = hang_limit_s
        self._clock, self._t0 = clock, clock()
        self._rng = random.Random(seed)
        self._gpus = [_Gpu(i, self._rng.random()) for i in range(gpus)]
        self._cond = threading.Condition(threading.RLock())
        self._refcount = 0
        self._faults: dict[tuple[int | None, str], list[Any]] = {}
        self._field_faults: dict[tuple[int, int], int] = {}
        self._lost: set[int] = set()
        self._hangs: dict[tuple[int | None, str], tuple[threading.Event, threading.Event]] = {}
        self._sets: dict[int, _EventSet] = {}
        self._schedule: list[tuple[float, int, int]] = []
        self._init_failures = init_failures if scenario == "init-failure" else 0
        self._lost_window: tuple[int, float, float] | None = None
        self._xid_every = xid_every if scenario == "xid" else 0.0
        self._next_xid = xid_every if first_xid is None else first_xid
        self._apply(scenario, lost_gpu, lost_at, lost_for)

    # --- scenarios and fault injection ---------------------------------------------------------
    def _apply(self, scenario: str, lost_gpu: int | None, lost_at: float,
               lost_for: float | None) -> None:
        if scenario == "unsupported":
            for gpu in self._gpus:
                self._unsupported(gpu.index)
        elif scenario == "gpu-lost" and self._gpus:
            index = len(self._gpus) - 1 if lost_gpu is None else lost_gpu
            end = math.inf if lost_for is None else lost_at + lost_for
            self._lost_window = (index, lost_at, end)
            self._schedule.append((lost_at, index, 79))
        elif scenario == "mig" and self._gpus:
            self._gpus[0].mig = (_Mig(0, 1, "3g.40gb", 40320 * MIB),
                                 _Mig(1, 2, "3g.40gb", 40320 * MIB))

    def _unsupported(self, index: int) -> None:
        not_supported = pynvml.NVML_ERROR_NOT_SUPPORTED
        no_permission = pynvml.NVML_ERROR_NO_PERMISSION
        for name in ("nvmlDeviceGetTotalEnergyConsumption", "nvmlDeviceGetTotalEccErrors",
                     "nvmlDeviceGetRemappedRows", "nvmlDeviceGetSerial",
                     "nvmlDeviceGetNvLinkState"):
            self.fail(index, name, not_supported)
        self.fail(index, "nvmlDeviceGetPcieReplayCounter", no_permission)
        self.fail(index, "nvmlDeviceGetMemoryInfo_v2", pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
        self.fail(index, "nvmlDeviceGetTemperatureV", pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
        for fid in (pynvml.NVML_FI_DEV_MEMORY_TEMP, pynvml.NVML_FI_DEV_NVLINK_LINK_COUNT,
                    pynvml.NVML_FI_DEV_PCIE_COUNT_TX_BYTES, pynvml.NVML_FI_DEV_PCIE_COUNT_RX_BYTES,
                    pynvml.NVML_FI_DEV_CLOCKS_EVENT_REASON_HW_POWER_BRAKE_SLOWDOWN):
            self.fail_field(index, fid, not_supported)
        self.fail_field(index, pynvml.NVML_FI_DEV_PERF_POLICY_RELIABILITY, no_permission)

    def fail(self, gpu_index: int | None, function_name: str, error_code: int,
             times: int | None = None) -> None:
        """Make `function_name` raise NVMLError(error_code) on that GPU (None: any call)."""
        with self._cond:
            self._faults[(gpu_index, function_name)] = [error_code, times]

    def fail_field(self, gpu_index: int, field_id: int, error_code: int) -> None:
        """Make one field of nvmlDeviceGetFieldValues report `error_code` in its nvmlReturn."""
        with self._cond:
            self._field_faults[(gpu_index, field_id)] = error_code

    def clear(self) -> None:
        """Drop every injected fault, lost GPU and hang (scenario faults included)."""
        with self._cond:
            self._faults.clear()
            self._field_faults.clear()
            self._lost.clear()
            self._lost_window = None
        self.release()

    def lose(self, gpu_index: int) -> None:
        """From now on every call about this GPU raises NVMLError_GpuIsLost."""
        with self._cond:
            self._lost.add(gpu_index)

    def restore(self, gpu_index: int) -> None:
        """Bring a GPU lost by `lose` back."""
        with self._cond:
            self._lost.discard(gpu_index)

    def hang(self, function_name: str, gpu_index: int | None = None) -> threading.Event:
        """Block calls of `function_name` until `release()`; the event is set once one blocks."""
        entered, released = threading.Event(), threading.Event()
        with self._cond:
            self._hangs[(gpu_index, function_name)] = (entered, released)
        return entered

    def release(self) -> None:
        """Let every hung call go on."""
        with self._cond:
            hangs, self._hangs = list(self._hangs.values()), {}
        for _, released in hangs:
            released.set()

    def emit_xid(self, gpu_index: int, xid: int) -> int:
        """Deliver an Xid critical event; returns how many event sets received it."""
        with self._cond:
            delivered = 0
            for events in self._sets.values():
                if gpu_index in events.gpus:
                    events.queue.append((gpu_index, xid))
                    delivered += 1
            self._cond.notify_all()
            return delivered

    def watching(self, gpu_index: int) -> bool:
        """Whether some event set waits for Xid events of this GPU."""
        with self._cond:
            return any(gpu_index in events.gpus for events in self._sets.values())

    def set(self, gpu_index: int, **readings: int) -> None:
        """Pin readings of one GPU (keys as in `readings()`), overriding the load model."""
        unknown = set(readings) - set(self.readings(gpu_index))
        if unknown:
            raise KeyError(f"unknown readings: {sorted(unknown)}")
        self._gpus[gpu_index].overrides.update(readings)

    def uuid(self, gpu_index: int) -> str:
        return self._gpus[gpu_index].uuid

    def set_processes(self, gpu_index: int, compute: Sequence[tuple[int, int | None]] = (),
                      graphics: Sequence[tuple[int, int | None]] = ()) -> None:
        """Pin the running processes of one GPU as (pid, usedGpuMemory) pairs; None memory is
        reported as not available, as the binding does. Unpinned, a GPU shows one compute
        process (pid 4000 + index) holding all its used memory, and no graphics process."""
        self._gpus[gpu_index].processes = {"compute": list(compute), "graphics": list(graphics)}

    # --- the load model ---------------------------------------------------------------------
    def readings(self, gpu_index: int) -> dict[str, int]:
        """What the GPU reports now: the load model at clock() (the driver's samples change
        every 100 ms, so one model step is reused within it), then pinned readings."""
        gpu = self._gpus[gpu_index]
        t = math.floor((self._clock() - self._t0) * 10) / 10
        if gpu.model_at != t:
            gpu.model, gpu.model_at = self._model(gpu, t), t
        return gpu.model | gpu.overrides

    @staticmethod
    def _model(gpu: _Gpu, t: float) -> dict[str, int]:
        w = 2 * math.pi / PERIOD_S
        load = 0.5 + 0.4 * math.sin(w * t + 2 * math.pi * gpu.phase)
        area = 0.5 * t - 0.4 / w * (math.cos(w * t + 2 * math.pi * gpu.phase)
                                    - math.cos(2 * math.pi * gpu.phase))
        span = POWER_LIMIT_MW - POWER_IDLE_MW
        values = {
            "utilization_gpu": round(100 * load), "utilization_memory": round(60 * load),
            "encoder": 0, "decoder": 0, "memory_used": int(load * 70 * 1024) * MIB,
            "temperature": 33 + round(45 * load), "memory_temperature": 40 + round(40 * load),
            "power_mw": POWER_IDLE_MW + round(span * load), "power_limit_mw": POWER_LIMIT_MW,
            "energy_mj": ENERGY_AT_START_MJ + round(POWER_IDLE_MW * t + span * area),
            "pstate": 0 if load > 0.15 else 8, "clock_sm": 1980 if load < 0.85 else 1755,
            "clock_mem": 2619, "clock_video": 1545,
            "clock_reasons": ((pynvml.nvmlClocksEventReasonSwPowerCap if load >= 0.85 else 0)
                              | (pynvml.nvmlClocksEventReasonGpuIdle if load <= 0.15 else 0)),
            "ecc_corrected": 0, "ecc_uncorrected": 0, "remapped_correctable": 0,
            "remapped_uncorrectable": 0, "remap_pending": 0, "remap_failed": 0,
            "pcie_replays": 0, "pcie_generation": 5 if load > 0.15 else 1, "pcie_width": 16,
            "pcie_tx_bytes": round(6e9 * area), "pcie_rx_bytes": round(12e9 * area),
            "nvlink_links": NVLINKS, "nvlink_active": NVLINKS, "nvlink_errors": 0,
            "nvlink_tx_kib_per_link": round(2.5e6 * area),
            "nvlink_rx_kib_per_link": round(2.4e6 * area),
            "throttle_power_ns": round(0.02e9 * t), "throttle_low_util_ns": round(0.01e9 * t),
            "throttle_other_ns": 0,
        }
        values["clock_graphics"] = values["clock_sm"]
        return values

    # --- call machinery ---------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        """Constants and exception classes from pynvml; a missing NVML function raises."""
        real = getattr(pynvml, name)
        if name.startswith("nvml") and inspect.isfunction(real) and name not in _HELPERS:
            def missing(*args: Any, **kwargs: Any) -> Any:
                raise _error(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
            return missing
        return real

    def _enter(self, name: str, gpu: _Gpu | None = None, symbol: str | None = None,
               needs_init: bool = True) -> None:
        """What every call goes through: count, hang, injected fault, init, lost GPU."""
        index = None if gpu is None else gpu.index
        with self._cond:
            self.calls[name] += 1
            hang = self._hangs.get((index, name)) or self._hangs.get((None, name))
        if hang is not None:
            hang[0].set()
            hang[1].wait(self.hang_limit_s)
        with self._cond:
            for key in ((index, name), (None, name), (index, symbol), (None, symbol)):
                fault = self._faults.get(key)
                if fault is not None:
                    self._consume(key, fault)
                    raise _error(fault[0])
            if needs_init and self._refcount == 0:
                raise _error(pynvml.NVML_ERROR_UNINITIALIZED)
            if gpu is not None and self._is_lost(gpu):
                raise _error(pynvml.NVML_ERROR_GPU_IS_LOST)

    def _consume(self, key: tuple[int | None, str | None], fault: list[Any]) -> None:
        if fault[1] is not None:
            fault[1] -= 1
            if fault[1] <= 0:
                del self._faults[key]  # type: ignore[arg-type]

    def _is_lost(self, gpu: _Gpu) -> bool:
        if gpu.index in self._lost:
            return True
        if self._lost_window is None or self._lost_window[0] != gpu.index:
            return False
        return self._lost_window[1] <= self._clock() - self._t0 < self._lost_window[2]

    def _resolve(self, handle: Handle) -> tuple[_Gpu, _Mig | None]:
        offset = _address(handle) - _BASE
        index, rest = divmod(offset, 0x10000)
        if not 1 <= index <= len(self._gpus):
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        gpu = self._gpus[index - 1]
        if rest == 0:
            return gpu, None
        mig = next((m for m in gpu.mig if m.slot == rest // 0x100 - 1), None)
        if mig is None:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return gpu, mig

    def _dev(self, name: str, handle: Handle, symbol: str | None = None,
             mig_ok: bool = False) -> tuple[_Gpu, _Mig | None]:
        gpu, mig = self._resolve(handle)
        self._enter(name, gpu, symbol)
        if mig is not None and not mig_ok:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return gpu, mig

    def _read(self, name: str, handle: Handle, key: str) -> int:
        gpu, _ = self._dev(name, handle)
        return self.readings(gpu.index)[key]

    @staticmethod
    def _handle(address: int) -> Handle:
        return ctypes.cast(ctypes.c_void_p(address), pynvml.c_nvmlDevice_t)

    def _event_set(self, event_set: Any) -> _EventSet:
        events = self._sets.get(_address(event_set))
        if events is None:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return events

    def _pump(self) -> None:
        """Turn scheduled Xid events that are due into deliveries."""
        t = self._clock() - self._t0
        with self._cond:
            while self._xid_every and self._next_xid <= t:
                self.emit_xid(self._rng.randrange(len(self._gpus)), self._rng.choice(XIDS))
                self._next_xid += self._xid_every
            for due in [e for e in self._schedule if e[0] <= t]:
                self._schedule.remove(due)
                self.emit_xid(due[1], due[2])

    # --- system -------------------------------------------------------------------------------
    def nvmlInit(self) -> None:
        self.nvmlInitWithFlags(0)

    def nvmlInitWithFlags(self, flags: int) -> None:
        self._enter("nvmlInit", needs_init=False)
        with self._cond:
            self.init_attempts += 1
            if self.scenario == "init-failure" and (
                    self._init_failures is None or self.init_attempts <= self._init_failures):
                raise _error(pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
            self._refcount += 1

    def nvmlShutdown(self) -> None:
        self._enter("nvmlShutdown")
        with self._cond:
            self._refcount -= 1

    def nvmlSystemGetDriverVersion(self) -> str:
        self._enter("nvmlSystemGetDriverVersion")
        return DRIVER

    def nvmlSystemGetNVMLVersion(self) -> str:
        self._enter("nvmlSystemGetNVMLVersion")
        return NVML_VERSION

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        self._enter("nvmlSystemGetCudaDriverVersion")
        return CUDA_VERSION

    def nvmlSystemGetCudaDriverVersion_v2(self) -> int:
        self._enter("nvmlSystemGetCudaDriverVersion_v2")
        return CUDA_VERSION

    def nvmlDeviceGetCount(self) -> int:
        self._enter("nvmlDeviceGetCount")
        return len(self._gpus)

    # --- identity -----------------------------------------------------------------------------
    def nvmlDeviceGetHandleByIndex(self, index: int) -> Handle:
        if not 0 <= index < len(self._gpus):
            self._enter("nvmlDeviceGetHandleByIndex")
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        gpu = self._gpus[index]
        self._enter("nvmlDeviceGetHandleByIndex", gpu)
        return self._handle(gpu.address)

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> Handle:
        gpu = next((g for g in self._gpus if g.uuid == uuid), None)
        self._enter("nvmlDeviceGetHandleByUUID", gpu)
        if gpu is None:
            raise _error(pynvml.NVML_ERROR_NOT_FOUND)
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
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
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
            raise _error(pynvml.NVML_ERROR_ARGUMENT_VERSION_MISMATCH)
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
            raise _error(pynvml.NVML_ERROR_ARGUMENT_VERSION_MISMATCH)
        return self._temperature(gpu, sensor)

    def nvmlDeviceGetTemperature(self, handle: Handle, sensor: int) -> int:
        return self._temperature(self._dev("nvmlDeviceGetTemperature", handle)[0], sensor)

    def _temperature(self, gpu: _Gpu, sensor: int) -> int:
        if sensor != pynvml.NVML_TEMPERATURE_GPU:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return self.readings(gpu.index)["temperature"]

    def nvmlDeviceGetTemperatureThreshold(self, handle: Handle, threshold: int) -> int:
        self._dev("nvmlDeviceGetTemperatureThreshold", handle)
        if threshold not in _THRESHOLDS:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return _THRESHOLDS[threshold]

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
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return self.readings(gpu.index)[keys[type]]

    def nvmlDeviceGetMaxClockInfo(self, handle: Handle, type: int) -> int:
        self._dev("nvmlDeviceGetMaxClockInfo", handle)
        if type not in _MAX_CLOCKS:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return _MAX_CLOCKS[type]

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
            known = _FIELDS.get(fid)
            code = self._field_faults.get((gpu.index, fid), pynvml.NVML_SUCCESS)
            if known is None or (fid in _NVLINK_PER_LINK and scope >= r["nvlink_links"]):
                code = code or pynvml.NVML_ERROR_NOT_SUPPORTED
            slot.nvmlReturn = code
            if code == pynvml.NVML_SUCCESS and known is not None:
                slot.valueType = known[0]
                setattr(slot.value, "uiVal" if known[0] == _UINT else "ullVal", r[known[1]])
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
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return int(link < r["nvlink_active"])

    def nvmlDeviceGetNvLinkErrorCounter(self, device: Handle, link: int, counter: int) -> int:
        gpu, _ = self._dev("nvmlDeviceGetNvLinkErrorCounter", device)
        if not 0 <= link < self.readings(gpu.index)["nvlink_links"]:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return self.readings(gpu.index)["nvlink_errors"]

    # --- MIG and processes ----------------------------------------------------------------------
    def nvmlDeviceGetMaxMigDeviceCount(self, device: Handle) -> int:
        self._dev("nvmlDeviceGetMaxMigDeviceCount", device)
        return MAX_MIG

    def nvmlDeviceGetMigDeviceHandleByIndex(self, device: Handle, index: int) -> Handle:
        gpu, _ = self._dev("nvmlDeviceGetMigDeviceHandleByIndex", device)
        if not gpu.mig or not 0 <= index < MAX_MIG:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        if all(m.slot != index for m in gpu.mig):
            raise _error(pynvml.NVML_ERROR_NOT_FOUND)
        return self._handle(gpu.address + 0x100 * (index + 1))

    def nvmlDeviceGetDeviceHandleFromMigDeviceHandle(self, migDevice: Handle) -> Handle:
        gpu, _ = self._dev("nvmlDeviceGetDeviceHandleFromMigDeviceHandle", migDevice, mig_ok=True)
        return self._handle(gpu.address)

    def nvmlDeviceGetGpuInstanceId(self, device: Handle) -> int:
        _, mig = self._dev("nvmlDeviceGetGpuInstanceId", device, mig_ok=True)
        if mig is None:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return mig.gpu_instance

    def nvmlDeviceGetComputeRunningProcesses(self, handle: Handle) -> list[Any]:
        return self._processes("nvmlDeviceGetComputeRunningProcesses", handle)

    def nvmlDeviceGetComputeRunningProcesses_v3(self, handle: Handle) -> list[Any]:
        return self._processes("nvmlDeviceGetComputeRunningProcesses_v3", handle)

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: Handle) -> list[Any]:
        return self._processes("nvmlDeviceGetGraphicsRunningProcesses", handle, "graphics")

    def nvmlDeviceGetGraphicsRunningProcesses_v3(self, handle: Handle) -> list[Any]:
        return self._processes("nvmlDeviceGetGraphicsRunningProcesses_v3", handle, "graphics")

    def _processes(self, name: str, handle: Handle, kind: str = "compute") -> list[Any]:
        gpu, _ = self._dev(name, handle)
        default = [(4000 + gpu.index, self.readings(gpu.index)["memory_used"])]
        pinned = gpu.processes.get(kind, default if kind == "compute" else [])
        procs = []
        for pid, used in pinned:
            info = pynvml.c_nvmlProcessInfo_v3_t(
                pid=pid, usedGpuMemory=pynvml.NVML_VALUE_NOT_AVAILABLE_ulonglong.value
                if used is None else used, gpuInstanceId=_NA, computeInstanceId=_NA)
            obj = pynvml.nvmlStructToFriendlyObject(info)
            if used is None:
                obj.usedGpuMemory = None
            procs.append(obj)
        return procs

    # --- events ------------------------------------------------------------------------------
    def nvmlEventSetCreate(self) -> Any:
        self._enter("nvmlEventSetCreate")
        with self._cond:
            address = _BASE + 0x1000_0000 + 0x10 * self.calls["nvmlEventSetCreate"]
            self._sets[address] = _EventSet()
        return ctypes.cast(ctypes.c_void_p(address), pynvml.c_nvmlEventSet_t)

    def nvmlDeviceRegisterEvents(self, handle: Handle, eventTypes: int, eventSet: Any) -> None:
        gpu, _ = self._dev("nvmlDeviceRegisterEvents", handle)
        with self._cond:
            events = self._event_set(eventSet)
            if eventTypes & ~_EVENTS:
                raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
            if eventTypes & pynvml.nvmlEventTypeXidCriticalError:
                events.gpus.add(gpu.index)

    def nvmlEventSetWait_v2(self, eventSet: Any, timeoutms: int) -> pynvml.c_nvmlEventData_t:
        self._enter("nvmlEventSetWait_v2")
        self._pump()
        with self._cond:
            events = self._event_set(eventSet)
            self._cond.wait_for(lambda: bool(events.queue), timeout=timeoutms / 1000)
            if not events.queue:
                raise _error(pynvml.NVML_ERROR_TIMEOUT)
            index, xid = events.queue.popleft()
        return pynvml.c_nvmlEventData_t(
            device=self._handle(self._gpus[index].address),
            eventType=pynvml.nvmlEventTypeXidCriticalError, eventData=xid,
            gpuInstanceId=_NA, computeInstanceId=_NA)

    def nvmlEventSetFree(self, eventSet: Any) -> None:
        self._enter("nvmlEventSetFree")
        with self._cond:
            self._event_set(eventSet)
            del self._sets[_address(eventSet)]
            self._cond.notify_all()
