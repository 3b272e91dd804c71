"""FakeNVML against the real nvidia-ml-py binding: names, parameters, types, errors, scenarios."""

from __future__ import annotations

import ctypes
import inspect
import threading
import time

import pynvml
import pytest

from inferwatch.exporter.collectors.gpu import GpuCollector
from inferwatch.exporter.nvml import load_nvml
from inferwatch.simulate.nvml.fake import MEMORY_TOTAL, MIB, XIDS, FakeNVML


class Clock:
    """A hand-moved clock."""

    def __init__(self, t: float = 0.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def started(fake: FakeNVML) -> FakeNVML:
    fake.nvmlInit()
    return fake


def handle(fake: FakeNVML, index: int = 0):
    return fake.nvmlDeviceGetHandleByIndex(index)


def eventually(predicate, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


# --- the port --------------------------------------------------------------------------------
def test_load_nvml_gives_the_real_binding_or_a_fake():
    assert load_nvml() is pynvml
    fake = load_nvml(3, "mig")
    assert isinstance(fake, FakeNVML) and fake.scenario == "mig"
    assert started(fake).nvmlDeviceGetCount() == 3
    with pytest.raises(ValueError, match="unknown scenario 'nope'"):
        load_nvml(1, "nope")


# --- fidelity to nvidia-ml-py ------------------------------------------------------------------
FAKE_FUNCTIONS = sorted(n for n in vars(FakeNVML) if n.startswith("nvml"))


@pytest.mark.parametrize("name", FAKE_FUNCTIONS)
def test_every_fake_function_exists_in_pynvml_with_the_same_parameters(name):
    assert callable(getattr(pynvml, name, None)), f"pynvml has no {name}"
    real = inspect.signature(getattr(pynvml, name)).parameters
    fake = inspect.signature(getattr(FakeNVML(1), name)).parameters
    assert [(p.name, p.default) for p in fake.values()] == \
        [(p.name, p.default) for p in real.values()]


# function -> (call given a started 2-GPU "mig" fake and GPU 1 (not in MIG mode), expected
# type, the type's name in the real binding's source or None)
V2 = pynvml.nvmlMemory_v2
RETURNS = {
    "nvmlInit": (lambda f, h: None, type(None), None),
    "nvmlShutdown": (lambda f, h: None, type(None), None),
    "nvmlDeviceGetCount": (lambda f, h: f.nvmlDeviceGetCount(), int, None),
    "nvmlDeviceGetHandleByIndex": (lambda f, h: h, pynvml.c_nvmlDevice_t, "c_nvmlDevice_t"),
    "nvmlDeviceGetUUID": (lambda f, h: f.nvmlDeviceGetUUID(h), str, None),
    "nvmlDeviceGetName": (lambda f, h: f.nvmlDeviceGetName(h), str, None),
    "nvmlDeviceGetSerial": (lambda f, h: f.nvmlDeviceGetSerial(h), str, None),
    "nvmlDeviceGetVbiosVersion": (lambda f, h: f.nvmlDeviceGetVbiosVersion(h), str, None),
    "nvmlSystemGetDriverVersion": (lambda f, h: f.nvmlSystemGetDriverVersion(), str, None),
    "nvmlSystemGetNVMLVersion": (lambda f, h: f.nvmlSystemGetNVMLVersion(), str, None),
    "nvmlSystemGetCudaDriverVersion_v2": (
        lambda f, h: f.nvmlSystemGetCudaDriverVersion_v2(), int, None),
    "nvmlDeviceGetPciInfo_v3": (
        lambda f, h: f.nvmlDeviceGetPciInfo_v3(h), pynvml.nvmlPciInfo_t, "nvmlPciInfo_t"),
    "nvmlDeviceGetMinorNumber": (lambda f, h: f.nvmlDeviceGetMinorNumber(h), int, None),
    "nvmlDeviceGetCudaComputeCapability": (
        lambda f, h: f.nvmlDeviceGetCudaComputeCapability(h), tuple, None),
    "nvmlDeviceGetMigMode": (lambda f, h: f.nvmlDeviceGetMigMode(h), list, None),
    "nvmlDeviceGetUtilizationRates": (lambda f, h: f.nvmlDeviceGetUtilizationRates(h),
                                      pynvml.c_nvmlUtilization_t, "c_nvmlUtilization_t"),
    "nvmlDeviceGetEncoderUtilization": (
        lambda f, h: f.nvmlDeviceGetEncoderUtilization(h), list, None),
    "nvmlDeviceGetDecoderUtilization": (
        lambda f, h: f.nvmlDeviceGetDecoderUtilization(h), list, None),
    "nvmlDeviceGetMemoryInfo": (lambda f, h: f.nvmlDeviceGetMemoryInfo(h, version=V2),
                                pynvml.c_nvmlMemory_v2_t, "c_nvmlMemory_v2_t"),
    "nvmlDeviceGetTemperatureV": (
        lambda f, h: f.nvmlDeviceGetTemperatureV(h, pynvml.NVML_TEMPERATURE_GPU), int, None),
    "nvmlDeviceGetTemperature": (
        lambda f, h: f.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU), int, None),
    "nvmlDeviceGetTemperatureThreshold": (lambda f, h: f.nvmlDeviceGetTemperatureThreshold(
        h, pynvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN), int, None),
    "nvmlDeviceGetPowerUsage": (lambda f, h: f.nvmlDeviceGetPowerUsage(h), int, None),
    "nvmlDeviceGetEnforcedPowerLimit": (
        lambda f, h: f.nvmlDeviceGetEnforcedPowerLimit(h), int, None),
    "nvmlDeviceGetTotalEnergyConsumption": (
        lambda f, h: f.nvmlDeviceGetTotalEnergyConsumption(h), int, None),
    "nvmlDeviceGetPerformanceState": (
        lambda f, h: f.nvmlDeviceGetPerformanceState(h), int, None),
    "nvmlDeviceGetClockInfo": (
        lambda f, h: f.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM), int, None),
    "nvmlDeviceGetMaxClockInfo": (
        lambda f, h: f.nvmlDeviceGetMaxClockInfo(h, pynvml.NVML_CLOCK_SM), int, None),
    "nvmlDeviceGetCurrentClocksEventReasons": (
        lambda f, h: f.nvmlDeviceGetCurrentClocksEventReasons(h), int, None),
    "nvmlDeviceGetFieldValues": (
        lambda f, h: f.nvmlDeviceGetFieldValues(h, [pynvml.NVML_FI_DEV_MEMORY_TEMP])[0],
        pynvml.c_nvmlFieldValue_t, "c_nvmlFieldValue_t"),
    "nvmlDeviceGetTotalEccErrors": (lambda f, h: f.nvmlDeviceGetTotalEccErrors(
        h, pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED, pynvml.NVML_VOLATILE_ECC), int, None),
    "nvmlDeviceGetRemappedRows": (lambda f, h: f.nvmlDeviceGetRemappedRows(h), tuple, None),
    "nvmlDeviceGetPcieReplayCounter": (
        lambda f, h: f.nvmlDeviceGetPcieReplayCounter(h), int, None),
    "nvmlDeviceGetCurrPcieLinkGeneration": (
        lambda f, h: f.nvmlDeviceGetCurrPcieLinkGeneration(h), int, None),
    "nvmlDeviceGetCurrPcieLinkWidth": (
        lambda f, h: f.nvmlDeviceGetCurrPcieLinkWidth(h), int, None),
    "nvmlDeviceGetNvLinkState": (lambda f, h: f.nvmlDeviceGetNvLinkState(h, 0), int, None),
    "nvmlDeviceGetNvLinkErrorCounter": (lambda f, h: f.nvmlDeviceGetNvLinkErrorCounter(
        h, 0, pynvml.NVML_NVLINK_ERROR_DL_REPLAY), int, None),
    "nvmlDeviceGetMaxMigDeviceCount": (
        lambda f, h: f.nvmlDeviceGetMaxMigDeviceCount(h), int, None),
    "nvmlDeviceGetMigDeviceHandleByIndex": (
        lambda f, h: f.nvmlDeviceGetMigDeviceHandleByIndex(handle(f, 0), 0), pynvml.c_nvmlDevice_t,
        "c_nvmlDevice_t"),
    "nvmlDeviceGetGpuInstanceId": (lambda f, h: f.nvmlDeviceGetGpuInstanceId(
        f.nvmlDeviceGetMigDeviceHandleByIndex(handle(f, 0), 0)), int, None),
    "nvmlEventSetCreate": (lambda f, h: f.nvmlEventSetCreate(), pynvml.c_nvmlEventSet_t,
                           "c_nvmlEventSet_t"),
    "nvmlDeviceRegisterEvents": (lambda f, h: f.nvmlDeviceRegisterEvents(
        h, pynvml.nvmlEventTypeXidCriticalError, f.nvmlEventSetCreate()), type(None), None),
    "nvmlEventSetWait_v2": (lambda f, h: _one_event(f, h), pynvml.c_nvmlEventData_t,
                            "c_nvmlEventData_t"),
    "nvmlEventSetFree": (lambda f, h: f.nvmlEventSetFree(f.nvmlEventSetCreate()), type(None),
                         None),
    "nvmlDeviceGetComputeRunningProcesses": (
        lambda f, h: f.nvmlDeviceGetComputeRunningProcesses(h)[0], pynvml.nvmlFriendlyObject,
        None),
}


def _one_event(fake: FakeNVML, h):
    events = fake.nvmlEventSetCreate()
    fake.nvmlDeviceRegisterEvents(h, pynvml.nvmlEventTypeXidCriticalError, events)
    fake.emit_xid(1, 79)
    return fake.nvmlEventSetWait_v2(events, 10)


@pytest.mark.parametrize("name", sorted(RETURNS))
def test_return_types_match_the_binding(name):
    call, expected, in_source = RETURNS[name]
    fake = started(FakeNVML(2, "mig"))
    assert type(call(fake, handle(fake, 1))) is expected
    if in_source is not None:  # the table agrees with the real binding's code
        assert in_source in inspect.getsource(inspect.unwrap(getattr(pynvml, name)))


def test_every_function_the_collector_calls_is_real_and_typed():
    called: set[str] = set()
    for scenario in ("load", "unsupported", "mig", "xid"):
        fake = FakeNVML(2, scenario, clock=Clock())
        collector = GpuCollector(fake, xid_wait_ms=5)
        collector.collect()
        eventually(lambda f=fake: f.calls["nvmlEventSetWait_v2"] > 0)
        collector.close()
        called |= set(fake.calls)
    assert "nvmlDeviceGetTemperature" in called and "nvmlDeviceGetMigDeviceHandleByIndex" in called
    for name in called:
        assert callable(getattr(pynvml, name, None)), name
    assert called <= set(RETURNS), "add the new calls to RETURNS"


def test_field_values_array_and_strings_are_what_the_binding_returns():
    fake = started(FakeNVML(1))
    values = fake.nvmlDeviceGetFieldValues(handle(fake), [pynvml.NVML_FI_DEV_MEMORY_TEMP, 9999])
    assert type(values)._type_ is pynvml.c_nvmlFieldValue_t and len(values) == 2
    assert values[0].nvmlReturn == pynvml.NVML_SUCCESS
    assert values[0].valueType == pynvml.NVML_VALUE_TYPE_UNSIGNED_INT
    assert values[1].nvmlReturn == pynvml.NVML_ERROR_NOT_SUPPORTED
    assert fake.nvmlDeviceGetPciInfo_v3(handle(fake)).busId == "00000000:18:00.0"  # as the binding


def test_constants_and_exception_classes_come_from_pynvml():
    fake = FakeNVML(1)
    assert fake.NVML_CLOCK_SM == pynvml.NVML_CLOCK_SM
    assert fake.nvmlMemory_v2 == pynvml.nvmlMemory_v2
    assert fake.NVMLError_GpuIsLost is pynvml.NVMLError_GpuIsLost
    with pytest.raises(AttributeError):
        fake.no_such_thing  # noqa: B018


def test_a_function_the_fake_lacks_raises_function_not_found():
    fake = started(FakeNVML(1))
    with pytest.raises(pynvml.NVMLError_FunctionNotFound):
        fake.nvmlDeviceGetBAR1MemoryInfo(handle(fake))


def test_init_is_reference_counted_like_nvml():
    fake = FakeNVML(1)
    with pytest.raises(pynvml.NVMLError_Uninitialized):
        fake.nvmlDeviceGetCount()
    fake.nvmlInit()
    fake.nvmlInit()
    fake.nvmlShutdown()
    assert fake.nvmlDeviceGetCount() == 1
    fake.nvmlShutdown()
    with pytest.raises(pynvml.NVMLError_Uninitialized):
        fake.nvmlShutdown()


# --- injected faults ---------------------------------------------------------------------------
@pytest.mark.parametrize("code, cls", [
    (pynvml.NVML_ERROR_NOT_SUPPORTED, pynvml.NVMLError_NotSupported),
    (pynvml.NVML_ERROR_NO_PERMISSION, pynvml.NVMLError_NoPermission),
    (pynvml.NVML_ERROR_FUNCTION_NOT_FOUND, pynvml.NVMLError_FunctionNotFound),
    (pynvml.NVML_ERROR_GPU_IS_LOST, pynvml.NVMLError_GpuIsLost),
    (pynvml.NVML_ERROR_RESET_REQUIRED, pynvml.NVMLError_ResetRequired),
    (pynvml.NVML_ERROR_UNKNOWN, pynvml.NVMLError_Unknown),
])
def test_fail_raises_the_binding_exception_class(code, cls):
    fake = started(FakeNVML(2))
    fake.fail(0, "nvmlDeviceGetPowerUsage", code, times=1)
    with pytest.raises(cls) as caught:
        fake.nvmlDeviceGetPowerUsage(handle(fake, 0))
    assert caught.value.value == code and isinstance(caught.value, pynvml.NVMLError)
    assert fake.nvmlDeviceGetPowerUsage(handle(fake, 1)) > 0  # other GPU untouched
    assert fake.nvmlDeviceGetPowerUsage(handle(fake, 0)) > 0  # times=1 used up


def test_fail_field_sets_that_fields_return_code_only():
    fake = started(FakeNVML(1))
    fake.fail_field(0, pynvml.NVML_FI_DEV_MEMORY_TEMP, pynvml.NVML_ERROR_NO_PERMISSION)
    temp, tx = fake.nvmlDeviceGetFieldValues(
        handle(fake), [pynvml.NVML_FI_DEV_MEMORY_TEMP, pynvml.NVML_FI_DEV_PCIE_COUNT_TX_BYTES])
    assert temp.nvmlReturn == pynvml.NVML_ERROR_NO_PERMISSION
    assert tx.nvmlReturn == pynvml.NVML_SUCCESS


def test_hang_blocks_a_call_until_released():
    fake = started(FakeNVML(1))
    h = handle(fake)
    entered = fake.hang("nvmlDeviceGetPowerUsage")
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(fake.nvmlDeviceGetPowerUsage(h)))
    worker.start()
    assert entered.wait(1.0)
    worker.join(0.05)
    assert worker.is_alive() and not result
    fake.release()
    worker.join(1.0)
    assert result and result[0] > 0


# --- the load model ----------------------------------------------------------------------------
def test_load_is_deterministic_under_a_seed_and_changes_over_time():
    clock = Clock()
    a, b, c = (FakeNVML(2, seed=s, clock=clock) for s in (7, 7, 8))
    assert a.readings(1) == b.readings(1) != c.readings(1)
    seen = []
    for step in range(30):
        clock.t = step * 10.0
        seen.append(a.readings(0))
    assert len({r["utilization_gpu"] for r in seen}) > 5
    for key in ("energy_mj", "pcie_tx_bytes", "pcie_rx_bytes", "nvlink_tx_kib_per_link",
                "throttle_power_ns"):
        values = [r[key] for r in seen]
        assert values == sorted(values) and values[-1] > values[0], key
    for r in seen:
        assert 0 <= r["utilization_gpu"] <= 100
        assert 70_000 <= r["power_mw"] <= 700_000


def test_memory_v2_adds_up_and_v1_counts_reserved_as_used():
    fake = started(FakeNVML(1))
    h = handle(fake)
    v2 = fake.nvmlDeviceGetMemoryInfo(h, version=pynvml.nvmlMemory_v2)
    v1 = fake.nvmlDeviceGetMemoryInfo(h)
    assert v2.total == MEMORY_TOTAL == v2.reserved + v2.free + v2.used
    assert v1.used == v2.used + v2.reserved and v1.free == v2.free
    with pytest.raises(pynvml.NVMLError_ArgumentVersionMismatch):
        fake.nvmlDeviceGetMemoryInfo(h, version=0x01000018)


def test_set_pins_readings_and_rejects_unknown_keys():
    fake = started(FakeNVML(1))
    fake.set(0, power_mw=123_456, utilization_gpu=42)
    assert fake.nvmlDeviceGetPowerUsage(handle(fake)) == 123_456
    assert fake.nvmlDeviceGetUtilizationRates(handle(fake)).gpu == 42
    with pytest.raises(KeyError):
        fake.set(0, wattage=1)


# --- scenarios ---------------------------------------------------------------------------------
def test_unsupported_scenario():
    fake = started(FakeNVML(1, "unsupported"))
    h = handle(fake)
    with pytest.raises(pynvml.NVMLError_NotSupported):
        fake.nvmlDeviceGetTotalEnergyConsumption(h)
    with pytest.raises(pynvml.NVMLError_NoPermission):
        fake.nvmlDeviceGetPcieReplayCounter(h)
    with pytest.raises(pynvml.NVMLError_FunctionNotFound):
        fake.nvmlDeviceGetMemoryInfo(h, version=pynvml.nvmlMemory_v2)
    assert isinstance(fake.nvmlDeviceGetMemoryInfo(h), pynvml.c_nvmlMemory_t)
    with pytest.raises(pynvml.NVMLError_FunctionNotFound):
        fake.nvmlDeviceGetTemperatureV(h, pynvml.NVML_TEMPERATURE_GPU)
    assert fake.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU) > 0
    (temp,) = fake.nvmlDeviceGetFieldValues(h, [pynvml.NVML_FI_DEV_MEMORY_TEMP])
    assert temp.nvmlReturn == pynvml.NVML_ERROR_NOT_SUPPORTED


@pytest.mark.parametrize("lost_for, back_at_40", [(20.0, True), (None, False)])
def test_gpu_lost_scenario(lost_for, back_at_40):
    clock = Clock()
    fake = started(FakeNVML(2, "gpu-lost", clock=clock, lost_gpu=1, lost_at=10.0,
                            lost_for=lost_for))
    h = handle(fake, 1)
    assert fake.nvmlDeviceGetPowerUsage(h) > 0
    clock.t = 10.0
    with pytest.raises(pynvml.NVMLError_GpuIsLost):
        fake.nvmlDeviceGetPowerUsage(h)
    with pytest.raises(pynvml.NVMLError_GpuIsLost):
        fake.nvmlDeviceGetHandleByIndex(1)
    assert fake.nvmlDeviceGetPowerUsage(handle(fake, 0)) > 0
    assert fake.nvmlDeviceGetCount() == 2
    clock.t = 40.0
    if back_at_40:
        assert fake.nvmlDeviceGetPowerUsage(h) > 0
    else:
        with pytest.raises(pynvml.NVMLError_GpuIsLost):
            fake.nvmlDeviceGetPowerUsage(h)


@pytest.mark.parametrize("failures, fails", [(2, 2), (None, 5)])
def test_init_failure_scenario(failures, fails):
    fake = FakeNVML(1, "init-failure", init_failures=failures)
    outcomes = []
    for _ in range(5):
        try:
            fake.nvmlInit()
            outcomes.append("ok")
        except pynvml.NVMLError_DriverNotLoaded:
            outcomes.append("driver_not_loaded")
    assert outcomes == ["driver_not_loaded"] * fails + ["ok"] * (5 - fails)


def _drain(fake: FakeNVML, events) -> list[tuple[int, int]]:
    got = []
    while True:
        try:
            data = fake.nvmlEventSetWait_v2(events, 1)
        except pynvml.NVMLError_Timeout:
            return got
        address = ctypes.cast(data.device, ctypes.c_void_p).value
        index = next(i for i in range(fake.nvmlDeviceGetCount())
                     if ctypes.cast(handle(fake, i), ctypes.c_void_p).value == address)
        assert data.eventType == pynvml.nvmlEventTypeXidCriticalError
        got.append((index, data.eventData))


def _xid_run(seed: int) -> list[tuple[int, int]]:
    clock = Clock()
    fake = started(FakeNVML(2, "xid", seed=seed, clock=clock, xid_every=10.0))
    events = fake.nvmlEventSetCreate()
    for i in range(2):
        fake.nvmlDeviceRegisterEvents(handle(fake, i), pynvml.nvmlEventTypeXidCriticalError,
                                      events)
    assert _drain(fake, events) == []
    clock.t = 35.0
    return _drain(fake, events)


def test_xid_scenario_delivers_events_deterministically():
    first = _xid_run(seed=3)
    assert len(first) == 3 and all(xid in XIDS for _, xid in first)
    assert _xid_run(seed=3) == first


def test_emit_xid_reaches_only_sets_registered_for_that_gpu():
    fake = started(FakeNVML(2))
    events = fake.nvmlEventSetCreate()
    fake.nvmlDeviceRegisterEvents(handle(fake, 1), pynvml.nvmlEventTypeXidCriticalError, events)
    assert fake.watching(1) and not fake.watching(0)
    assert fake.emit_xid(0, 13) == 0
    assert fake.emit_xid(1, 79) == 1
    assert _drain(fake, events) == [(1, 79)]
    fake.nvmlEventSetFree(events)
    assert not fake.watching(1)
    with pytest.raises(pynvml.NVMLError_InvalidArgument):
        fake.nvmlEventSetWait_v2(events, 1)


def test_mig_scenario():
    fake = started(FakeNVML(2, "mig"))
    parent, other = handle(fake, 0), handle(fake, 1)
    assert fake.nvmlDeviceGetMigMode(parent) == [1, 1]
    assert fake.nvmlDeviceGetMigMode(other) == [0, 0]
    with pytest.raises(pynvml.NVMLError_NotSupported):
        fake.nvmlDeviceGetUtilizationRates(parent)
    with pytest.raises(pynvml.NVMLError_NotFound):
        fake.nvmlDeviceGetMigDeviceHandleByIndex(parent, 2)
    with pytest.raises(pynvml.NVMLError_InvalidArgument):
        fake.nvmlDeviceGetMigDeviceHandleByIndex(other, 0)
    mig = fake.nvmlDeviceGetMigDeviceHandleByIndex(parent, 1)
    assert fake.nvmlDeviceGetGpuInstanceId(mig) == 2
    assert fake.nvmlDeviceGetName(mig) == "NVIDIA H100 80GB HBM3 MIG 3g.40gb"
    assert fake.nvmlDeviceGetUUID(mig).startswith("MIG-")
    assert fake.nvmlDeviceGetMemoryInfo(mig, version=pynvml.nvmlMemory_v2).total == 40320 * MIB
    with pytest.raises(pynvml.NVMLError_InvalidArgument):
        fake.nvmlDeviceGetGpuInstanceId(parent)
