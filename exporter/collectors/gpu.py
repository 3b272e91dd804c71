"""GPU metrics from NVML, one GPU's trouble never hiding the others.

Identity is read once per NVML session, values every cycle. A field the driver does not
support is omitted and never asked for again (gpu_errors); a GPU hit by a lifecycle error
(lost, reset required, driver gone) reports `inferwatch_gpu_up 0` - every UUID seen since
start is kept - while the other GPUs go on, and NVML is shut down and initialised again on a
later cycle, backing off while the trouble lasts. Xid events are counted by a thread (gpu_xid).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import pynvml
from prometheus_client.core import Metric

from inferwatch import catalog
from inferwatch.catalog import MetricSpec
from inferwatch.exporter.collectors.base import CollectorFailed
from inferwatch.exporter.collectors.gpu_errors import NO_GPU, ErrorBook, error_label
from inferwatch.exporter.collectors.gpu_read import Device, Reader, Sample, text
from inferwatch.exporter.collectors.gpu_xid import XidWatcher

log = logging.getLogger(__name__)
MAX_RESET_WAIT = 8  # cycles between re-inits while a GPU stays in trouble
_ORDER = {spec.family().name: i for i, spec in enumerate(catalog.all_specs())}


class GpuCollector:
    """The `gpu` collector: a blocking `collect()` over `lib` (pynvml, or FakeNVML)."""

    name = "gpu"

    def __init__(self, lib: Any, interval: float = 5.0, timeout: float = 4.0, *,
                 xid_wait_ms: int = 1000, clock: Callable[[], float] = time.time):
        self.lib = lib
        self.interval = interval
        self.timeout = timeout
        self.nvml_version = ""
        self._book = ErrorBook()
        self._reader = Reader(lib, self._book)
        self._xid = XidWatcher(lib, self._book, wait_ms=xid_wait_ms, clock=clock)
        self._initialized = False
        self._devices: list[Device] = []
        self._gpu_count = 0
        self._opened_all = True
        self._known: dict[str, tuple[str, ...]] = {}  # uuid -> GPU_INFO label values
        self._reset_pending = False
        self._reset_wait = 0
        self._troubled = 0  # consecutive cycles that ended with a GPU down

    def collect(self) -> list[Metric]:
        """One cycle; raises CollectorFailed (with gpu_up 0 and error counts) if NVML is out."""
        self._maybe_reset()
        if not self._initialized:
            self._start()
        samples: list[Sample] = [(catalog.GPUS, (), float(self._gpu_count))]
        up = {dev.uuid: self._read(dev, samples) for dev in self._devices}
        self._settle(self._opened_all and all(up.get(uuid) for uuid in self._known))
        return self._families(samples, up)

    def close(self) -> None:
        """Stop the Xid thread (freeing its event set) and shut NVML down."""
        self._xid.close()
        self._shutdown_nvml()

    # --- NVML session ---------------------------------------------------------------------------
    def _start(self) -> None:
        try:
            self._book.check(NO_GPU, self.lib.nvmlInit)
        except pynvml.NVMLError as err:
            raise CollectorFailed(f"nvmlInit failed: {error_label(err)}",
                                  self._families([], {})) from err
        self._initialized = True
        try:
            count = self._book.check(NO_GPU, self.lib.nvmlDeviceGetCount)
            system = self._system()
        except pynvml.NVMLError as err:
            self._shutdown_nvml()
            raise CollectorFailed(f"NVML enumeration failed: {error_label(err)}",
                                  self._families([], {})) from err
        self._opened_all = True
        opened = (self._open(index, system) for index in range(count))
        self._devices = [dev for dev in opened if dev is not None]
        self._gpu_count = count
        self._xid.attach([(dev.labels, dev.handle) for dev in self._devices])

    def _system(self) -> tuple[str, str]:
        """Driver and CUDA driver versions (labels of GPU_INFO); sets `nvml_version`."""
        lib, book = self.lib, self._book
        self.nvml_version = text(book.guard(NO_GPU, "nvml_version",
                                            lib.nvmlSystemGetNVMLVersion) or "")
        driver = text(book.guard(NO_GPU, "driver_version", lib.nvmlSystemGetDriverVersion) or "")
        cuda = book.guard(NO_GPU, "cuda_driver_version", lib.nvmlSystemGetCudaDriverVersion_v2)
        return driver, "" if cuda is None else f"{cuda // 1000}.{cuda % 1000 // 10}"

    def _open(self, index: int, system: tuple[str, str]) -> Device | None:
        """A handle and the identity of GPU `index`, or None when it cannot be opened."""
        try:
            handle = self._book.check((str(index), ""),
                                      partial(self.lib.nvmlDeviceGetHandleByIndex, index))
            dev = self._reader.identify(index, handle, system)
        except pynvml.NVMLError as err:  # already counted
            log.warning("gpu=%s cannot be opened: %s", index, error_label(err))
            self._opened_all = False
            return None
        self._known[dev.uuid] = dev.info
        return dev

    def _read(self, dev: Device, samples: list[Sample]) -> bool:
        """Append one GPU's samples; False (and nothing appended) when it is down."""
        try:
            samples += self._reader.read(dev)
        except pynvml.NVMLError as err:  # a lifecycle error, already counted
            log.warning("gpu=%s uuid=%s is down: %s", dev.index, dev.uuid, error_label(err))
            return False
        return True

    def _settle(self, healthy: bool) -> None:
        """After trouble, re-initialise on the next cycle, then back off: 2, 4, 8 cycles."""
        if healthy:
            self._troubled = 0
            return
        if self._reset_pending:  # a re-init is already scheduled
            return
        self._troubled += 1
        self._reset_pending = True
        self._reset_wait = min(2 ** (self._troubled - 1), MAX_RESET_WAIT) - 1

    def _maybe_reset(self) -> None:
        if not self._reset_pending:
            return
        if self._reset_wait > 0:
            self._reset_wait -= 1
            return
        log.info("re-initialising NVML")
        self._xid.detach()
        self._shutdown_nvml()

    def _shutdown_nvml(self) -> None:
        if self._initialized:
            with contextlib.suppress(pynvml.NVMLError):  # counted; nothing else to do
                self._book.check(NO_GPU, self.lib.nvmlShutdown)
        self._initialized, self._devices, self._reset_pending = False, [], False

    # --- output ---------------------------------------------------------------------------------
    def _families(self, samples: list[Sample], up: dict[str, bool]) -> list[Metric]:
        """Info and up for every GPU seen since start, then values, Xid, NVML errors."""
        head: list[Sample] = [(catalog.GPU_INFO, info, 1.0) for info in self._known.values()]
        head += [(catalog.GPU_UP, (info[0], uuid), float(up.get(uuid, False)))
                 for uuid, info in self._known.items()]
        families: dict[MetricSpec, Metric] = {}
        for spec, labels, value in head + samples + self._xid.samples():
            if spec not in families:
                families[spec] = spec.family()
            families[spec].add_metric(list(labels), value)
        return [*sorted(families.values(), key=lambda f: _ORDER[f.name]), *self._book.family()]
