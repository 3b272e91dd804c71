"""Fault injection for the fake NVML: the calls tests and scenarios use to make it misbehave.

`fail` and `fail_field` (an NVMLError code for a function or one field), `lose`/`restore` (a
GPU off the bus), `hang`/`release` (a call that blocks), `emit_xid`, and `set`/`set_processes`
to pin readings. Every NVML call goes through `_enter`, which applies them in that order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pynvml

from inferwatch.simulate.nvml.hardware import XIDS, Gpu, nvml_error
from inferwatch.simulate.nvml.load import load_at


class FaultInjection:
    """A mixin of FakeNVML: the state it reads is set up by FakeNVML.__init__."""

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

    def drive(self, gpu_index: int, load: Callable[[], float],
              clock: Callable[[], float] | None = None) -> None:
        """Let `load()` (0..1, read at each 100 ms driver step) set the GPU's utilisation and
        power instead of the sine, from now on; energy goes on from its current value. With
        `clock` (monotonic seconds), the GPU's time runs on it from now on, so its energy and
        other counters integrate over the driver's seconds: the demo passes the simulated
        clock of the engine whose load drives the GPU, so that joules and tokens count the
        same seconds at any speed."""
        with self._cond:
            gpu = self._gpus[gpu_index]
            t = self._time(gpu)
            _load, area = load_at(gpu, t)
            gpu.driver, gpu.driven, gpu.model_at = load, (t, 0.0, area), None
            if clock is not None:
                gpu.clock, gpu.clock_offset = clock, t - clock()

    def _enter(self, name: str, gpu: Gpu | None = None, symbol: str | None = None,
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
                    raise nvml_error(fault[0])
            if needs_init and self._refcount == 0:
                raise nvml_error(pynvml.NVML_ERROR_UNINITIALIZED)
            if gpu is not None and self._is_lost(gpu):
                raise nvml_error(pynvml.NVML_ERROR_GPU_IS_LOST)

    def _consume(self, key: tuple[int | None, str | None], fault: list[Any]) -> None:
        if fault[1] is not None:
            fault[1] -= 1
            if fault[1] <= 0:
                del self._faults[key]  # type: ignore[arg-type]

    def _is_lost(self, gpu: Gpu) -> bool:
        if gpu.index in self._lost:
            return True
        if self._lost_window is None or self._lost_window[0] != gpu.index:
            return False
        return self._lost_window[1] <= self._clock() - self._t0 < self._lost_window[2]

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
