"""The DaemonSet mounts the kubelet's pod-resources folder where the default socket path is."""

from __future__ import annotations

from pathlib import PurePosixPath

import yaml

from inferwatch.exporter.config import PodResourcesCollectorConfig
from inferwatch.exporter.kube.podresources import SOCKET
from tests.support.procs import ROOT


def test_the_daemonset_mounts_the_default_socket_read_only():
    default = PodResourcesCollectorConfig().socket
    assert default == SOCKET
    ds = yaml.safe_load((ROOT / "deploy/base/exporter-daemonset.yaml").read_text())
    pod = ds["spec"]["template"]["spec"]
    folder = str(PurePosixPath(default).parent)
    (mount,) = [m for c in pod["containers"] for m in c["volumeMounts"]
                if m["mountPath"] == folder]
    assert mount["readOnly"] is True
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["hostPath"]["path"] == folder  # the same path on the host
