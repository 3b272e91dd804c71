"""The metric catalogue: every metric inferwatch publishes, declared once.

The exporter builds its families from these specs, and the dashboards and rules refer to the
spec objects (never to string literals). Names follow reference/metrics.md; the fixed ones
there must never be renamed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

GAUGE, COUNTER, HISTOGRAM = "gauge", "counter", "histogram"


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its exposed name, type, unit, help text and label names."""

    name: str
    type: str
    help: str
    labels: tuple[str, ...] = ()
    unit: str = ""
    buckets: tuple[float, ...] = ()  # canonical upper bounds (histograms only, no +Inf)

    def family(self, labels: Iterable[str] | None = None) -> Metric:
        """A fresh, empty prometheus_client family for this metric."""
        names = list(self.labels if labels is None else labels)
        if self.type == COUNTER:
            return CounterMetricFamily(self.name, self.help, labels=names, unit=self.unit)
        if self.type == HISTOGRAM:
            return HistogramMetricFamily(self.name, self.help, labels=names, unit=self.unit)
        return GaugeMetricFamily(self.name, self.help, labels=names, unit=self.unit)

    @property
    def series_names(self) -> tuple[str, ...]:
        """The sample names a query may use (`_bucket`/`_sum`/`_count` for histograms)."""
        if self.type == HISTOGRAM:
            return tuple(self.name + s for s in ("_bucket", "_sum", "_count"))
        return (self.name,)


GPU = ("gpu", "uuid")
ENGINE = ("engine", "model", "target")
COLLECTOR = ("collector",)
FS = ("device", "fstype", "mountpoint")


def _g(name, help, labels=(), unit=""):
    return MetricSpec(name, GAUGE, help, tuple(labels), unit)


def _c(name, help, labels=(), unit=""):
    return MetricSpec(name, COUNTER, help, tuple(labels), unit)


def _h(name, help, buckets, labels=ENGINE):
    return MetricSpec(name, HISTOGRAM, help, tuple(labels), "seconds", tuple(buckets))


# --- GPU (NVML) -----------------------------------------------------------------------------
GPU_INFO = _g("inferwatch_gpu_info", "GPU identity; value is always 1.", GPU + (
    "name", "pci_bus_id", "minor_number", "serial", "vbios_version", "driver_version",
    "cuda_driver_version", "compute_capability", "mig_mode"))
GPU_UP = _g("inferwatch_gpu_up", "1 when this cycle's NVML reads of the GPU succeeded, 0 after "
            "a lifecycle error (GPU lost, driver gone).", GPU)
GPUS = _g("inferwatch_gpus", "Number of GPUs NVML reports on this node.")
GPU_UTILIZATION = _g("inferwatch_gpu_utilization_ratio", "Fraction of the last driver sample "
                     "period in which a kernel ran (nvmlDeviceGetUtilizationRates().gpu).", GPU,
                     "ratio")
GPU_MEMORY_COPY_UTILIZATION = _g("inferwatch_gpu_memory_copy_utilization_ratio", "Fraction of "
                                 "the sample period in which device memory was read or written.",
                                 GPU, "ratio")
GPU_ENCODER_UTILIZATION = _g("inferwatch_gpu_encoder_utilization_ratio", "Video encoder "
                             "utilisation.", GPU, "ratio")
GPU_DECODER_UTILIZATION = _g("inferwatch_gpu_decoder_utilization_ratio", "Video decoder "
                             "utilisation.", GPU, "ratio")
GPU_MEMORY_TOTAL = _g("inferwatch_gpu_memory_total_bytes", "Total device memory.", GPU, "bytes")
GPU_MEMORY_USED = _g("inferwatch_gpu_memory_used_bytes", "Device memory in use (memory info "
                     "v2, v1 fallback).", GPU, "bytes")
GPU_MEMORY_FREE = _g("inferwatch_gpu_memory_free_bytes", "Free device memory.", GPU, "bytes")
GPU_MEMORY_RESERVED = _g("inferwatch_gpu_memory_reserved_bytes", "Device memory reserved by "
                         "the driver (memory info v2 only).", GPU, "bytes")
GPU_TEMPERATURE = _g("inferwatch_gpu_temperature_celsius", "GPU die temperature.", GPU,
                     "celsius")
GPU_MEMORY_TEMPERATURE = _g("inferwatch_gpu_memory_temperature_celsius", "HBM temperature.",
                            GPU, "celsius")
GPU_SLOWDOWN_TEMPERATURE = _g("inferwatch_gpu_temperature_slowdown_threshold_celsius",
                              "Temperature at which the GPU starts to slow down.", GPU,
                              "celsius")
GPU_POWER_USAGE = _g("inferwatch_gpu_power_usage_watts", "Power draw (a 1 s average on Ampere "
                     "and newer).", GPU, "watts")
GPU_POWER_LIMIT = _g("inferwatch_gpu_power_limit_watts", "Enforced power limit.", GPU, "watts")
GPU_ENERGY = _c("inferwatch_gpu_energy_joules_total", "Energy consumed since the driver was "
                "loaded.", GPU, "joules")
GPU_PERFORMANCE_STATE = _g("inferwatch_gpu_performance_state", "Performance state, 0 (max) to "
                           "15 (min).", GPU)
GPU_CLOCK = _g("inferwatch_gpu_clock_hertz", "Current clock frequency.", GPU + ("clock",),
               "hertz")
GPU_CLOCK_MAX = _g("inferwatch_gpu_clock_max_hertz", "Maximum clock frequency.",
                   GPU + ("clock",), "hertz")
GPU_CLOCK_EVENT_REASON = _g("inferwatch_gpu_clock_event_reason_active", "1 while this clock "
                            "event (throttle) reason is active.", GPU + ("reason",))
GPU_THROTTLE_SECONDS = _c("inferwatch_gpu_throttle_seconds_total", "Time the clocks were held "
                          "down for this reason.", GPU + ("reason",), "seconds")
GPU_XID_ERRORS = _c("inferwatch_gpu_xid_errors_total", "Xid critical errors received from NVML "
                    "events since the exporter started.", GPU + ("xid",))
GPU_XID_LAST = _g("inferwatch_gpu_xid_last_timestamp_seconds", "Unix time the last Xid of this "
                  "code was received.", GPU + ("xid",), "seconds")
GPU_ECC_ERRORS = _c("inferwatch_gpu_ecc_errors_total", "Volatile ECC memory errors.",
                    GPU + ("type",))
GPU_REMAPPED_ROWS = _g("inferwatch_gpu_remapped_rows", "Memory rows remapped.", GPU + ("type",))
GPU_ROW_REMAP_PENDING = _g("inferwatch_gpu_row_remap_pending", "1 when a row remap waits for "
                           "a GPU reset.", GPU)
GPU_ROW_REMAP_FAILED = _g("inferwatch_gpu_row_remap_failed", "1 when a row remap failed.", GPU)
GPU_PCIE_REPLAYS = _c("inferwatch_gpu_pcie_replays_total", "PCIe replay events.", GPU)
GPU_PCIE_TX = _c("inferwatch_gpu_pcie_transmit_bytes_total", "Bytes sent over PCIe.", GPU,
                 "bytes")
GPU_PCIE_RX = _c("inferwatch_gpu_pcie_receive_bytes_total", "Bytes received over PCIe.", GPU,
                 "bytes")
GPU_PCIE_LINK_GENERATION = _g("inferwatch_gpu_pcie_link_generation", "Current PCIe link "
                              "generation.", GPU)
GPU_PCIE_LINK_WIDTH = _g("inferwatch_gpu_pcie_link_width", "Current PCIe link width in lanes.",
                         GPU)
GPU_NVLINK_TX = _c("inferwatch_gpu_nvlink_transmit_bytes_total", "Bytes sent over NVLink.", GPU,
                   "bytes")
GPU_NVLINK_RX = _c("inferwatch_gpu_nvlink_receive_bytes_total", "Bytes received over NVLink.",
                   GPU, "bytes")
GPU_NVLINK_LINKS_ACTIVE = _g("inferwatch_gpu_nvlink_links_active", "NVLink links up.", GPU)
GPU_NVLINK_ERRORS = _c("inferwatch_gpu_nvlink_errors_total", "NVLink data-link errors, summed "
                       "over the GPU's active links.", GPU + ("type",))
MIG_MEMORY_TOTAL = _g("inferwatch_mig_memory_total_bytes", "Memory of a MIG GPU instance.",
                      GPU + ("gpu_instance", "mig_profile"), "bytes")
MIG_MEMORY_USED = _g("inferwatch_mig_memory_used_bytes", "Memory used in a MIG GPU instance.",
                     GPU + ("gpu_instance", "mig_profile"), "bytes")
NVML_ERRORS = _c("inferwatch_nvml_errors_total", "NVML errors seen, by GPU and error class.",
                 GPU + ("error",))

# --- Host (psutil, /proc; node_exporter-shaped) ---------------------------------------------
HOST_CPU_SECONDS = _c("inferwatch_host_cpu_seconds_total", "Seconds all CPUs spent in each "
                      "mode.", ("mode",), "seconds")
HOST_CPUS = _g("inferwatch_host_cpus", "Number of logical CPUs.")
HOST_LOAD1 = _g("inferwatch_host_load1", "1-minute load average.")
HOST_LOAD5 = _g("inferwatch_host_load5", "5-minute load average.")
HOST_LOAD15 = _g("inferwatch_host_load15", "15-minute load average.")
HOST_MEMORY_TOTAL = _g("inferwatch_host_memory_total_bytes", "Total memory (MemTotal).",
                       unit="bytes")
HOST_MEMORY_AVAILABLE = _g("inferwatch_host_memory_available_bytes", "Memory available for "
                           "new work (MemAvailable).", unit="bytes")
HOST_MEMORY_FREE = _g("inferwatch_host_memory_free_bytes", "Unused memory (MemFree).",
                      unit="bytes")
HOST_MEMORY_CACHED = _g("inferwatch_host_memory_cached_bytes", "Page cache (Cached).",
                        unit="bytes")
HOST_MEMORY_BUFFERS = _g("inferwatch_host_memory_buffers_bytes", "Buffers.", unit="bytes")
HOST_SWAP_TOTAL = _g("inferwatch_host_memory_swap_total_bytes", "Total swap (SwapTotal).",
                     unit="bytes")
HOST_SWAP_FREE = _g("inferwatch_host_memory_swap_free_bytes", "Free swap (SwapFree).",
                    unit="bytes")
HOST_FS_SIZE = _g("inferwatch_host_filesystem_size_bytes", "Filesystem size.", FS, "bytes")
HOST_FS_FREE = _g("inferwatch_host_filesystem_free_bytes", "Free bytes, root's reserve "
                  "included.", FS, "bytes")
HOST_FS_AVAIL = _g("inferwatch_host_filesystem_avail_bytes", "Bytes available to non-root "
                   "users.", FS, "bytes")
HOST_FS_FILES = _g("inferwatch_host_filesystem_files", "Inodes.", FS)
HOST_FS_FILES_FREE = _g("inferwatch_host_filesystem_files_free", "Free inodes.", FS)
HOST_FS_READONLY = _g("inferwatch_host_filesystem_readonly", "1 when mounted read-only.", FS)
HOST_FS_DEVICE_ERROR = _g("inferwatch_host_filesystem_device_error", "1 when statfs failed or "
                          "timed out for this mount.", FS)
_NET = ("device",)
HOST_NET_RX_BYTES = _c("inferwatch_host_network_receive_bytes_total", "Bytes received.", _NET,
                       "bytes")
HOST_NET_TX_BYTES = _c("inferwatch_host_network_transmit_bytes_total", "Bytes sent.", _NET,
                       "bytes")
HOST_NET_RX_PACKETS = _c("inferwatch_host_network_receive_packets_total", "Packets received.",
                         _NET)
HOST_NET_TX_PACKETS = _c("inferwatch_host_network_transmit_packets_total", "Packets sent.",
                         _NET)
HOST_NET_RX_ERRS = _c("inferwatch_host_network_receive_errs_total", "Receive errors.", _NET)
HOST_NET_TX_ERRS = _c("inferwatch_host_network_transmit_errs_total", "Transmit errors.", _NET)
HOST_NET_RX_DROP = _c("inferwatch_host_network_receive_drop_total", "Received packets "
                      "dropped.", _NET)
HOST_NET_TX_DROP = _c("inferwatch_host_network_transmit_drop_total", "Sent packets dropped.",
                      _NET)
HOST_PRESSURE_CPU_WAITING = _c("inferwatch_host_pressure_cpu_waiting_seconds_total", "Time some "
                               "tasks waited for CPU (/proc/pressure/cpu).", unit="seconds")
HOST_PRESSURE_MEMORY_WAITING = _c("inferwatch_host_pressure_memory_waiting_seconds_total",
                                  "Time some tasks waited for memory.", unit="seconds")
HOST_PRESSURE_MEMORY_STALLED = _c("inferwatch_host_pressure_memory_stalled_seconds_total",
                                  "Time all non-idle tasks stalled on memory.", unit="seconds")
HOST_PRESSURE_IO_WAITING = _c("inferwatch_host_pressure_io_waiting_seconds_total", "Time some "
                              "tasks waited for IO.", unit="seconds")
HOST_PRESSURE_IO_STALLED = _c("inferwatch_host_pressure_io_stalled_seconds_total", "Time all "
                              "non-idle tasks stalled on IO.", unit="seconds")
_DISK = ("device",)
HOST_DISK_READS_COMPLETED = _c("inferwatch_host_disk_reads_completed_total", "Reads completed "
                               "(/proc/diskstats).", _DISK)
HOST_DISK_WRITES_COMPLETED = _c("inferwatch_host_disk_writes_completed_total", "Writes "
                                "completed.", _DISK)
HOST_DISK_READ_BYTES = _c("inferwatch_host_disk_read_bytes_total", "Bytes read (512-byte "
                          "sectors).", _DISK, "bytes")
HOST_DISK_WRITTEN_BYTES = _c("inferwatch_host_disk_written_bytes_total", "Bytes written "
                             "(512-byte sectors).", _DISK, "bytes")
HOST_DISK_READ_TIME = _c("inferwatch_host_disk_read_time_seconds_total", "Time spent by all "
                         "reads.", _DISK, "seconds")
HOST_DISK_WRITE_TIME = _c("inferwatch_host_disk_write_time_seconds_total", "Time spent by all "
                          "writes.", _DISK, "seconds")
HOST_DISK_IO_NOW = _g("inferwatch_host_disk_io_now", "I/Os in progress.", _DISK)
HOST_DISK_IO_TIME = _c("inferwatch_host_disk_io_time_seconds_total", "Time with I/Os in "
                       "progress (busy time).", _DISK, "seconds")
HOST_DISK_IO_TIME_WEIGHTED = _c("inferwatch_host_disk_io_time_weighted_seconds_total", "I/O "
                                "time weighted by the I/Os in progress (queue length over "
                                "time).", _DISK, "seconds")
_MD = ("device", "state")
HOST_MD_DISKS = _g("inferwatch_host_md_disks", "Disks of an md (software RAID) array by state "
                   "(active, failed, spare), from /proc/mdstat.", _MD)
HOST_MD_STATE = _g("inferwatch_host_md_state", "1 for the md array's current state (active, "
                   "inactive, recovering, resync, check), 0 for the others.", _MD)

# --- Kubernetes: GPU-to-pod attribution (join metrics) and discovery ----------------------
POD = ("namespace", "pod", "container")

GPU_POD_MEMORY_USED = MetricSpec(
    "inferwatch_gpu_pod_memory_used_bytes", GAUGE,
    "GPU memory used by a pod's container: the sum of usedGpuMemory of its processes "
    "(NVML compute and graphics processes, mapped through /proc/<pid>/cgroup).",
    GPU + POD, "bytes")
GPU_PROCESSES = MetricSpec(
    "inferwatch_gpu_processes", GAUGE,
    "Processes running on the GPU (compute and graphics, each PID once); 0 when idle.", GPU)
GPU_ATTRIBUTION_UNMAPPED = MetricSpec(
    "inferwatch_gpu_attribution_unmapped_processes", GAUGE,
    "GPU processes not attributed to a known pod: host processes, PIDs not visible "
    "(no hostPID), or pods the API server has not reported yet.", GPU)
GPU_POD_UTILIZATION = MetricSpec(
    "inferwatch_gpu_pod_utilization_ratio", GAUGE,
    "Share of the GPU's SM time a pod's container used over the last interval: the mean "
    "smUtil of its processes' NVML samples (nvmlDeviceGetProcessUtilization), summed per "
    "container; 0 for a container with a process on the GPU but no sample.", GPU + POD, "ratio")
GPU_ALLOCATION_INFO = MetricSpec(
    "inferwatch_gpu_allocation_info", GAUGE,
    "1 for each GPU or MIG device (uuid) the kubelet allocated to a container, busy or idle "
    "(pod-resources API); gpu is the GPU's index (a MIG device's parent), empty without NVML.",
    GPU + POD + ("resource",))
GPU_ALLOCATABLE_INFO = MetricSpec(
    "inferwatch_gpu_allocatable_info", GAUGE,
    "1 for each GPU or MIG device the kubelet can allocate (pod-resources "
    "GetAllocatableResources); absent where the kubelet lacks that call.", GPU + ("resource",))
KUBERNETES_PODS = MetricSpec(
    "inferwatch_kubernetes_pods", GAUGE,
    "Pods on this node known to the exporter's list/watch of the API server.")
KUBERNETES_TARGETS = MetricSpec(
    "inferwatch_kubernetes_discovered_targets", GAUGE,
    "Engine targets discovered from pod annotations on this node.")
KUBERNETES_INVALID_TARGETS = MetricSpec(
    "inferwatch_kubernetes_invalid_targets", GAUGE,
    "Pods annotated inferwatch.io/scrape=true whose annotations cannot make a target.")
KUBERNETES_SYNCED = MetricSpec(
    "inferwatch_kubernetes_synced", GAUGE,
    "1 while the pod watch is current (listed and watching), 0 while it recovers.")
KUBERNETES_WATCH_RESTARTS = MetricSpec(
    "inferwatch_kubernetes_watch_restarts_total", COUNTER,
    "Pod list/watch restarts, by reason (expired: 410 Gone; error: request failed; "
    "closed: the server ended the watch).", ("reason",))


# --- Inference engines ----------------------------------------------------------------------
TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60, 120, 300)
ITL_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5)
REQUEST_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800)

ENGINE_UP = _g("inferwatch_engine_up", "1 when the last scrape of this engine target "
               "succeeded.", ENGINE)
ENGINE_KV_CACHE_USAGE = _g("inferwatch_engine_kv_cache_usage_ratio", "Fraction of the KV "
                           "cache in use (capacity-weighted across ranks, never summed).",
                           ENGINE, "ratio")
ENGINE_REQUESTS_WAITING = _g("inferwatch_engine_requests_waiting", "Requests queued in the "
                             "engine scheduler.", ENGINE)
ENGINE_REQUESTS_RUNNING = _g("inferwatch_engine_requests_running", "Requests in the running "
                             "batch.", ENGINE)
ENGINE_TTFT = _h("inferwatch_engine_time_to_first_token_seconds", "Time to first token, "
                 "re-bucketed onto canonical buckets.", TTFT_BUCKETS)
ENGINE_ITL = _h("inferwatch_engine_inter_token_latency_seconds", "Time between output steps, "
                "re-bucketed onto canonical buckets.", ITL_BUCKETS)
ENGINE_REQUEST_DURATION = _h("inferwatch_engine_request_duration_seconds", "End-to-end request "
                             "latency, re-bucketed onto canonical buckets.", REQUEST_BUCKETS)
ENGINE_QUEUE_DURATION = _h("inferwatch_engine_request_queue_duration_seconds", "Time requests "
                           "spent queued, re-bucketed onto canonical buckets.", REQUEST_BUCKETS)
ENGINE_PROMPT_TOKENS = _c("inferwatch_engine_prompt_tokens_total", "Prompt tokens processed.",
                          ENGINE)
ENGINE_GENERATION_TOKENS = _c("inferwatch_engine_generation_tokens_total", "Tokens generated.",
                              ENGINE)
ENGINE_PREEMPTIONS = _c("inferwatch_engine_preemptions_total", "Requests preempted (vLLM) or "
                        "retracted (SGLang).", ENGINE)
ENGINE_REQUESTS_FINISHED = _c("inferwatch_engine_requests_finished_total", "Requests finished, "
                              "by reason (stop, length, abort, error, rejected, other).",
                              ENGINE + ("reason",))

TOKEN_BUCKETS = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072)
ENGINE_TARGET = ("engine", "target")

ENGINE_SCRAPE_DURATION = _g("inferwatch_engine_scrape_duration_seconds", "Duration of the last "
                            "scrape of this engine target, fetch, parse and mapping included.",
                            ENGINE, "seconds")
ENGINE_SOURCE_INFO = _g("inferwatch_engine_source_info", "The native metric that fed each "
                        "normalised concept in the last scrape; value is always 1.",
                        ENGINE + ("concept", "source_metric"))
ENGINE_SOURCE_LOST = _g("inferwatch_engine_source_lost", "1 while a concept that had a native "
                        "source earlier has none (a rename or removal in the engine).",
                        ENGINE + ("concept", "source_metric"))
ENGINE_UNMAPPED_FAMILIES = _g("inferwatch_engine_unmapped_families", "Native metric families "
                              "of the last scrape that no mapping knows (new or renamed "
                              "metrics).", ENGINE_TARGET)
ENGINE_SCRAPE_LIMIT_EXCEEDED = _c("inferwatch_engine_scrape_limit_exceeded_total", "Scrapes "
                                  "of this engine target refused for breaking a limit "
                                  "(sample_limit, label_limit, label_name_length_limit, "
                                  "label_value_length_limit); the target is down meanwhile.",
                                  ("target", "limit"))
ENGINE_REQUESTS_CAPACITY = _g("inferwatch_engine_requests_capacity", "Most requests the engine "
                              "runs at once (max batch size or slots).", ENGINE)
ENGINE_KV_CACHE_CAPACITY = _g("inferwatch_engine_kv_cache_capacity_tokens", "Allocatable KV "
                              "cache capacity in tokens, summed across ranks.", ENGINE)
ENGINE_BATCH_MAX_TOKENS = _g("inferwatch_engine_batch_max_tokens", "Token budget of the "
                             "current batch.", ENGINE)
ENGINE_PROMPT_CACHED_TOKENS = _c("inferwatch_engine_prompt_cached_tokens_total", "Prompt tokens "
                                 "served from the prefix cache.", ENGINE)
ENGINE_PREFIX_QUERIED_TOKENS = _c("inferwatch_engine_prefix_cache_queried_tokens_total",
                                  "Prompt tokens looked up in the prefix cache.", ENGINE)
ENGINE_PREFIX_HIT_TOKENS = _c("inferwatch_engine_prefix_cache_hit_tokens_total", "Prompt "
                              "tokens found in the prefix cache.", ENGINE)
ENGINE_PREFIX_HIT_RATIO = _g("inferwatch_engine_prefix_cache_hit_ratio", "Prefix-cache hit "
                             "ratio as the engine computes it (only where it has no counters).",
                             ENGINE, "ratio")
ENGINE_TPOT = _h("inferwatch_engine_time_per_output_token_seconds", "Per-request mean time per "
                 "output token, re-bucketed onto canonical buckets.", ITL_BUCKETS)
ENGINE_REQUEST_PROMPT_TOKENS = MetricSpec(
    "inferwatch_engine_request_prompt_tokens", HISTOGRAM, "Prompt length per request, "
    "re-bucketed onto canonical buckets.", ENGINE, "", TOKEN_BUCKETS)
ENGINE_REQUEST_GENERATION_TOKENS = MetricSpec(
    "inferwatch_engine_request_generation_tokens", HISTOGRAM, "Generated tokens per request, "
    "re-bucketed onto canonical buckets.", ENGINE, "", TOKEN_BUCKETS)
ENGINE_SLEEP_STATE = _g("inferwatch_engine_sleep_state", "Engine ranks in each sleep state "
                        "(awake, weights_offloaded, discard_all): asleep is not idle.",
                        ENGINE + ("state",))
ENGINE_WAITING_BY_REASON = _g("inferwatch_engine_requests_waiting_by_reason", "Requests queued, "
                              "by why they wait (capacity, deferred).", ENGINE + ("reason",))
ENGINE_LORA_ADAPTERS = _g("inferwatch_engine_lora_adapters", "LoRA adapters with requests "
                          "running or waiting, by state.", ENGINE + ("state",))
ENGINE_LORA_ADAPTERS_MAX = _g("inferwatch_engine_lora_adapters_max", "Most LoRA adapters held "
                              "at once (max_loras).", ENGINE)
ENGINE_SPEC_DRAFT_TOKENS = _c("inferwatch_engine_spec_decode_draft_tokens_total", "Tokens "
                              "proposed by speculative decoding.", ENGINE)
ENGINE_SPEC_ACCEPTED_TOKENS = _c("inferwatch_engine_spec_decode_accepted_tokens_total", "Draft "
                                 "tokens accepted by the target model.", ENGINE)
ENGINE_SPEC_ACCEPT_LENGTH = _g("inferwatch_engine_spec_decode_accept_length", "Mean tokens "
                               "accepted per speculative step as the engine computes it.", ENGINE)

# --- The exporter itself --------------------------------------------------------------------
COLLECTOR_UP = _g("inferwatch_collector_up", "1 when the collector's last run succeeded, 0 when "
                  "it failed or timed out.", COLLECTOR)
COLLECTOR_DURATION = _g("inferwatch_collector_duration_seconds", "Duration of the collector's "
                        "last run.", COLLECTOR, "seconds")
COLLECTOR_LAST_SUCCESS = _g("inferwatch_collector_last_success_timestamp_seconds", "Unix time of "
                            "the collector's last successful run.", COLLECTOR, "seconds")
OTLP_EXPORTS = _c("inferwatch_otlp_exports_total", "OTLP pushes of the snapshot, by result "
                  "(success, failure).", ("result",))
BUILD_INFO = _g("inferwatch_build_info", "Build and runtime versions; value is always 1.",
                ("version", "python_version", "nvml_version"))


def all_specs() -> tuple[MetricSpec, ...]:
    """Every spec declared in this module, in declaration order."""
    return tuple(v for v in globals().values() if isinstance(v, MetricSpec))


def by_name() -> dict[str, MetricSpec]:
    """Specs keyed by their exposed family name."""
    return {s.name: s for s in all_specs()}
