"""GPU metrics read through NVML."""

from inferwatch.catalog.spec import GPU, _c, _g

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
