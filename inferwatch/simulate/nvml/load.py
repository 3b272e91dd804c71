"""The load model of the fake NVML: every reading of a GPU as a function of time.

Each GPU follows a sine of period `PERIOD_S` from its own phase, or, when driven
(FakeNVML.drive), the load its driver reports at each 100 ms driver step (the demo drives a
GPU with the simulated engine running on it). Power is linear in the load; energy, PCIe and
NVLink counters are integrals of the same load, so counters only rise and rates match gauges.
"""

from __future__ import annotations

import math

import pynvml

from inferwatch.simulate.nvml.hardware import (
    ENERGY_AT_START_MJ,
    MIB,
    NVLINKS,
    PERIOD_S,
    POWER_IDLE_MW,
    POWER_LIMIT_MW,
    Gpu,
)


def load_at(gpu: Gpu, t: float) -> tuple[float, float]:
    """(load 0..1 at t, its integral over [0, t]); a driven GPU's integral counts the load
    read at t over the time since the previous reading (t only grows: the clocks are
    monotonic). The load read now holds since the last reading: a driver reports the state of
    its engine's last step, which covers the time since then, so a lagging reading neither
    delays the energy nor biases it low while the load rises."""
    if gpu.driver is None:
        w = 2 * math.pi / PERIOD_S
        load = 0.5 + 0.4 * math.sin(w * t + 2 * math.pi * gpu.phase)
        area = 0.5 * t - 0.4 / w * (math.cos(w * t + 2 * math.pi * gpu.phase)
                                    - math.cos(2 * math.pi * gpu.phase))
        return load, area
    load = min(max(float(gpu.driver()), 0.0), 1.0)
    last_t, _last_load, area = gpu.driven or (t, load, 0.0)
    area += load * max(0.0, t - last_t)
    gpu.driven = (max(t, last_t), load, area)
    return load, area


def model_readings(gpu: Gpu, t: float) -> dict[str, int]:
    load, area = load_at(gpu, t)
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
