"""A simulated NVML with nvidia-ml-py's names, return types and errors (--simulate-gpus, tests).

The parts: hardware.py (devices and constants), load.py (the load model), scenarios.py,
faults.py (fault injection), device_api.py (device queries); this module holds the class, the
call machinery, system and event functions. Constants and exception classes come from pynvml
itself; an NVML function the fake lacks raises NVMLError_FunctionNotFound, as the real binding
does on a driver without that symbol.
"""

from __future__ import annotations

import ctypes
import inspect
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pynvml

from inferwatch.simulate.nvml.device_api import DeviceQueries
from inferwatch.simulate.nvml.faults import FaultInjection
from inferwatch.simulate.nvml.hardware import (
    BASE,
    CUDA_VERSION,
    DRIVER,
    EVENTS,
    HELPERS,
    MEMORY_TOTAL,
    MIB,
    NA,
    NVML_VERSION,
    XIDS,
    EventSet,
    Gpu,
    Handle,
    Mig,
    address_of,
    nvml_error,
)
from inferwatch.simulate.nvml.load import model_readings
from inferwatch.simulate.nvml.scenarios import SCENARIOS, apply

__all__ = ["MEMORY_TOTAL", "MIB", "SCENARIOS", "XIDS", "FakeNVML"]


class FakeNVML(FaultInjection, DeviceQueries):
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
        self._gpus = [Gpu(i, self._rng.random()) for i in range(gpus)]
        self._cond = threading.Condition(threading.RLock())
        self._refcount = 0
        self._faults: dict[tuple[int | None, str], list[Any]] = {}
        self._field_faults: dict[tuple[int, int], int] = {}
        self._lost: set[int] = set()
        self._hangs: dict[tuple[int | None, str], tuple[threading.Event, threading.Event]] = {}
        self._sets: dict[int, EventSet] = {}
        self._schedule: list[tuple[float, int, int]] = []
        self._init_failures = init_failures if scenario == "init-failure" else 0
        self._lost_window: tuple[int, float, float] | None = None
        self._xid_every = xid_every if scenario == "xid" else 0.0
        self._next_xid = xid_every if first_xid is None else first_xid
        apply(self, scenario, lost_gpu, lost_at, lost_for)

    # --- the load model ---------------------------------------------------------------------
    def readings(self, gpu_index: int) -> dict[str, int]:
        """What the GPU reports now: the load model at clock() (the driver's samples change
        every 100 ms, so one model step is reused within it), then pinned readings. Under the
        lock: a driven GPU's energy integral must step once per reading, whichever thread
        reads."""
        with self._cond:
            gpu = self._gpus[gpu_index]
            t = self._time(gpu)
            if gpu.model_at != t:
                gpu.model, gpu.model_at = model_readings(gpu, t), t
            return gpu.model | gpu.overrides

    def _time(self, gpu: Gpu) -> float:
        """The GPU's time in 100 ms steps: its driver's clock where drive() gave one, else
        the fake's own."""
        now = self._clock() - self._t0 if gpu.clock is None else gpu.clock() + gpu.clock_offset
        return math.floor(now * 10) / 10

    # --- call machinery ------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        """Constants and exception classes from pynvml; a missing NVML function raises."""
        real = getattr(pynvml, name)
        if name.startswith("nvml") and inspect.isfunction(real) and name not in HELPERS:
            def missing(*args: Any, **kwargs: Any) -> Any:
                raise nvml_error(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
            return missing
        return real

    def _resolve(self, handle: Handle) -> tuple[Gpu, Mig | None]:
        offset = address_of(handle) - BASE
        index, rest = divmod(offset, 0x10000)
        if not 1 <= index <= len(self._gpus):
            raise nvml_error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        gpu = self._gpus[index - 1]
        if rest == 0:
            return gpu, None
        mig = next((m for m in gpu.mig if m.slot == rest // 0x100 - 1), None)
        if mig is None:
            raise nvml_error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return gpu, mig

    def _dev(self, name: str, handle: Handle, symbol: str | None = None,
             mig_ok: bool = False) -> tuple[Gpu, Mig | None]:
        gpu, mig = self._resolve(handle)
        self._enter(name, gpu, symbol)
        if mig is not None and not mig_ok:
            raise nvml_error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return gpu, mig

    def _read(self, name: str, handle: Handle, key: str) -> int:
        gpu, _ = self._dev(name, handle)
        return self.readings(gpu.index)[key]

    @staticmethod
    def _handle(address: int) -> Handle:
        return ctypes.cast(ctypes.c_void_p(address), pynvml.c_nvmlDevice_t)

    def _event_set(self, event_set: Any) -> EventSet:
        events = self._sets.get(address_of(event_set))
        if events is None:
            raise nvml_error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return events

    # --- system -------------------------------------------------------------------------------
    def nvmlInit(self) -> None:
        self.nvmlInitWithFlags(0)

    def nvmlInitWithFlags(self, flags: int) -> None:
        self._enter("nvmlInit", needs_init=False)
        with self._cond:
            self.init_attempts += 1
            if self.scenario == "init-failure" and (
                    self._init_failures is None or self.init_attempts <= self._init_failures):
                raise nvml_error(pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
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

    # --- events ------------------------------------------------------------------------------
    def nvmlEventSetCreate(self) -> Any:
        self._enter("nvmlEventSetCreate")
        with self._cond:
            address = BASE + 0x1000_0000 + 0x10 * self.calls["nvmlEventSetCreate"]
            self._sets[address] = EventSet()
        return ctypes.cast(ctypes.c_void_p(address), pynvml.c_nvmlEventSet_t)

    def nvmlDeviceRegisterEvents(self, handle: Handle, eventTypes: int, eventSet: Any) -> None:
        gpu, _ = self._dev("nvmlDeviceRegisterEvents", handle)
        with self._cond:
            events = self._event_set(eventSet)
            if eventTypes & ~EVENTS:
                raise nvml_error(pynvml.NVML_ERROR_NOT_SUPPORTED)
            if eventTypes & pynvml.nvmlEventTypeXidCriticalError:
                events.gpus.add(gpu.index)

    def nvmlEventSetWait_v2(self, eventSet: Any, timeoutms: int) -> pynvml.c_nvmlEventData_t:
        self._enter("nvmlEventSetWait_v2")
        self._pump()
        with self._cond:
            events = self._event_set(eventSet)
            self._cond.wait_for(lambda: bool(events.queue), timeout=timeoutms / 1000)
            if not events.queue:
                raise nvml_error(pynvml.NVML_ERROR_TIMEOUT)
            index, xid = events.queue.popleft()
        return pynvml.c_nvmlEventData_t(
            device=self._handle(self._gpus[index].address),
            eventType=pynvml.nvmlEventTypeXidCriticalError, eventData=xid,
            gpuInstanceId=NA, computeInstanceId=NA)

    def nvmlEventSetFree(self, eventSet: Any) -> None:
        self._enter("nvmlEventSetFree")
        with self._cond:
            self._event_set(eventSet)
            del self._sets[address_of(eventSet)]
            self._cond.notify_all()
