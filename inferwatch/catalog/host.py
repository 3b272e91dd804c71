"""Host metrics, node_exporter-shaped (procfs, sysfs)."""

from inferwatch.catalog.spec import FS, _c, _g

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
