"""The NVML port: the real `pynvml` binding, or a simulated one for --simulate-gpus."""

from __future__ import annotations

from types import ModuleType

import pynvml

from inferwatch.simulate.nvml.fake import FakeNVML


def load_nvml(simulate_gpus: int = 0, scenario: str = "xid") -> ModuleType | FakeNVML:
    """`pynvml` itself, or a FakeNVML with `simulate_gpus` GPUs playing `scenario` (the
    default: a changing load with an occasional Xid, the first after 2 s)."""
    if simulate_gpus > 0:
        return FakeNVML(gpus=simulate_gpus, scenario=scenario, first_xid=2.0)
    return pynvml
