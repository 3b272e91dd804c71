"""NVML error policy of the GPU collector: classify, count, remember what is unsupported."""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Collection
from typing import TypeVar

import pynvml
from prometheus_client.core import Metric

from inferwatch import catalog

log = logging.getLogger(__name__)
T = TypeVar("T")
Labels = tuple[str, str]  # (gpu index, uuid); ("", "") for calls about no GPU in particular
NO_GPU: Labels = ("", "")

# The GPU (or the whole driver) is gone: mark it down and re-initialise NVML later.
LIFECYCLE = frozenset({
    pynvml.NVML_ERROR_GPU_IS_LOST, pynvml.NVML_ERROR_UNINITIALIZED,
    pynvml.NVML_ERROR_DRIVER_NOT_LOADED, pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH,
    pynvml.NVML_ERROR_GPU_NOT_FOUND, pynvml.NVML_ERROR_UNKNOWN, pynvml.NVML_ERROR_RESET_REQUIRED,
})
# This GPU will never answer this question: omit the series and stop asking.
FIELD_LEVEL = frozenset({
    pynvml.NVML_ERROR_NOT_SUPPORTED, pynvml.NVML_ERROR_NO_PERMISSION,
    pynvml.NVML_ERROR_FUNCTION_NOT_FOUND, pynvml.NVML_ERROR_DEPRECATED,
    pynvml.NVML_ERROR_ARGUMENT_VERSION_MISMATCH,
})


def error_label(err: pynvml.NVMLError) -> str:
    """snake_case of the NVMLError_* class: NVMLError_GpuIsLost -> gpu_is_lost."""
    name = type(err).__name__
    if not name.startswith("NVMLError_"):
        return f"code_{err.value}"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name.removeprefix("NVMLError_")).lower()


def is_lifecycle(err: pynvml.NVMLError) -> bool:
    return err.value in LIFECYCLE


class ErrorBook:
    """Counts every NVML error by (gpu, uuid, error) and negative-caches unsupported fields.

    Shared by the collector and its Xid thread, hence the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._skip: set[tuple[str, str]] = set()

    def count(self, labels: Labels, err: pynvml.NVMLError) -> None:
        with self._lock:
            self._counts[(*labels, error_label(err))] += 1

    def check(self, labels: Labels, call: Callable[[], T]) -> T:
        """Run an NVML call that must succeed: count its error, then raise it."""
        try:
            return call()
        except pynvml.NVMLError as err:
            self.count(labels, err)
            raise

    def skipped(self, uuid: str, field: str) -> bool:
        with self._lock:
            return (uuid, field) in self._skip

    def guard(self, labels: Labels, field: str, call: Callable[[], T],
              quiet: Collection[int] = ()) -> T | None:
        """The call's result, or None when it failed for a reason that only costs this field.

        Codes in `quiet` mean "nothing there" (an empty MIG slot) and are not counted.
        Lifecycle errors are counted and raised: the caller marks the GPU down.
        """
        if self.skipped(labels[1], field):
            return None
        try:
            return call()
        except pynvml.NVMLError as err:
            if err.value in quiet:
                return None
            self.failed(labels, field, err)
            return None

    def failed(self, labels: Labels, field: str, err: pynvml.NVMLError) -> None:
        """Account for a field that failed; raise `err` when the GPU itself is in trouble."""
        self.count(labels, err)
        if is_lifecycle(err):
            raise err
        if err.value in FIELD_LEVEL:
            with self._lock:
                first = (labels[1], field) not in self._skip
                self._skip.add((labels[1], field))
            if first:
                log.info("gpu=%s field=%s: %s; not asking again", labels[0] or "-", field,
                         error_label(err))
        else:
            log.debug("gpu=%s field=%s: %s", labels[0] or "-", field, error_label(err))

    def family(self) -> list[Metric]:
        """inferwatch_nvml_errors_total, or nothing when no error was seen yet."""
        with self._lock:
            counts = sorted(self._counts.items())
        if not counts:
            return []
        fam = catalog.NVML_ERRORS.family()
        for labels, value in counts:
            fam.add_metric(list(labels), float(value))
        return [fam]
