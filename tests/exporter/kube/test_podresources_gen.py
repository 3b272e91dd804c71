"""The committed pod-resources gRPC code is what podresources.proto generates, and reads the
kubelet's full v1 messages (fields we left out of the proto are skipped)."""

from __future__ import annotations

from inferwatch.exporter.kube import podresources_gen
from inferwatch.exporter.kube import podresources_pb2 as pb


def test_regenerating_gives_the_committed_files():
    generated = podresources_gen.generate()
    assert sorted(generated) == sorted(podresources_gen.OUTPUTS)
    for name, data in generated.items():
        committed = (podresources_gen.HERE / name).read_bytes()
        assert committed == data, f"{name} is stale: python -m {podresources_gen.__name__}"
    assert podresources_gen.main(["--check"]) == 0


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes | int) -> bytes:
    """A length-delimited (bytes) or varint (int) field."""
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def test_reads_the_kubelets_full_messages():
    """A List answer as a current kubelet encodes it (upstream api.proto field numbers), with
    CPU ids, memory, NUMA topology and DRA resources that our proto leaves out."""
    topology = _field(1, _field(1, 1))  # TopologyInfo{nodes: [NUMANode{ID: 1}]}
    devices = (_field(1, b"nvidia.com/gpu") + _field(2, b"GPU-aaaa") + _field(2, b"GPU-bbbb")
               + _field(3, topology))
    memory = _field(1, b"memory") + _field(2, 1 << 30) + _field(3, topology)
    dra = _field(2, b"claim") + _field(3, b"ns") + _field(4, _field(1, _field(1, b"x.com/g=0"))
                                                          + _field(2, b"gpu.nvidia.com"))
    container = (_field(1, b"vllm") + _field(2, devices) + _field(3, _varint(4) + _varint(5))
                 + _field(4, memory) + _field(5, dra))
    pod = (_field(1, b"vllm-0") + _field(2, b"llm") + _field(3, container)
           + _field(4, _varint(4)) + _field(5, memory))
    got = pb.ListPodResourcesResponse.FromString(_field(1, pod))
    (only,) = got.pod_resources
    assert (only.namespace, only.name, [c.name for c in only.containers]) == \
        ("llm", "vllm-0", ["vllm"])
    (dev,) = only.containers[0].devices
    assert (dev.resource_name, list(dev.device_ids)) == ("nvidia.com/gpu", ["GPU-aaaa",
                                                                            "GPU-bbbb"])
    answer = pb.AllocatableResourcesResponse.FromString(
        _field(1, devices) + _field(2, _varint(0) + _varint(1)) + _field(3, memory))
    assert [list(d.device_ids) for d in answer.devices] == [["GPU-aaaa", "GPU-bbbb"]]


def test_service_paths_are_the_kubelets():
    service = pb.DESCRIPTOR.services_by_name["PodResourcesLister"]
    assert service.full_name == "v1.PodResourcesLister"
    assert {m.name for m in service.methods} == {"List", "GetAllocatableResources"}
