"""A driven fake-NVML GPU: utilisation and power follow its driver, energy integrates them."""

from __future__ import annotations

from inferwatch.simulate.nvml.fake import FakeNVML
from inferwatch.simulate.nvml.hardware import POWER_IDLE_MW, POWER_LIMIT_MW


def test_driven_gpu_follows_its_load_and_energy_integrates_it() -> None:
    t, load = [0.0], [0.25]
    lib = FakeNVML(gpus=2, clock=lambda: t[0])
    lib.nvmlInit()
    gpu = lib.nvmlDeviceGetHandleByIndex(0)
    t[0] = 10.0
    before = lib.nvmlDeviceGetTotalEnergyConsumption(gpu)
    lib.drive(0, lambda: load[0])
    readings = []
    for step in range(1, 21):  # 20 s, load changing every 5 s
        load[0] = (0.25, 1.0, 0.0, 0.5)[(step - 1) // 5]
        t[0] = 10.0 + step
        power = lib.nvmlDeviceGetPowerUsage(gpu)
        assert lib.nvmlDeviceGetUtilizationRates(gpu).gpu == round(100 * load[0])
        assert power == POWER_IDLE_MW + round((POWER_LIMIT_MW - POWER_IDLE_MW) * load[0])
        readings.append(power)
    energy = lib.nvmlDeviceGetTotalEnergyConsumption(gpu) - before
    # each 1 s step at the power read at its end (the load read holds since the last reading)
    assert energy == sum(readings)


def test_a_gpu_driven_on_its_own_clock_integrates_over_that_clock() -> None:
    wall, sim = [0.0], [100.0]
    lib = FakeNVML(gpus=1, clock=lambda: wall[0])
    lib.nvmlInit()
    gpu = lib.nvmlDeviceGetHandleByIndex(0)
    wall[0] = 10.0
    before = lib.nvmlDeviceGetTotalEnergyConsumption(gpu)
    lib.drive(0, lambda: 0.5, clock=lambda: sim[0])
    wall[0] += 1.0  # the fake's own clock alone moves nothing
    assert lib.nvmlDeviceGetTotalEnergyConsumption(gpu) == before
    sim[0] += 8.0  # 8 s on the driver's clock, whatever the wall clock did
    power = lib.nvmlDeviceGetPowerUsage(gpu)
    assert power == (POWER_IDLE_MW + POWER_LIMIT_MW) // 2
    assert lib.nvmlDeviceGetTotalEnergyConsumption(gpu) - before == 8 * power
