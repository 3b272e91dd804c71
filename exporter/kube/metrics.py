"""The metric specs of Kubernetes discovery and GPU-to-pod attribution.

Built with the catalogue's MetricSpec so they move into exporter/catalog.py as a paste; the
names follow gpu-exporters.md §10.7 with the inferwatch_ prefix. Attribution is published as
join metrics: device series stay per GPU and queries join on `uuid`.
"""

from __future__ import annotations

from exporter.catalog import COUNTER, GAUGE, GPU, MetricSpec

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

SPECS = (GPU_POD_MEMORY_USED, GPU_PROCESSES, GPU_ATTRIBUTION_UNMAPPED, KUBERNETES_PODS,
         KUBERNETES_TARGETS, KUBERNETES_INVALID_TARGETS, KUBERNETES_SYNCED,
         KUBERNETES_WATCH_RESTARTS)
