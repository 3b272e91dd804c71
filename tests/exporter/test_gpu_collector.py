"""GpuCollector over FakeNVML: exact samples, each NVML error class, re-init, Xid, MIG, hangs."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pynvml
import pytest
from prometheus_client.core import Metric

from inferwatch import catalog
from inferwatch.catalog import MetricSpec
from inferwatch.exporter.collectors.base import CollectorFailed
from inferwatch.exporter.collectors.gpu import GpuCollector
from inferwatch.exporter.collectors.gpu_errors import error_label
from inferwatch.exporter.loop import CollectorLoop
from inferwatch.simulate.nvml.fake import MIB, FakeNVML

U0 = "GPU-00000000-5eed-4a3e-9c1d-0000fa4e0000"
U1 = "GPU-00000001-5eed-4a3e-9c1d-0000fa4e0001"


class Clock:
    """A hand-moved clock."""

    def __init__(self, t: float = 0.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock(1_700_000_000.0)


@pytest.fixture
def make(clock: Clock) -> Iterator:
    """make(scenario, **fake options) -> (fake, collector); collectors are closed afterwards."""
    made: list[GpuCollector] = []

    def factory(scenario: str = "load", gpus: int = 2, timeout: float = 4.0, **options):
        fake = FakeNVML(gpus, scenario, clock=clock, **options)
        collector = GpuCollector(fake, timeout=timeout, xid_wait_ms=5, clock=clock)
        made.append(collector)
        return fake, collector

    yield factory
    for collector in made:
        collector.close()


def series(families: list[Metric], spec: MetricSpec) -> dict[tuple[str, ...], float]:
    """Samples of one family keyed by their label values, in the spec's label order."""
    name = spec.family().name
    return {tuple(s.labels[k] for k in spec.labels): s.value
            for fam in families if fam.name == name for s in fam.samples}


def by_gpu(families: list[Metric], spec: MetricSpec) -> dict[str, float]:
    return {labels[0]: value for labels, value in series(families, spec).items()}


def errors(families: list[Metric]) -> dict[tuple[str, ...], float]:
    return series(families, catalog.NVML_ERRORS)


def eventually(predicate, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


# --- the happy path, exactly -------------------------------------------------------------------
PINNED = dict(
    utilization_gpu=87, utilization_memory=30, encoder=5, decoder=0,
    memory_used=20480 * MIB, temperature=71, memory_temperature=80, power_mw=312_500,
    power_limit_mw=650_000, energy_mj=1_234_567, pstate=0, clock_sm=1755, clock_graphics=1755,
    clock_mem=2619, clock_video=1545,
    clock_reasons=pynvml.nvmlClocksEventReasonSwPowerCap | pynvml.nvmlClocksEventReasonHwSlowdown,
    ecc_corrected=3, ecc_uncorrected=1, remapped_correctable=2, remapped_uncorrectable=0,
    remap_pending=1, remap_failed=0, pcie_replays=7, pcie_generation=5, pcie_width=16,
    pcie_tx_bytes=10_000, pcie_rx_bytes=20_000, nvlink_active=12,
    nvlink_tx_kib_per_link=100, nvlink_rx_kib_per_link=50, nvlink_errors=4,
    throttle_power_ns=2_500_000_000, throttle_low_util_ns=500_000_000, throttle_other_ns=0)


def test_two_gpus_exact_samples(make):
    fake, collector = make()
    fake.set(0, **PINNED)
    fake.set(1, **{**PINNED, "utilization_gpu": 10, "power_mw": 100_000, "nvlink_active": 18})
    assert collector.nvml_version == ""
    fams = collector.collect()
    assert collector.nvml_version == "12.570.133.20"
    common = ("NVIDIA H100 80GB HBM3",)
    versions = ("96.00.99.00.01", "570.133.20", "12.8", "9.0", "disabled")
    assert series(fams, catalog.GPU_INFO) == {
        ("0", U0, *common, "00000000:18:00.0", "0", "1650123000000", *versions): 1.0,
        ("1", U1, *common, "00000000:28:00.0", "1", "1650123000001", *versions): 1.0}
    assert series(fams, catalog.GPU_UP) == {("0", U0): 1.0, ("1", U1): 1.0}
    assert series(fams, catalog.GPUS) == {(): 2.0}
    g0 = {spec: by_gpu(fams, spec)["0"] for spec in (
        catalog.GPU_UTILIZATION, catalog.GPU_MEMORY_COPY_UTILIZATION,
        catalog.GPU_ENCODER_UTILIZATION, catalog.GPU_DECODER_UTILIZATION,
        catalog.GPU_MEMORY_TOTAL, catalog.GPU_MEMORY_USED, catalog.GPU_MEMORY_FREE,
        catalog.GPU_MEMORY_RESERVED, catalog.GPU_TEMPERATURE, catalog.GPU_MEMORY_TEMPERATURE,
        catalog.GPU_SLOWDOWN_TEMPERATURE, catalog.GPU_POWER_USAGE, catalog.GPU_POWER_LIMIT,
        catalog.GPU_ENERGY, catalog.GPU_PERFORMANCE_STATE, catalog.GPU_ROW_REMAP_PENDING,
        catalog.GPU_ROW_REMAP_FAILED, catalog.GPU_PCIE_REPLAYS, catalog.GPU_PCIE_TX,
        catalog.GPU_PCIE_RX, catalog.GPU_PCIE_LINK_GENERATION, catalog.GPU_PCIE_LINK_WIDTH,
        catalog.GPU_NVLINK_LINKS_ACTIVE, catalog.GPU_NVLINK_TX, catalog.GPU_NVLINK_RX)}
    assert g0 == {
        catalog.GPU_UTILIZATION: 0.87, catalog.GPU_MEMORY_COPY_UTILIZATION: 0.3,
        catalog.GPU_ENCODER_UTILIZATION: 0.05, catalog.GPU_DECODER_UTILIZATION: 0.0,
        catalog.GPU_MEMORY_TOTAL: 81559 * MIB, catalog.GPU_MEMORY_USED: 20480 * MIB,
        catalog.GPU_MEMORY_FREE: (81559 - 552 - 20480) * MIB,
        catalog.GPU_MEMORY_RESERVED: 552 * MIB, catalog.GPU_TEMPERATURE: 71.0,
        catalog.GPU_MEMORY_TEMPERATURE: 80.0, catalog.GPU_SLOWDOWN_TEMPERATURE: 89.0,
        catalog.GPU_POWER_USAGE: 312.5, catalog.GPU_POWER_LIMIT: 650.0,
        catalog.GPU_ENERGY: 1234.567, catalog.GPU_PERFORMANCE_STATE: 0.0,
        catalog.GPU_ROW_REMAP_PENDING: 1.0, catalog.GPU_ROW_REMAP_FAILED: 0.0,
        catalog.GPU_PCIE_REPLAYS: 7.0, catalog.GPU_PCIE_TX: 10_000.0,
        catalog.GPU_PCIE_RX: 20_000.0, catalog.GPU_PCIE_LINK_GENERATION: 5.0,
        catalog.GPU_PCIE_LINK_WIDTH: 16.0, catalog.GPU_NVLINK_LINKS_ACTIVE: 12.0,
        catalog.GPU_NVLINK_TX: 12 * 100 * 1024.0, catalog.GPU_NVLINK_RX: 12 * 50 * 1024.0}
    assert by_gpu(fams, catalog.GPU_UTILIZATION) == {"0": 0.87, "1": 0.1}
    assert by_gpu(fams, catalog.GPU_POWER_USAGE) == {"0": 312.5, "1": 100.0}
    assert by_gpu(fams, catalog.GPU_NVLINK_LINKS_ACTIVE) == {"0": 12.0, "1": 18.0}
    clocks = {k[2]: v for k, v in series(fams, catalog.GPU_CLOCK).items() if k[0] == "0"}
    assert clocks == {"sm": 1.755e9, "graphics": 1.755e9, "memory": 2.619e9, "video": 1.545e9}
    maxima = {k[2]: v for k, v in series(fams, catalog.GPU_CLOCK_MAX).items() if k[0] == "0"}
    assert maxima == {"sm": 1.98e9, "graphics": 1.98e9, "memory": 2.619e9, "video": 1.545e9}
    reasons = {k[2]: v for k, v in series(fams, catalog.GPU_CLOCK_EVENT_REASON).items()
               if k[0] == "0"}
    assert reasons == {"gpu_idle": 0.0, "applications_clocks": 0.0, "sw_power_cap": 1.0,
                       "hw_slowdown": 1.0, "sync_boost": 0.0, "sw_thermal": 0.0,
                       "hw_thermal": 0.0, "hw_power_brake": 0.0, "display_clock": 0.0}
    throttle = {k[2]: v for k, v in series(fams, catalog.GPU_THROTTLE_SECONDS).items()
                if k[0] == "0"}
    assert throttle == {"sw_power_cap": 2.5, "low_utilization": 0.5, "sync_boost": 0.0,
                        "sw_thermal": 0.0, "hw_thermal": 0.0, "hw_power_brake": 0.0,
                        "board_limit": 0.0, "reliability": 0.0}
    assert series(fams, catalog.GPU_ECC_ERRORS) == {
        ("0", U0, "corrected"): 3.0, ("0", U0, "uncorrected"): 1.0,
        ("1", U1, "corrected"): 3.0, ("1", U1, "uncorrected"): 1.0}
    assert {k: v for k, v in series(fams, catalog.GPU_REMAPPED_ROWS).items() if k[0] == "0"} == {
        ("0", U0, "correctable"): 2.0, ("0", U0, "uncorrectable"): 0.0}
    link_errors = {k: v for k, v in series(fams, catalog.GPU_NVLINK_ERRORS).items()
                   if k[0] == "0"}
    assert link_errors == {("0", U0, kind): 12 * 4.0
                           for kind in ("replay", "recovery", "crc_flit", "crc_data")}
    assert errors(fams) == {}
    assert series(fams, catalog.MIG_MEMORY_TOTAL) == {}


POD_SPECS = (catalog.GPU_POD_MEMORY_USED, catalog.GPU_PROCESSES,
             catalog.GPU_ATTRIBUTION_UNMAPPED, catalog.GPU_POD_UTILIZATION,  # the pods collector's
             catalog.GPU_ALLOCATION_INFO, catalog.GPU_ALLOCATABLE_INFO,  # kubelet_pod_resources
             catalog.GPU_JOB_INFO)  # the jobs collector's


def gpu_specs() -> list[MetricSpec]:
    return [s for s in catalog.all_specs()
            if (s.labels[:2] == catalog.GPU or s is catalog.GPUS) and s not in POD_SPECS]


def test_every_gpu_metric_in_the_catalogue_is_published(make):
    names: set[str] = set()
    for scenario in ("load", "mig"):
        fake, collector = make(scenario)
        collector.collect()
        eventually(lambda f=fake: f.watching(0))
        fake.emit_xid(0, 79)
        eventually(lambda c=collector: series(c.collect(), catalog.GPU_XID_ERRORS) != {})
        names |= {fam.name for fam in collector.collect()}
    missing = {s.name for s in gpu_specs() if s.family().name not in names}
    assert missing == set()
    assert len(gpu_specs()) >= 40


def test_families_come_from_the_catalogue(make):
    _, collector = make()
    specs = {s.family().name: s for s in catalog.all_specs()}
    for fam in collector.collect():
        spec = specs[fam.name]
        assert fam.type == spec.type and fam.documentation == spec.help
        for sample in fam.samples:
            assert set(sample.labels) == set(spec.labels)


# --- field-level errors ------------------------------------------------------------------------
def test_unsupported_fields_are_omitted_not_zeroed_and_not_asked_again(make):
    fake, collector = make("unsupported")
    first = collector.collect()
    for spec in (catalog.GPU_ENERGY, catalog.GPU_ECC_ERRORS, catalog.GPU_REMAPPED_ROWS,
                 catalog.GPU_ROW_REMAP_PENDING, catalog.GPU_ROW_REMAP_FAILED,
                 catalog.GPU_PCIE_REPLAYS, catalog.GPU_MEMORY_TEMPERATURE, catalog.GPU_PCIE_TX,
                 catalog.GPU_PCIE_RX, catalog.GPU_NVLINK_LINKS_ACTIVE, catalog.GPU_NVLINK_TX,
                 catalog.GPU_NVLINK_ERRORS, catalog.GPU_MEMORY_RESERVED):
        assert series(first, spec) == {}, spec.name
    assert series(first, catalog.GPU_UP) == {("0", U0): 1.0, ("1", U1): 1.0}
    throttle = {k[2] for k in series(first, catalog.GPU_THROTTLE_SECONDS) if k[0] == "0"}
    assert throttle == {"sw_power_cap", "sync_boost", "sw_thermal", "hw_thermal",
                        "board_limit", "low_utilization"}
    assert {k[5] for k in series(first, catalog.GPU_INFO)} == {""}  # serial unsupported
    per_gpu = {("not_supported",): 10.0, ("no_permission",): 2.0, ("function_not_found",): 2.0}
    for gpu, uuid in (("0", U0), ("1", U1)):
        assert {k[2:]: v for k, v in errors(first).items() if k[:2] == (gpu, uuid)} == per_gpu
    calls = dict(fake.calls)
    second = collector.collect()
    assert errors(second) == errors(first)  # nothing unsupported was asked for again
    for name in ("nvmlDeviceGetTotalEnergyConsumption", "nvmlDeviceGetTotalEccErrors",
                 "nvmlDeviceGetSerial", "nvmlDeviceGetPcieReplayCounter"):
        assert fake.calls[name] == calls[name], name
    assert fake.calls["nvmlDeviceGetPowerUsage"] == calls["nvmlDeviceGetPowerUsage"] + 2


def test_no_permission_omits_that_gpus_series_only(make):
    fake, collector = make()
    fake.fail(0, "nvmlDeviceGetPowerUsage", pynvml.NVML_ERROR_NO_PERMISSION)
    fams = collector.collect()
    assert set(by_gpu(fams, catalog.GPU_POWER_USAGE)) == {"1"}
    assert by_gpu(fams, catalog.GPU_UP) == {"0": 1.0, "1": 1.0}
    assert errors(fams) == {("0", U0, "no_permission"): 1.0}
    collector.collect()
    assert fake.calls["nvmlDeviceGetPowerUsage"] == 3


@pytest.mark.parametrize("code", [pynvml.NVML_ERROR_FUNCTION_NOT_FOUND,
                                  pynvml.NVML_ERROR_ARGUMENT_VERSION_MISMATCH])
def test_memory_info_v2_missing_falls_back_to_v1(make, code):
    fake, collector = make()
    fake.fail(None, "nvmlDeviceGetMemoryInfo_v2", code)
    fake.set(0, memory_used=1000 * MIB)
    fams = collector.collect()
    assert by_gpu(fams, catalog.GPU_MEMORY_USED)["0"] == (1000 + 552) * MIB  # v1 counts reserved
    assert by_gpu(fams, catalog.GPU_MEMORY_TOTAL)["0"] == 81559 * MIB
    assert series(fams, catalog.GPU_MEMORY_RESERVED) == {}
    label = error_label(pynvml.NVMLError(code))
    assert errors(collector.collect()) == {("0", U0, label): 1.0, ("1", U1, label): 1.0}


def test_temperature_v_missing_falls_back_to_the_deprecated_call(make):
    fake, collector = make()
    fake.fail(None, "nvmlDeviceGetTemperatureV", pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
    fake.set(1, temperature=66)
    fams = collector.collect()
    assert by_gpu(fams, catalog.GPU_TEMPERATURE)["1"] == 66.0
    assert fake.calls["nvmlDeviceGetTemperature"] == 2


def test_a_transient_error_costs_one_cycle_only(make):
    fake, collector = make()
    fake.fail(0, "nvmlDeviceGetPowerUsage", pynvml.NVML_ERROR_TIMEOUT, times=1)
    assert set(by_gpu(collector.collect(), catalog.GPU_POWER_USAGE)) == {"1"}
    fams = collector.collect()
    assert set(by_gpu(fams, catalog.GPU_POWER_USAGE)) == {"0", "1"}
    assert errors(fams) == {("0", U0, "timeout"): 1.0}


def test_a_failed_field_in_field_values_omits_that_field(make):
    fake, collector = make()
    fake.fail_field(1, pynvml.NVML_FI_DEV_PCIE_COUNT_TX_BYTES, pynvml.NVML_ERROR_NOT_SUPPORTED)
    fams = collector.collect()
    assert set(by_gpu(fams, catalog.GPU_PCIE_TX)) == {"0"}
    assert set(by_gpu(fams, catalog.GPU_PCIE_RX)) == {"0", "1"}
    assert errors(fams) == {("1", U1, "not_supported"): 1.0}
    fake.fail_field(0, pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX,
                    pynvml.NVML_ERROR_NOT_SUPPORTED)
    assert set(by_gpu(collector.collect(), catalog.GPU_NVLINK_TX)) == {"1"}  # no partial sums


# --- lifecycle errors --------------------------------------------------------------------------
@pytest.mark.parametrize("code", [
    pynvml.NVML_ERROR_GPU_IS_LOST, pynvml.NVML_ERROR_UNINITIALIZED,
    pynvml.NVML_ERROR_DRIVER_NOT_LOADED, pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH,
    pynvml.NVML_ERROR_GPU_NOT_FOUND, pynvml.NVML_ERROR_UNKNOWN, pynvml.NVML_ERROR_RESET_REQUIRED])
def test_lifecycle_errors_mark_only_that_gpu_down(make, code):
    fake, collector = make()
    fake.fail(0, "nvmlDeviceGetEnforcedPowerLimit", code, times=1)
    fams = collector.collect()
    assert series(fams, catalog.GPU_UP) == {("0", U0): 0.0, ("1", U1): 1.0}
    assert set(by_gpu(fams, catalog.GPU_POWER_USAGE)) == {"1"}  # read before the error: dropped
    assert len(series(fams, catalog.GPU_INFO)) == 2
    assert errors(fams) == {("0", U0, error_label(pynvml.NVMLError(code))): 1.0}
    assert series(collector.collect(), catalog.GPU_UP) == {("0", U0): 1.0, ("1", U1): 1.0}
    assert fake.calls["nvmlShutdown"] == 1 and fake.init_attempts == 2


def test_gpu_lost_mid_run_then_back_after_reinit(make):
    fake, collector = make()
    assert by_gpu(collector.collect(), catalog.GPU_UP) == {"0": 1.0, "1": 1.0}
    eventually(lambda: fake.watching(1))  # else the Xid thread's registration also errs
    fake.lose(1)
    fams = collector.collect()
    assert series(fams, catalog.GPU_UP) == {("0", U0): 1.0, ("1", U1): 0.0}
    assert set(by_gpu(fams, catalog.GPU_UTILIZATION)) == {"0"}
    assert set(by_gpu(fams, catalog.GPU_INFO)) == {"0", "1"}
    assert errors(fams) == {("1", U1, "gpu_is_lost"): 1.0}
    fake.restore(1)
    fams = collector.collect()
    assert series(fams, catalog.GPU_UP) == {("0", U0): 1.0, ("1", U1): 1.0}
    assert set(by_gpu(fams, catalog.GPU_UTILIZATION)) == {"0", "1"}
    assert (fake.init_attempts, fake.calls["nvmlShutdown"]) == (2, 1)


def test_gpu_lost_scenario_and_reinit_back_off(make, clock):
    start = clock.t
    fake, collector = make("gpu-lost", lost_gpu=1, lost_at=10.0, lost_for=None)
    collector.collect()
    clock.t = start + 10.0
    ups, inits = [], []
    for _ in range(8):
        ups.append(by_gpu(collector.collect(), catalog.GPU_UP))
        inits.append(fake.init_attempts)
    assert ups == [{"0": 1.0, "1": 0.0}] * 8
    assert inits == [1, 2, 2, 3, 3, 3, 3, 4]  # re-init after 1, then 2, 4 cycles


def test_init_failure_raises_collector_failed_then_recovers(make):
    fake, collector = make("init-failure", init_failures=2)
    for attempt in (1, 2):
        with pytest.raises(CollectorFailed) as failed:
            collector.collect()
        assert "driver_not_loaded" in str(failed.value)
        assert series(failed.value.families, catalog.GPU_UP) == {}  # no GPU known yet
        assert errors(failed.value.families) == {("", "", "driver_not_loaded"): float(attempt)}
    fams = collector.collect()
    assert series(fams, catalog.GPU_UP) == {("0", U0): 1.0, ("1", U1): 1.0}
    assert errors(fams) == {("", "", "driver_not_loaded"): 2.0}


def test_driver_gone_later_reports_known_gpus_down_until_init_works(make):
    fake, collector = make()
    collector.collect()
    fake.fail(None, "nvmlDeviceGetUtilizationRates", pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    fake.fail(None, "nvmlInit", pynvml.NVML_ERROR_DRIVER_NOT_LOADED, times=2)
    assert by_gpu(collector.collect(), catalog.GPU_UP) == {"0": 0.0, "1": 0.0}
    for _ in range(2):
        with pytest.raises(CollectorFailed) as failed:
            collector.collect()
        assert series(failed.value.families, catalog.GPU_UP) == {("0", U0): 0.0, ("1", U1): 0.0}
        assert len(series(failed.value.families, catalog.GPU_INFO)) == 2
    assert errors(failed.value.families)[("", "", "driver_not_loaded")] == 2.0
    fake.clear()
    assert by_gpu(collector.collect(), catalog.GPU_UP) == {"0": 1.0, "1": 1.0}


# --- Xid events --------------------------------------------------------------------------------
def xids(families: list[Metric]) -> dict[tuple[str, ...], float]:
    return series(families, catalog.GPU_XID_ERRORS)


def test_xid_events_are_counted_and_survive_a_lost_gpu_and_reinit(make, clock):
    fake, collector = make()
    collector.collect()
    eventually(lambda: fake.watching(0) and fake.watching(1))
    fake.emit_xid(0, 79)
    fake.emit_xid(0, 79)
    fake.emit_xid(1, 48)
    want = {("0", U0, "79"): 2.0, ("1", U1, "48"): 1.0}
    eventually(lambda: xids(collector.collect()) == want)
    fams = collector.collect()
    assert series(fams, catalog.GPU_XID_LAST) == {k: clock.t for k in want}
    fake.lose(0)
    assert xids(collector.collect()) == want
    fake.restore(0)
    assert by_gpu(collector.collect(), catalog.GPU_UP) == {"0": 1.0, "1": 1.0}  # re-initialised
    assert fake.calls["nvmlEventSetFree"] == 1  # the old session's set, before nvmlShutdown
    eventually(lambda: fake.watching(0) and fake.calls["nvmlEventSetCreate"] == 2)
    fake.emit_xid(0, 94)
    eventually(lambda: xids(collector.collect()) == {**want, ("0", U0, "94"): 1.0})


def test_xid_counts_are_reported_when_init_fails(make):
    fake, collector = make()
    collector.collect()
    eventually(lambda: fake.watching(1))
    fake.emit_xid(1, 79)
    eventually(lambda: xids(collector.collect()) == {("1", U1, "79"): 1.0})
    fake.lose(1)
    fake.fail(None, "nvmlInit", pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    collector.collect()
    with pytest.raises(CollectorFailed) as failed:
        collector.collect()
    assert xids(failed.value.families) == {("1", U1, "79"): 1.0}


def test_xid_scenario_events_arrive_from_the_driver(make, clock):
    fake, collector = make("xid", xid_every=10.0)
    collector.collect()
    eventually(lambda: fake.watching(0))
    clock.t += 35.0
    eventually(lambda: sum(xids(collector.collect()).values()) == 3.0)


def test_unsupported_events_back_off_instead_of_spinning(make):
    fake, collector = make()
    fake.fail(None, "nvmlDeviceRegisterEvents", pynvml.NVML_ERROR_NOT_SUPPORTED)
    collector.collect()
    eventually(lambda: fake.calls["nvmlEventSetFree"] == 1)
    time.sleep(0.05)
    assert fake.calls["nvmlEventSetCreate"] == 1 and fake.calls["nvmlEventSetWait_v2"] == 0
    assert errors(collector.collect()) == {("0", U0, "not_supported"): 1.0,
                                           ("1", U1, "not_supported"): 1.0}


def test_close_stops_the_thread_frees_the_set_and_shuts_nvml_down(make):
    fake, collector = make()
    collector.collect()
    eventually(lambda: fake.watching(0))
    collector.close()
    assert fake.calls["nvmlEventSetFree"] == fake.calls["nvmlEventSetCreate"] == 1
    assert fake.calls["nvmlShutdown"] == 1
    with pytest.raises(pynvml.NVMLError_Uninitialized):
        fake.nvmlDeviceGetCount()
    assert not [t for t in threading.enumerate() if t.name == "nvml-xid" and t.is_alive()]


# --- MIG -----------------------------------------------------------------------------------------
def test_mig_instances_report_their_own_memory(make):
    fake, collector = make("mig")
    fams = collector.collect()
    fake.nvmlInit()
    parent = fake.nvmlDeviceGetHandleByIndex(0)
    used = [fake.nvmlDeviceGetMemoryInfo(fake.nvmlDeviceGetMigDeviceHandleByIndex(parent, i),
                                         version=pynvml.nvmlMemory_v2).used for i in (0, 1)]
    assert series(fams, catalog.MIG_MEMORY_TOTAL) == {
        ("0", U0, "1", "3g.40gb"): 40320.0 * MIB, ("0", U0, "2", "3g.40gb"): 40320.0 * MIB}
    assert series(fams, catalog.MIG_MEMORY_USED) == {
        ("0", U0, "1", "3g.40gb"): float(used[0]), ("0", U0, "2", "3g.40gb"): float(used[1])}
    assert {k[0]: k[-1] for k in series(fams, catalog.GPU_INFO)} == {"0": "enabled",
                                                                     "1": "disabled"}
    assert set(by_gpu(fams, catalog.GPU_UTILIZATION)) == {"1"}  # not supported in MIG mode
    assert errors(fams) == {("0", U0, "not_supported"): 1.0}  # empty slots are not errors


# --- a wedged driver call ----------------------------------------------------------------------
async def test_a_hung_call_times_out_in_the_loop_and_the_next_run_recovers(make):
    fake, collector = make(timeout=0.05)
    loop = CollectorLoop([collector], build_labels=dict)
    entered = fake.hang("nvmlDeviceGetPowerUsage", gpu_index=0)
    await loop.run_once(collector)
    state = loop.states["gpu"]
    assert entered.is_set() and not state.up and state.families == []
    await loop.run_once(collector)  # still stuck: single flight, no second thread
    assert not state.up and fake.calls["nvmlDeviceGetPowerUsage"] == 1
    fake.release()
    await asyncio.wait_for(state.busy, 1.0)
    await loop.run_once(collector)
    assert state.up and by_gpu(state.families, catalog.GPU_UP) == {"0": 1.0, "1": 1.0}


# --- labels --------------------------------------------------------------------------------------
@pytest.mark.parametrize("code, label", [
    (pynvml.NVML_ERROR_GPU_IS_LOST, "gpu_is_lost"),
    (pynvml.NVML_ERROR_NOT_SUPPORTED, "not_supported"),
    (pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH, "lib_rm_version_mismatch"),
    (pynvml.NVML_ERROR_FUNCTION_NOT_FOUND, "function_not_found"),
    (12345, "code_12345"),
])
def test_error_label_is_the_snake_case_class_name(code, label):
    assert error_label(pynvml.NVMLError(code)) == label
