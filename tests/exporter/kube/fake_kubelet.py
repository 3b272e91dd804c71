"""A loopback kubelet pod-resources server: a real grpc.aio server on a Unix socket."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

import grpc

from inferwatch.exporter.kube import podresources_pb2 as pb
from inferwatch.exporter.kube import podresources_pb2_grpc as pb_grpc

# (namespace, pod, [(container, [(resource, [device ids])])])
PodSpec = tuple[str, str, Sequence[tuple[str, Sequence[tuple[str, Sequence[str]]]]]]


def list_response(pods: Sequence[PodSpec]) -> pb.ListPodResourcesResponse:
    return pb.ListPodResourcesResponse(pod_resources=[
        pb.PodResources(namespace=ns, name=name, containers=[
            pb.ContainerResources(name=c, devices=[
                pb.ContainerDevices(resource_name=r, device_ids=list(ids)) for r, ids in devs])
            for c, devs in containers])
        for ns, name, containers in pods])


class FakeKubelet(pb_grpc.PodResourcesListerServicer):
    """Answers `pods` and `allocatable`; `hang` makes every call wait until `release`;
    `allocatable=None` answers UNIMPLEMENTED as a kubelet without the call does."""

    def __init__(self) -> None:
        self.pods: list[PodSpec] = []
        self.allocatable: list[tuple[str, Sequence[str]]] | None = []
        self.calls: Counter[str] = Counter()
        self.hung = asyncio.Event()  # set once a call is waiting
        self._release = asyncio.Event()
        self._release.set()

    def hang(self) -> None:
        self._release.clear()

    def release(self) -> None:
        self._release.set()

    async def _enter(self, name: str) -> None:
        self.calls[name] += 1
        if not self._release.is_set():
            self.hung.set()
            await self._release.wait()

    async def List(self, request, context):  # noqa: N802 (the gRPC method's name)
        await self._enter("List")
        return list_response(self.pods)

    async def GetAllocatableResources(self, request, context):  # noqa: N802
        await self._enter("GetAllocatableResources")
        if self.allocatable is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "unknown method")
        return pb.AllocatableResourcesResponse(devices=[
            pb.ContainerDevices(resource_name=r, device_ids=list(ids))
            for r, ids in self.allocatable])


async def serve(kubelet: FakeKubelet, socket_path: str) -> grpc.aio.Server:
    server = grpc.aio.server()
    pb_grpc.add_PodResourcesListerServicer_to_server(kubelet, server)
    if server.add_insecure_port(f"unix://{socket_path}") == 0:
        raise RuntimeError(f"cannot listen on {socket_path}")
    await server.start()
    return server
