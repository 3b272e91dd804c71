"""Kubernetes: GPU-to-pod attribution (join metrics) and discovery."""

from inferwatch.catalog.spec import COUNTER, GAUGE, GPU, MetricSpec

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
GPU_JOB_INFO = MetricSpec(
    "inferwatch_gpu_job_info", GAUGE,
    "1 for each HPC (Slurm) job using the GPU or MIG device (uuid): from dcgm-exporter's "
    "job-mapping directory and the Slurm cgroups of the GPU's processes.",
    GPU + ("hpc_job",))
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
