"""The demo's engines as pods on its simulated GPUs, so that GPU-to-pod attribution, energy
and cost per token work as on a cluster.

Each simulated engine is a pod (`demo/<kind>-0`) with one compute process on each of its own
GPUs (`PLACEMENT`): the fake NVML lists the process, a procfs tree in the output folder puts
it in the pod's cgroup (systemd layout, containerd id), and the pods collector's PodDirectory
knows the pod, as the pod watch would. The engine's target carries the same namespace and pod.
Each GPU's utilisation and power follow its engine's load (`Simulation.busy`), on the
engine's simulated clock.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from inferwatch.exporter.kube.pods import PodDirectory
from inferwatch.simulate.engines.app import Clocked
from inferwatch.simulate.nvml.fake import MIB

NAMESPACE = "demo"
PLACEMENT = ((0, 1), (2,), (3,))  # GPU indexes of each engine, in settings.ENGINES order
PID_BASE = 7000
ENGINE_MEMORY = 72 * 1024 * MIB  # what an engine preallocates (weights and KV cache)


def pod_name(kind: str) -> str:
    return f"{kind}-0"


def pod_uid(kind: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"inferwatch-demo/{kind}"))


def container_id(kind: str) -> str:
    return hashlib.sha256(f"inferwatch-demo/{kind}".encode()).hexdigest()


def pod_object(kind: str) -> dict[str, Any]:
    return {"metadata": {"name": pod_name(kind), "namespace": NAMESPACE, "uid": pod_uid(kind)},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": kind, "containerID": f"containerd://{container_id(kind)}"}]}}


def directory(kinds: Sequence[str]) -> PodDirectory:
    found = PodDirectory()
    found.replace([pod_object(kind) for kind in kinds])
    return found


def procfs(root: Path, kinds: Sequence[str]) -> Path:
    """<root>/<pid>/{stat,cgroup} for each engine's process on each of its GPUs."""
    for kind, gpus in zip(kinds, PLACEMENT, strict=False):
        scope = pod_uid(kind).replace("-", "_")
        cgroup = (f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{scope}"
                  f".slice/cri-containerd-{container_id(kind)}.scope\n")
        for gpu in gpus:
            pid = PID_BASE + gpu
            (root / str(pid)).mkdir(parents=True, exist_ok=True)
            (root / str(pid) / "cgroup").write_text(cgroup)
            fields = ["S", *["1"] * 18, str(100 + pid), "0"]  # field 22: start time
            (root / str(pid) / "stat").write_text(f"{pid} (python3) {' '.join(fields)}\n")
    return root


def place(lib: Any, engines: Sequence[Clocked]) -> None:
    """Each engine's process on its GPUs of the fake NVML `lib`, their load its load and their
    time its simulated time: energy integrates over the seconds its token counters count, so
    joules per token read the same at any speed."""
    for engine, gpus in zip(engines, PLACEMENT, strict=False):
        for gpu in gpus:
            lib.set_processes(gpu, compute=[(PID_BASE + gpu, ENGINE_MEMORY)])
            lib.drive(gpu, engine.sim.busy, clock=engine.now)


def tick(engines: Sequence[Clocked], lib: Any) -> None:
    """Step each engine's load model to now and let its GPUs read their load: between the
    exporter's collections (every 2 simulated seconds at --fast) the GPUs' energy would
    otherwise count a stale load. Call it in a thread, holding every engine's lock."""
    for engine, gpus in zip(engines, PLACEMENT, strict=False):
        engine.sim.advance_to(engine.now())
        for gpu in gpus:
            lib.readings(gpu)
