"""/proc/<pid>/cgroup parsing on the line formats real nodes write, and /proc/<pid>/stat."""

from __future__ import annotations

import pytest

from inferwatch.exporter.kube.procs import CgroupRef, parse_cgroup, start_time

UID = "a9c80282-3f6b-4d5b-84d5-a137a6668011"
U_ = UID.replace("-", "_")
CID = "0123456789abcdef" * 4
STATIC = "3d5e9a6c0b8f4e1a9c2d7b6e5f4a3b2c"

V1_CGROUPFS = "\n".join(f"{n}:{c}:/kubepods/burstable/pod{UID}/{CID}" for n, c in [
    (12, "hugetlb"), (11, "memory"), (10, "cpu,cpuacct"), (9, "devices"), (8, "pids"),
    (7, "net_cls,net_prio"), (6, "perf_event"), (5, "freezer"), (4, "blkio"),
    (3, "cpuset"), (2, "rdma"), (1, "name=systemd")]) + "\n0::/\n"
V1_SYSTEMD_DOCKER = (
    f"11:memory:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{U_}.slice/"
    f"docker-{CID}.scope\n"
    f"1:name=systemd:/kubepods.slice/kubepods-besteffort.slice/"
    f"kubepods-besteffort-pod{U_}.slice/docker-{CID}.scope\n")


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param(V1_CGROUPFS, CgroupRef(UID, CID), id="v1-cgroupfs-containerd-multiline"),
    pytest.param(V1_SYSTEMD_DOCKER, CgroupRef(UID, CID), id="v1-systemd-docker"),
    pytest.param(f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{U_}.slice"
                 f"/cri-containerd-{CID}.scope\n", CgroupRef(UID, CID),
                 id="v2-systemd-containerd"),
    pytest.param(f"0::/kubepods.slice/kubepods-pod{U_}.slice/cri-containerd-{CID}.scope\n",
                 CgroupRef(UID, CID), id="v2-systemd-guaranteed"),
    pytest.param(f"0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{U_}"
                 f".slice/crio-{CID}.scope\n", CgroupRef(UID, CID), id="v2-systemd-crio"),
    pytest.param(f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{U_}"
                 f".slice/crio-{CID}.scope/container\n", CgroupRef(UID, CID),
                 id="v2-crio-nested-container"),
    pytest.param(f"0::/kubepods/besteffort/pod{UID}/{CID}\n", CgroupRef(UID, CID),
                 id="v2-cgroupfs"),
    pytest.param(f"0::/kubepods/pod{UID}/{CID}\n", CgroupRef(UID, CID),
                 id="v2-cgroupfs-guaranteed"),
    pytest.param(f"0::/../../kubepods-besteffort-pod{U_}.slice/cri-containerd-{CID}.scope\n",
                 CgroupRef(UID, CID), id="v2-relative-to-cgroup-namespace"),
    pytest.param(f"0::/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
                 f"kubelet-kubepods-besteffort-pod{U_}.slice/cri-containerd-{CID}.scope\n",
                 CgroupRef(UID, CID), id="v2-kind-nested-kubelet"),
    pytest.param(f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{U_}"
                 ".slice\n", CgroupRef(UID, ""), id="v2-pod-level-process"),
    pytest.param(f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{U_}"
                 f".slice/crio-conmon-{CID}.scope\n", CgroupRef(UID, ""), id="v2-crio-conmon"),
    pytest.param(f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{STATIC}"
                 f".slice/cri-containerd-{CID}.scope\n", CgroupRef(STATIC, CID),
                 id="v2-static-pod-config-hash"),
    pytest.param(f"0::/KUBEPODS/BESTEFFORT/POD{UID.upper()}/{CID.upper()}\n",
                 CgroupRef(UID, CID), id="upper-case"),
])
def test_pod_processes(text, expected):
    assert parse_cgroup(text) == expected


@pytest.mark.parametrize("text", [
    pytest.param("0::/system.slice/nvidia-persistenced.service\n", id="v2-host-service"),
    pytest.param("0::/user.slice/user-1000.slice/session-3.scope\n", id="v2-user-session"),
    pytest.param(f"0::/system.slice/docker-{CID}.scope\n", id="v2-plain-docker"),
    pytest.param(f"12:memory:/docker/{CID}\n1:name=systemd:/docker/{CID}\n", id="v1-docker"),
    pytest.param("0::/system.slice/podman-1234.scope\n", id="podman"),
    pytest.param("0::/user.slice/pod-deadbeef.slice\n", id="short-pod-word"),
    pytest.param("0::/\n", id="v2-root"),
    pytest.param("11:memory:/\n1:name=systemd:/init.scope\n0::/init.scope\n", id="v1-init"),
    pytest.param("", id="empty"),
    pytest.param("garbage without colons\n", id="garbage"),
])
def test_host_processes(text):
    assert parse_cgroup(text) is None


@pytest.mark.parametrize(("stat", "expected"), [
    ("4242 (python3) S 1 4242 4242 0 -1 4194560 1 0 0 0 5 3 0 0 20 0 12 0 987654 1 2 3",
     987654),
    ("77 (tritonserver (x) y) R 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 123 9", 123),
    ("77 (short) R 1 2", None),
    ("no parenthesis at all", None),
])
def test_start_time(stat, expected):
    assert start_time(stat) == expected
