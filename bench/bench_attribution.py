"""GPU attribution's CPU per cycle: 8 GPUs and 50 pods, beside the GPU collector's own cost.

One cycle of each attribution collector over the fake NVML: the pods collector (compute and
graphics processes, nvmlDeviceGetProcessUtilization, /proc/<pid>/stat and cgroup lookups
through a procfs tree of the 50 pods' processes, the pod directory), the kubelet pod-resources
collector (a gRPC `List` and `GetAllocatableResources` of 50 pods against a loopback kubelet
in a child process, so its CPU is not ours), and the jobs collector (a job-mapping directory
of 8 files and the processes' Slurm cgroups). Baseline in the same run: the GPU collector's
cycle over the same 8 GPUs. CPU is this process's (time.process_time, all threads), per
cycle; the fake NVML's Python cost is included (a real NVML call is C). Target: attribution
at most 5 ms of CPU a cycle.

Run from the repository root: `python bench/bench_attribution.py [--cycles N]`.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inferwatch.exporter.collectors.gpu import GpuCollector  # noqa: E402
from inferwatch.exporter.collectors.jobs import JobCollector  # noqa: E402
from inferwatch.exporter.collectors.pods import PodAttributionCollector  # noqa: E402
from inferwatch.exporter.kube.allocation import AllocationCollector  # noqa: E402
from inferwatch.exporter.kube.podresources import PodResourcesClient  # noqa: E402
from inferwatch.exporter.kube.pods import PodDirectory  # noqa: E402
from inferwatch.simulate.nvml.fake import MIB, FakeNVML  # noqa: E402

GPUS, PODS, PID_BASE = 8, 50, 20000
TARGET_MS = 5.0

KUBELET = """
import sys, time
from concurrent import futures
import grpc
from inferwatch.exporter.kube import podresources_pb2 as pb, podresources_pb2_grpc as pb_grpc
pods, gpus, sock = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
uuids = [f"GPU-{i:08x}-5eed-4a3e-9c1d-0000fa4e{i:04x}" for i in range(gpus)]
answer = pb.ListPodResourcesResponse(pod_resources=[pb.PodResources(
    namespace="bench", name=f"pod-{p}", containers=[pb.ContainerResources(name="main", devices=[
        pb.ContainerDevices(resource_name="nvidia.com/gpu",
                            device_ids=[f"{uuids[p % gpus]}::{p // gpus}"])])])
    for p in range(pods)])
alloc = pb.AllocatableResourcesResponse(devices=[pb.ContainerDevices(
    resource_name="nvidia.com/gpu", device_ids=uuids)])
class K(pb_grpc.PodResourcesListerServicer):
    def List(self, request, context): return answer
    def GetAllocatableResources(self, request, context): return alloc
server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
pb_grpc.add_PodResourcesListerServicer_to_server(K(), server)
server.add_insecure_port("unix://" + sock)
server.start()
print("ready", flush=True)
server.wait_for_termination()
"""


def node(root: Path) -> tuple[FakeNVML, PodDirectory, Path, Path]:
    """8 GPUs, 50 pods with one process each (pod p on GPU p % 8, time-sliced), their procfs
    entries (systemd cgroup layout, a Slurm job for every fifth), the pod directory and a
    job-mapping directory."""
    lib = FakeNVML(gpus=GPUS, scenario="load")
    procfs, jobs = root / "proc", root / "jobs"
    jobs.mkdir()
    pods = []
    for gpu in range(GPUS):
        pids = [p for p in range(PODS) if p % GPUS == gpu]
        lib.set_processes(gpu, compute=[(PID_BASE + p, 4096 * MIB) for p in pids])
        (jobs / str(gpu)).write_text("".join(f"{1000 + p} 1000\n" for p in pids))
    for p in range(PODS):
        uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{p}"))
        cid = hashlib.sha256(uid.encode()).hexdigest()
        d = procfs / str(PID_BASE + p)
        d.mkdir(parents=True)
        cgroup = (f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
                  f"{uid.replace('-', '_')}.slice/cri-containerd-{cid}.scope\n")
        if p % 5 == 0:
            cgroup = f"0::/system.slice/slurmstepd.scope/job_{1000 + p}/step_0/user/task_0\n"
        (d / "cgroup").write_text(cgroup)
        (d / "stat").write_text(f"{PID_BASE + p} (python3) S {' '.join(['1'] * 18)} 4242 0\n")
        pods.append({"metadata": {"name": f"pod-{p}", "namespace": "bench", "uid": uid},
                     "status": {"containerStatuses": [
                         {"name": "main", "containerID": f"containerd://{cid}"}]}})
    directory = PodDirectory()
    directory.replace(pods)
    return lib, directory, procfs, jobs


def cpu_ms(collect, cycles: int) -> tuple[float, float, float]:
    """(first cycle, median, p95) of CPU ms per cycle."""
    times = []
    for _ in range(cycles + 1):
        start = time.process_time()
        families = collect()
        times.append((time.process_time() - start) * 1000)
        assert families, "a cycle reported nothing"
    rest = sorted(times[1:])
    return times[0], statistics.median(rest), rest[int(0.95 * (len(rest) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lib, directory, procfs, jobs = node(Path(tmp))
        sock = str(Path(tmp) / "kubelet.sock")
        kubelet = subprocess.Popen([sys.executable, "-c", KUBELET, str(PODS), str(GPUS), sock],
                                   stdout=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            assert kubelet.stdout is not None and kubelet.stdout.readline().strip() == "ready"
            gpu = GpuCollector(lib)
            pods = PodAttributionCollector(lib, directory, procfs=str(procfs))
            alloc = AllocationCollector(PodResourcesClient(sock), lib)
            job = JobCollector(lib, str(jobs), procfs=str(procfs))
            rows = {"gpu collector (baseline)": cpu_ms(gpu.collect, args.cycles),
                    "pods: processes, process utilization, cgroups": cpu_ms(pods.collect,
                                                                             args.cycles),
                    "kubelet pod-resources: List + allocatable": cpu_ms(alloc.collect,
                                                                        args.cycles),
                    "jobs: mapping directory + Slurm cgroups": cpu_ms(job.collect,
                                                                      args.cycles)}
            for c in (gpu, pods, alloc, job):
                c.close()
        finally:
            kubelet.terminate()
            kubelet.wait(timeout=10)
    print(f"{GPUS} GPUs, {PODS} pods, {args.cycles} cycles; CPU ms per cycle "
          "(first / median / p95)")
    for name, (first, median, p95) in rows.items():
        print(f"  {name:<50} {first:7.2f} {median:7.2f} {p95:7.2f}")
    attribution = sum(r[1] for name, r in rows.items() if "baseline" not in name)
    baseline = rows["gpu collector (baseline)"][1]
    verdict = "ok" if attribution <= TARGET_MS else "over"
    print(f"attribution total (median): {attribution:.2f} ms, target <= {TARGET_MS:g} ms: "
          f"{verdict}; ratio to the gpu collector {attribution / baseline:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
