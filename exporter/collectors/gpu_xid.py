"""Xid critical errors from NVML events, counted by a daemon thread the GPU collector owns.

The collector owns the NVML session: it `attach`es the current GPUs after each init and
`detach`es before nvmlShutdown, and the thread registers a fresh event set for each session.
Counts are kept for the life of the collector, so they survive failed cycles and re-inits.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import pynvml

from inferwatch import catalog
from inferwatch.exporter.collectors.gpu_errors import NO_GPU, ErrorBook, Labels
from inferwatch.exporter.collectors.gpu_read import Sample

log = logging.getLogger(__name__)
Watched = tuple[Labels, Any]  # ((gpu, uuid), device handle)


def address(pointer: Any) -> int:
    """The address a ctypes handle points at: how an event's device is matched to a GPU."""
    return ctypes.cast(pointer, ctypes.c_void_p).value or 0


class XidWatcher:
    """Waits on an NVML event set in its own thread and counts Xid codes per GPU."""

    def __init__(self, lib: Any, book: ErrorBook, wait_ms: int = 1000,
                 clock: Callable[[], float] = time.time, retry_s: float = 300.0):
        self._lib, self._book, self._wait_ms = lib, book, wait_ms
        self._clock, self._retry_s = clock, retry_s
        self._cond = threading.Condition()
        self._want: list[Watched] = []
        self._generation = 0  # bumped by attach/detach
        self._applied = 0  # the generation the thread has acted on
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._set: Any = None  # touched by the thread only (and by close once it has ended)
        self._devices: dict[int, Labels] = {}
        self._counts: dict[tuple[str, str, str], int] = {}
        self._last: dict[tuple[str, str, str], float] = {}

    def attach(self, devices: Sequence[Watched]) -> None:
        """Watch these GPUs of the current NVML session; starts the thread on first use."""
        with self._cond:
            self._want = list(devices)
            self._generation += 1
            self._cond.notify_all()
            if self._thread is None and not self._stopping:
                self._thread = threading.Thread(target=self._run, name="nvml-xid", daemon=True)
                self._thread.start()

    def detach(self) -> None:
        """Free the event set before NVML shuts down; waits at most one event wait."""
        with self._cond:
            self._want = []
            self._generation += 1
            target = self._generation
            self._cond.notify_all()
            if self._thread is not None and self._thread.is_alive():
                self._cond.wait_for(lambda: self._applied >= target,
                                    timeout=self._wait_ms / 1000 + 1)

    def close(self) -> None:
        """Stop the thread and free the event set."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self._wait_ms / 1000 + 1)
            if self._thread.is_alive():
                log.warning("Xid thread still blocked in NVML; leaving it behind")
                return
        self._free()

    def samples(self) -> list[Sample]:
        """Xid counts and last-seen times, for every (gpu, uuid, xid) since start."""
        with self._cond:
            counts, last = dict(self._counts), dict(self._last)
        out: list[Sample] = [(catalog.GPU_XID_ERRORS, key, float(n))
                             for key, n in sorted(counts.items())]
        out += [(catalog.GPU_XID_LAST, key, t) for key, t in sorted(last.items())]
        return out

    # --- the thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stopping:
                self._apply()
                if self._set is None:
                    self._idle()
                else:
                    self._wait_once()
        finally:
            self._free()

    def _apply(self) -> None:
        """Re-register when the collector attached or detached since the last look."""
        with self._cond:
            generation, want = self._generation, list(self._want)
        if generation == self._applied:
            return
        self._free()
        if want:
            self._register(want)
        with self._cond:
            self._applied = generation
            self._cond.notify_all()

    def _idle(self) -> None:
        """No event set: wait for a new session, or retry after `retry_s` (back-off)."""
        with self._cond:
            changed = self._cond.wait_for(
                lambda: self._stopping or self._generation != self._applied,
                timeout=self._retry_s)
            if not changed and self._want:
                self._applied = -1  # forces a new registration attempt

    def _register(self, want: list[Watched]) -> None:
        lib, book = self._lib, self._book
        try:
            event_set = book.check(NO_GPU, lib.nvmlEventSetCreate)
        except pynvml.NVMLError as err:
            log.warning("Xid events unavailable (%s); retrying in %.0fs", err, self._retry_s)
            return
        devices = {}
        for labels, handle in want:
            if book.skipped(labels[1], "xid_events"):
                continue
            try:
                lib.nvmlDeviceRegisterEvents(handle, pynvml.nvmlEventTypeXidCriticalError,
                                             event_set)
            except pynvml.NVMLError as err:
                # counted and remembered; a lifecycle error is the collector's to handle
                with contextlib.suppress(pynvml.NVMLError):
                    book.failed(labels, "xid_events", err)
                continue
            devices[address(handle)] = labels
        self._set, self._devices = event_set, devices
        if not devices:
            log.info("no GPU supports Xid events; retrying in %.0fs", self._retry_s)
            self._free()

    def _wait_once(self) -> None:
        try:
            data = self._lib.nvmlEventSetWait_v2(self._set, self._wait_ms)
        except pynvml.NVMLError_Timeout:
            return
        except pynvml.NVMLError as err:
            self._book.count(NO_GPU, err)
            log.warning("waiting for Xid events failed (%s); backing off", err)
            self._free()
            return
        if data.eventType & pynvml.nvmlEventTypeXidCriticalError:
            labels = self._devices.get(address(data.device), NO_GPU)
            key = (*labels, str(data.eventData))
            with self._cond:
                self._counts[key] = self._counts.get(key, 0) + 1
                self._last[key] = self._clock()
            log.warning("gpu=%s uuid=%s Xid %s", labels[0], labels[1], data.eventData)

    def _free(self) -> None:
        if self._set is None:
            return
        event_set, self._set, self._devices = self._set, None, {}
        try:
            self._book.check(NO_GPU, partial(self._lib.nvmlEventSetFree, event_set))
        except pynvml.NVMLError as err:
            log.debug("nvmlEventSetFree failed: %s", err)
