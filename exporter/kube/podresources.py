"""The kubelet's pod-resources API (v1, gRPC over a Unix socket): devices allocated per container.

`List` names the devices each container of each pod on this node was given by a device plugin
(GPU UUIDs for `nvidia.com/gpu`, MIG UUIDs for `nvidia.com/mig-*`), whether or not a process
runs on them; `GetAllocatableResources` names every device the kubelet can hand out. Neither
needs hostPID. The calls are blocking (they run in the collector's worker thread) and share one
deadline; after an error the channel is dropped, so the next cycle connects afresh instead of
waiting out gRPC's reconnect backoff (up to two minutes) once the kubelet is back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import grpc

from inferwatch.exporter.kube import podresources_pb2 as pb
from inferwatch.exporter.kube import podresources_pb2_grpc as pb_grpc

SOCKET = "/var/lib/kubelet/pod-resources/kubelet.sock"
MAX_MESSAGE = 16 << 20  # a node's List answer (dcgm-exporter's limit too); gRPC's default is 4 MiB
_OPTIONS = [("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.enable_http_proxy", 0)]


class PodResourcesError(Exception):
    """A call failed: the socket is missing or refused, the kubelet hung, or answered an error.
    The message is stable across repeats of the same failure (the loop logs changes only)."""


@dataclass(frozen=True, order=True)
class Allocation:
    """One device given to one container."""

    namespace: str
    pod: str
    container: str
    resource: str
    device_id: str


@dataclass(frozen=True, order=True)
class Allocatable:
    """One device the kubelet can allocate."""

    resource: str
    device_id: str


class PodResourcesClient:
    """A client of the kubelet's PodResourcesLister on `socket`; each `fetch` is bounded by
    `deadline` seconds in all."""

    def __init__(self, socket: str = SOCKET, deadline: float = 4.0):
        self.socket, self.deadline = socket, deadline
        self.allocatable_supported = True  # False once the kubelet answered UNIMPLEMENTED
        self._channel: grpc.Channel | None = None
        self._stub: pb_grpc.PodResourcesListerStub | None = None

    def fetch(self) -> tuple[list[Allocation], list[Allocatable] | None]:
        """Every container's devices, and the allocatable devices (None: the kubelet lacks
        GetAllocatableResources, before Kubernetes 1.23 or with its feature gate off)."""
        end = time.monotonic() + self.deadline
        stub = self._connect()
        listed = self._call("List", stub.List, pb.ListPodResourcesRequest(), end)
        allocations = [Allocation(p.namespace, p.name, c.name, d.resource_name, i)
                       for p in listed.pod_resources for c in p.containers
                       for d in c.devices for i in d.device_ids]
        allocatable = None
        if self.allocatable_supported:
            answer = self._call("GetAllocatableResources", stub.GetAllocatableResources,
                                pb.AllocatableResourcesRequest(), end)
            if answer is not None:
                allocatable = [Allocatable(d.resource_name, i)
                               for d in answer.devices for i in d.device_ids]
        return allocations, allocatable

    def close(self) -> None:
        channel, self._channel, self._stub = self._channel, None, None
        if channel is not None:
            channel.close()

    def _connect(self) -> pb_grpc.PodResourcesListerStub:
        if self._stub is None:
            self._channel = grpc.insecure_channel(f"unix://{self.socket}", options=_OPTIONS)
            self._stub = pb_grpc.PodResourcesListerStub(self._channel)
        return self._stub

    def _call(self, method: str, rpc, request, end: float):
        """One unary call with what is left of the deadline; None for an UNIMPLEMENTED
        GetAllocatableResources (remembered, so it is not asked again)."""
        left = end - time.monotonic()
        if left <= 0:
            self.close()
            raise PodResourcesError(f"{self.socket}: {method}: no time left of the "
                                    f"{self.deadline:g}s deadline")
        try:
            return rpc(request, timeout=left)
        except grpc.RpcError as err:
            code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
            if method == "GetAllocatableResources" and code == grpc.StatusCode.UNIMPLEMENTED:
                self.allocatable_supported = False
                return None
            self.close()
            details = (err.details() if hasattr(err, "details") else "") or ""
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                details = f"no answer within {self.deadline:g}s"
            raise PodResourcesError(f"{self.socket}: {method}: {code.name}: "
                                    f"{details[:300]}") from None
