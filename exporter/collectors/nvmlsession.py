"""One collector's hold on NVML: `nvmlInit` on first use, `nvmlShutdown` on close or after a
failure (so the next cycle initialises again, as after a driver reload)."""

from __future__ import annotations

import logging
from typing import Any

import pynvml

log = logging.getLogger(__name__)


class NvmlSession:
    """`lib` (pynvml or FakeNVML), initialised once until `close`."""

    def __init__(self, lib: Any):
        self.lib = lib
        self._initialized = False

    def start(self) -> None:
        """nvmlInit unless already done; an NVMLError propagates."""
        if not self._initialized:
            self.lib.nvmlInit()
            self._initialized = True

    def close(self) -> None:
        if self._initialized:
            self._initialized = False
            try:
                self.lib.nvmlShutdown()
            except pynvml.NVMLError as err:
                log.debug("nvmlShutdown: %s", err)


def text(value: Any) -> str:
    """An NVML string: bytes from older bindings, str from newer ones."""
    return value.decode() if isinstance(value, bytes) else str(value)
