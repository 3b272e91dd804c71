"""Scenarios of the fake NVML: what the simulated GPUs do from the start.

"load" (a changing load), "unsupported" (fields an older or smaller card lacks), "gpu-lost"
(one GPU falls off the bus for a while), "init-failure" (nvmlInit raises DRIVER_NOT_LOADED),
"xid" (periodic Xid critical events), "mig" (GPU 0 in MIG mode), "shared" (GPU 0 time-sliced
by three processes, `SHARED`: the pods behind them are the test's, through a procfs tree).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pynvml

from inferwatch.simulate.nvml.hardware import MIB, Mig

if TYPE_CHECKING:
    from inferwatch.simulate.nvml.fake import FakeNVML

SCENARIOS = ("load", "unsupported", "gpu-lost", "init-failure", "xid", "mig", "shared")
# "shared": (pid, usedGpuMemory) of the three compute processes on GPU 0; the SM time of
# nvmlDeviceGetProcessUtilization is split by memory, so 4:2:1
SHARED = ((5001, 40 * 1024 * MIB), (5002, 20 * 1024 * MIB), (5003, 10 * 1024 * MIB))


def apply(fake: FakeNVML, scenario: str, lost_gpu: int | None, lost_at: float,
          lost_for: float | None) -> None:
    """Set up the faults and devices a scenario starts with."""
    if scenario == "unsupported":
        for gpu in fake._gpus:
            unsupported(fake, gpu.index)
    elif scenario == "gpu-lost" and fake._gpus:
        index = len(fake._gpus) - 1 if lost_gpu is None else lost_gpu
        end = math.inf if lost_for is None else lost_at + lost_for
        fake._lost_window = (index, lost_at, end)
        fake._schedule.append((lost_at, index, 79))
    elif scenario == "shared" and fake._gpus:
        fake.set_processes(0, compute=SHARED)
    elif scenario == "mig" and fake._gpus:
        fake._gpus[0].mig = (Mig(0, 1, "3g.40gb", 40320 * MIB),
                             Mig(1, 2, "3g.40gb", 40320 * MIB))


def unsupported(fake: FakeNVML, index: int) -> None:
    """What an older or smaller card lacks: functions and fields that answer NOT_SUPPORTED."""
    not_supported = pynvml.NVML_ERROR_NOT_SUPPORTED
    no_permission = pynvml.NVML_ERROR_NO_PERMISSION
    for name in ("nvmlDeviceGetTotalEnergyConsumption", "nvmlDeviceGetTotalEccErrors",
                 "nvmlDeviceGetRemappedRows", "nvmlDeviceGetSerial",
                 "nvmlDeviceGetNvLinkState"):
        fake.fail(index, name, not_supported)
    fake.fail(index, "nvmlDeviceGetPcieReplayCounter", no_permission)
    fake.fail(index, "nvmlDeviceGetMemoryInfo_v2", pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
    fake.fail(index, "nvmlDeviceGetTemperatureV", pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
    for fid in (pynvml.NVML_FI_DEV_MEMORY_TEMP, pynvml.NVML_FI_DEV_NVLINK_LINK_COUNT,
                pynvml.NVML_FI_DEV_PCIE_COUNT_TX_BYTES, pynvml.NVML_FI_DEV_PCIE_COUNT_RX_BYTES,
                pynvml.NVML_FI_DEV_CLOCKS_EVENT_REASON_HW_POWER_BRAKE_SLOWDOWN):
        fake.fail_field(index, fid, not_supported)
    fake.fail_field(index, pynvml.NVML_FI_DEV_PERF_POLICY_RELIABILITY, no_permission)
