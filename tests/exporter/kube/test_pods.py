"""Annotations to Targets (edge cases) and the PodDirectory."""

from __future__ import annotations

from typing import Any

import pytest

from inferwatch.exporter.collectors.engines.targets import Target
from inferwatch.exporter.kube.pods import BadAnnotations, PodDirectory, target_of
from tests.support.kubeapi import pod

UID = "a9c80282-3f6b-4d5b-84d5-a137a6668011"


def _pod(annotations: dict[str, str], **kwargs: Any) -> dict[str, Any]:
    return pod("engine-0", UID, annotations=annotations, **kwargs)


def _scrape(**more: str) -> dict[str, str]:
    return {"inferwatch.io/scrape": "true", **{f"inferwatch.io/{k}": v for k, v in more.items()}}


@pytest.mark.parametrize(("annotations", "kwargs", "url", "kind"), [
    (_scrape(port="8000"), {}, "http://10.1.2.3:8000/metrics", "auto"),
    ({"inferwatch.io/scrape": " True "}, {}, "http://10.1.2.3:8000/metrics", "auto"),
    (_scrape(port="http"), {}, "http://10.1.2.3:8000/metrics", "auto"),  # a named port
    (_scrape(port="9400", path="/stats/prometheus", kind="TRITON", scheme="HTTPS"), {},
     "https://10.1.2.3:9400/stats/prometheus", "triton"),
    (_scrape(port=" 30000 ", kind="sglang"), {"ip": "fd00:10:244::7"},
     "http://[fd00:10:244::7]:30000/metrics", "sglang"),
    (_scrape(path="/metrics?format=prometheus"), {},
     "http://10.1.2.3:8000/metrics?format=prometheus", "auto"),
])
def test_targets(annotations, kwargs, url, kind):
    assert target_of(_pod(annotations, **kwargs)) == Target(kind, url, "llm", "engine-0")


@pytest.mark.parametrize(("annotations", "kwargs"), [
    ({}, {}),
    ({"inferwatch.io/scrape": "false", "inferwatch.io/port": "8000"}, {}),
    ({"inferwatch.io/scrape": "yes"}, {}),
    ({"prometheus.io/scrape": "true"}, {}),
    (_scrape(port="8000"), {"phase": "Pending"}),
    (_scrape(port="8000"), {"phase": "Succeeded"}),
    (_scrape(port="8000"), {"ip": ""}),
])
def test_not_targets(annotations, kwargs):
    assert target_of(_pod(annotations, **kwargs)) is None


@pytest.mark.parametrize(("annotations", "error"), [
    (_scrape(port="0"), "not a port number"),
    (_scrape(port="70000"), "not a port number"),
    (_scrape(port="grpc"), "names no single TCP container port"),
    (_scrape(port="-1"), "names no single"),
    (_scrape(path="metrics"), "not an absolute path"),
    (_scrape(path="/a b"), "not an absolute path"),
    (_scrape(scheme="ftp"), "not http or https"),
    (_scrape(kind="../etc"), "not an engine kind"),
    (_scrape(kind="vllm2"), "not an engine kind"),  # would crash every engine scrape
])
def test_bad_annotations(annotations, error):
    with pytest.raises(BadAnnotations, match=error):
        target_of(_pod(annotations))


def test_port_falls_back_to_the_only_declared_tcp_port():
    obj = _pod(_scrape())
    obj["spec"]["containers"][0]["ports"].append({"containerPort": 5353, "protocol": "UDP"})
    assert target_of(obj).url == "http://10.1.2.3:8000/metrics"
    obj["spec"]["containers"].append({"name": "side", "ports": [{"containerPort": 9090}]})
    with pytest.raises(BadAnnotations, match="2 declared TCP ports"):
        target_of(obj)
    obj["spec"]["containers"] = [{"name": "main"}]
    with pytest.raises(BadAnnotations, match="0 declared TCP ports"):
        target_of(obj)


def test_directory_maps_uids_and_container_ids():
    containerd, crio, docker = "1" * 64, "2" * 64, "3" * 64
    a = pod("vllm-0", UID, containers={"vllm": f"containerd://{containerd}",
                                       "proxy": f"cri-o://{crio}"})
    a["status"]["initContainerStatuses"] = [{"name": "fetch-model",
                                             "containerID": f"docker://{docker}"}]
    a["status"]["containerStatuses"].append({"name": "starting", "containerID": ""})
    static = pod("etcd-node", "0d3cb1f6-0000-4000-8000-000000000001", namespace="kube-system")
    static["metadata"]["annotations"] = {"kubernetes.io/config.mirror":
                                         "3d5e9a6c0b8f4e1a9c2d7b6e5f4a3b2c"}
    directory = PodDirectory()
    directory.replace([a, static])
    ref = directory.lookup(UID.upper())
    assert (ref.namespace, ref.pod) == ("llm", "vllm-0")
    assert [ref.container(c) for c in (containerd, crio, docker, "4" * 64)] == [
        "vllm", "proxy", "fetch-model", ""]
    assert directory.lookup("3d5e9a6c0b8f4e1a9c2d7b6e5f4a3b2c").pod == "etcd-node"
    assert directory.lookup("0d3cb1f6-0000-4000-8000-000000000001").pod == "etcd-node"
    directory.replace([static])
    assert directory.lookup(UID) is None
