"""Node and GPU: per-GPU utilisation, memory (per pod too), heat, power, clocks, errors, links;
the host."""

from __future__ import annotations

from inferwatch import catalog as c
from inferwatch.dashboards import board
from inferwatch.dashboards import panels as p
from inferwatch.dashboards.promql import Query, agg, count_where, or_zero, ratio, sel, sum_rate

GPU = ("cluster", "node", "gpu")
PER_GPU = "{{node}} GPU {{gpu}}"
HOST = ("cluster", "node")
TEMPERATURE_STEPS = (("green", None), ("orange", 80.0), ("red", 90.0))


def utilisation() -> p.Row:
    return p.Row("Utilisation and memory", [
        p.bargauge("GPU utilisation", "Fraction of the last sample period a kernel ran, per GPU.",
                   Query(sel(c.GPU_UTILIZATION), PER_GPU), p.RATIO, min=0, max=1, w=8),
        p.timeseries("GPU utilisation over time", "Kernel and memory-copy activity per GPU.",
                     [Query(sel(c.GPU_UTILIZATION), "kernel " + PER_GPU),
                      Query(sel(c.GPU_MEMORY_COPY_UTILIZATION), "memory copy " + PER_GPU)],
                     p.RATIO, min=0, max=1, w=16),
        p.bargauge("GPU memory used", "Device memory in use over device memory, per GPU.",
                   Query(ratio(sel(c.GPU_MEMORY_USED), sel(c.GPU_MEMORY_TOTAL)), PER_GPU),
                   p.RATIO, min=0, max=1, w=8),
        p.timeseries("GPU memory", "Device memory used and total per GPU.",
                     [Query(sel(c.GPU_MEMORY_USED), "used " + PER_GPU),
                      Query(sel(c.GPU_MEMORY_TOTAL), "total " + PER_GPU)],
                     p.unit(c.GPU_MEMORY_USED), min=0, w=16),
    ])


def pods() -> p.Row:
    """GPU memory per pod from the pods collector's join metrics (needs --collector.pods)."""
    used = sel(c.GPU_POD_MEMORY_USED, filters=HOST)  # pod namespaces are not engine namespaces
    return p.Row("GPU memory by pod", [
        p.timeseries("GPU memory by pod", "Device memory held by each pod's processes, "
                     "summed over its containers and GPUs (NVML process memory mapped to pods "
                     "through their cgroups).",
                     [Query(agg("sum", used, HOST + ("namespace", "pod")),
                            "{{node}} {{namespace}}/{{pod}}")],
                     p.unit(c.GPU_POD_MEMORY_USED), min=0, w=12),
        p.table("GPU memory by pod and GPU", "Device memory per GPU, pod and container.",
                [Query(agg("sum", used, GPU + ("namespace", "pod", "container")), "Memory")],
                p.unit(c.GPU_POD_MEMORY_USED), w=8),
        p.stat("Unattributed GPU processes", "GPU processes no known pod owns: host "
               "processes, PIDs the exporter cannot see (no hostPID) or pods the API server "
               "has not reported yet.", Query(agg("sum", sel(c.GPU_ATTRIBUTION_UNMAPPED))),
               p.COUNT, w=4, h=8),
    ])


def heat_and_power() -> p.Row:
    return p.Row("Temperature, power and clocks", [
        p.timeseries("Temperature", "GPU die and HBM temperature per GPU.",
                     [Query(sel(c.GPU_TEMPERATURE), "die " + PER_GPU),
                      Query(sel(c.GPU_MEMORY_TEMPERATURE), "HBM " + PER_GPU)],
                     p.unit(c.GPU_TEMPERATURE), steps=TEMPERATURE_STEPS, w=8),
        p.timeseries("Power against limit", "Power draw over the enforced power limit, per "
                     "GPU; near 1 the GPU is power-capped.",
                     [Query(ratio(sel(c.GPU_POWER_USAGE), sel(c.GPU_POWER_LIMIT)), PER_GPU)],
                     p.RATIO, min=0, max=1, steps=p.HIGH_IS_BAD, w=8),
        p.timeseries("Power draw", "Power draw per GPU.",
                     [Query(sel(c.GPU_POWER_USAGE), PER_GPU)], p.unit(c.GPU_POWER_USAGE), w=8),
        p.timeseries("Clocks", "Current clock frequency per GPU and clock domain.",
                     [Query(sel(c.GPU_CLOCK), PER_GPU + " {{clock}}")], p.unit(c.GPU_CLOCK)),
        p.timeseries("Throttling by reason", "Fraction of time the clocks were held down, per "
                     "GPU and reason (power cap, thermal, sync boost...).",
                     [Query(sum_rate(c.GPU_THROTTLE_SECONDS, GPU + ("reason",)),
                            PER_GPU + " {{reason}}")], p.RATIO, min=0, stack=True),
    ])


def errors() -> p.Row:
    xid_recent = f"{sel(c.GPU_XID_LAST)} > time() - $__range_s"
    return p.Row("Errors and memory health", [
        p.stat("GPUs lost", "GPUs reporting inferwatch_gpu_up 0 (lifecycle error).",
               Query(count_where(c.GPU_UP, "== 0")), p.COUNT,
               steps=p.ANY_IS_BAD, w=6),
        p.stat("Row remap pending", "GPUs waiting for a reset to apply a row remap.",
               Query(count_where(c.GPU_ROW_REMAP_PENDING, "== 1")), p.COUNT,
               steps=p.ANY_IS_BAD, w=6),
        p.stat("Row remap failed", "GPUs whose row remap failed: replace the GPU.",
               Query(count_where(c.GPU_ROW_REMAP_FAILED, "== 1")), p.COUNT,
               steps=p.ANY_IS_BAD, w=6),
        p.stat("GPUs with Xid errors", "GPUs that received an Xid critical error in the "
               "selected time range, from the time of each code's last Xid (so a GPU's first "
               "Xid counts too, which increase() on a counter born at 1 would miss). A "
               "healthy fleet has no Xid series at all, hence 0, not No data.",
               Query(or_zero(agg("count", agg("max", xid_recent, GPU)))), p.COUNT,
               steps=p.ANY_IS_BAD, w=6),
        p.table("Xid errors by GPU and code", "Xid errors per GPU and code since the exporter "
                "started, and seconds since the last one (79: fell off the bus, 48: "
                "double-bit ECC, 13/31/43: application faults).",
                [Query(agg("sum", sel(c.GPU_XID_ERRORS), GPU + ("xid",)), "Xid errors"),
                 Query(agg("min", f"time() - {sel(c.GPU_XID_LAST)}", GPU + ("xid",)),
                       "Seconds since the last")], p.COUNT, w=8),
        p.timeseries("ECC errors", "Volatile ECC errors per GPU, corrected and uncorrected.",
                     [Query(sum_rate(c.GPU_ECC_ERRORS, GPU + ("type",), fn="increase"),
                            PER_GPU + " {{type}}")], p.COUNT, w=8),
        p.timeseries("Remapped rows", "Memory rows remapped per GPU, by cause.",
                     [Query(agg("max", sel(c.GPU_REMAPPED_ROWS), GPU + ("type",)),
                            PER_GPU + " {{type}}")], p.COUNT, w=8),
    ])


def interconnect() -> p.Row:
    return p.Row("PCIe and NVLink", [
        p.timeseries("PCIe traffic", "Bytes per second over PCIe per GPU (receive negative).",
                     [Query(sum_rate(c.GPU_PCIE_TX, GPU), "tx " + PER_GPU),
                      Query("-" + sum_rate(c.GPU_PCIE_RX, GPU), "rx " + PER_GPU)],
                     p.BYTES_PER_SECOND, w=8),
        p.timeseries("NVLink traffic", "Bytes per second over NVLink per GPU (receive "
                     "negative).",
                     [Query(sum_rate(c.GPU_NVLINK_TX, GPU), "tx " + PER_GPU),
                      Query("-" + sum_rate(c.GPU_NVLINK_RX, GPU), "rx " + PER_GPU)],
                     p.BYTES_PER_SECOND, w=8),
        p.timeseries("PCIe replays", "PCIe replay events per second: a rising rate means a "
                     "bad link or riser.",
                     [Query(sum_rate(c.GPU_PCIE_REPLAYS, GPU), PER_GPU)], p.PER_SECOND, w=8),
        p.table("GPU inventory", "Model, driver, PCI bus id and MIG mode of every GPU.",
                [Query(sel(c.GPU_INFO), "GPUs")], p.COUNT),
    ])


def host() -> p.Row:
    cpus = agg("sum", sel(c.HOST_CPUS), HOST)
    per_node = "{{node}}"
    psi = [(c.HOST_PRESSURE_CPU_WAITING, "cpu some"), (c.HOST_PRESSURE_MEMORY_WAITING,
            "memory some"), (c.HOST_PRESSURE_MEMORY_STALLED, "memory full"),
           (c.HOST_PRESSURE_IO_WAITING, "io some"), (c.HOST_PRESSURE_IO_STALLED, "io full")]
    return p.Row("Host", [
        p.timeseries("CPU by mode", "Share of all CPUs spent in each mode, per node.",
                     [Query(f"{sum_rate(c.HOST_CPU_SECONDS, HOST + ('mode',))} "
                            f"/ on (cluster, node) group_left () {cpus}",
                            per_node + " {{mode}}")], p.RATIO, min=0, stack=True, w=8),
        p.timeseries("Memory used", "1 - MemAvailable / MemTotal per node.",
                     [Query(f"1 - {ratio(sel(c.HOST_MEMORY_AVAILABLE), sel(c.HOST_MEMORY_TOTAL))}",
                            per_node)], p.RATIO, min=0, max=1, steps=p.HIGH_IS_BAD, w=8),
        p.timeseries("Pressure stall (PSI)", "Share of time tasks waited (some) or all stalled "
                     "(full) on CPU, memory and IO.",
                     [Query(sum_rate(spec, HOST), f"{per_node} {name}") for spec, name in psi],
                     p.RATIO, min=0, w=8),
        p.timeseries("Filesystem used", "Used share of each filesystem (non-root view).",
                     [Query(f"1 - {ratio(sel(c.HOST_FS_AVAIL), sel(c.HOST_FS_SIZE))}",
                            per_node + " {{mountpoint}}")],
                     p.RATIO, min=0, max=1, steps=p.HIGH_IS_BAD),
        p.timeseries("Network", "Bytes per second per interface (receive negative).",
                     [Query(sum_rate(c.HOST_NET_TX_BYTES, HOST + ("device",)),
                            "tx " + per_node + " {{device}}"),
                      Query("-" + sum_rate(c.HOST_NET_RX_BYTES, HOST + ("device",)),
                            "rx " + per_node + " {{device}}")], p.BYTES_PER_SECOND),
    ])


def build():
    """The node and GPU dashboard."""
    return board.dashboard(
        "inferwatch / Node and GPU", board.UID_NODE,
        "Per GPU utilisation, memory (and per pod), temperature, power, clocks, throttling, Xid "
        "and ECC "
        "errors, row remapping, PCIe and NVLink; host CPU, memory, PSI, disk and network.",
        [utilisation(), pods(), heat_and_power(), errors(), interconnect(), host()])
