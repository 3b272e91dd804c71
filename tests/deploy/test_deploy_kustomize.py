"""`kubectl kustomize` builds every overlay (and each component on top), and what it renders is
the deployment the issue asks for: checked on the rendered objects, not on the source files."""

from __future__ import annotations

import os
import tomllib

import pytest

from tests.deploy.conftest import COMPONENTS, DEPLOY, OVERLAYS, ROOT, build, find


def test_every_overlay_is_found():
    assert OVERLAYS == ["ha", "plain", "prometheus-operator"]
    assert COMPONENTS == ["exporter-root", "host-network", "nvidia-runtime-class"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_builds_into_one_namespace(rendered, overlay):
    resources = rendered[overlay]
    names = [(r["kind"], r["metadata"]["name"]) for r in resources]
    assert len(names) == len(set(names))
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    for r in resources:
        if r["kind"] not in cluster_scoped:
            assert r["metadata"].get("namespace") == "inferwatch", r["metadata"]["name"]
        assert r["metadata"]["labels"]["app.kubernetes.io/part-of"] == "inferwatch"


@pytest.mark.parametrize("component", COMPONENTS)
def test_component_builds_on_each_overlay(tmp_path, component):
    for overlay in OVERLAYS:
        (tmp_path / "kustomization.yaml").write_text(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            f"resources: [{os.path.relpath(DEPLOY / 'overlays' / overlay, tmp_path)}]\n"
            f"components: [{os.path.relpath(DEPLOY / 'components' / component, tmp_path)}]\n")
        spec = find(build(tmp_path), "DaemonSet")["spec"]["template"]["spec"]
        expected = {"exporter-root": ("securityContext", {"runAsNonRoot": False, "runAsUser": 0,
                                                          "runAsGroup": 0,
                                                          "seccompProfile":
                                                              {"type": "RuntimeDefault"}}),
                    "host-network": ("hostNetwork", True),
                    "nvidia-runtime-class": ("runtimeClassName", "nvidia")}[component]
        assert spec[expected[0]] == expected[1]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_exporter_daemonset(rendered, overlay):
    ds = find(rendered[overlay], "DaemonSet", "inferwatch-exporter")
    pod = ds["spec"]["template"]["spec"]
    assert ds["spec"]["updateStrategy"]["type"] == "RollingUpdate"
    assert pod["hostPID"] is True and not pod.get("hostNetwork")
    assert pod["priorityClassName"] == "system-node-critical"
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {(t["key"], t["effect"]) for t in pod["tolerations"]} == {
        ("nvidia.com/gpu", "NoSchedule"), ("nvidia.com/gpu", "NoExecute")}
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert env["NVIDIA_VISIBLE_DEVICES"]["value"] == "all"
    assert env["NVIDIA_DRIVER_CAPABILITIES"]["value"] == "utility"
    assert "nvidia.com/gpu" not in container["resources"].get("limits", {})
    args = container["args"]
    assert args[0] == "exporter"
    for flag in ("--kubernetes.discovery", "--collector.pods", "--path.procfs=/host/proc",
                 "--path.rootfs=/host/root", "--web.listen-address=:9477"):
        assert flag in args
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["ports"] == [{"name": "metrics", "containerPort": 9477, "protocol": "TCP"}]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    host = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    assert host == {"proc": "/proc", "sys": "/sys", "root": "/",
                    "pod-resources": "/var/lib/kubelet/pod-resources"}  # the kubelet's socket
    for name, path in (("proc", "/host/proc"), ("sys", "/host/sys"), ("root", "/host/root"),
                       ("pod-resources", "/var/lib/kubelet/pod-resources")):
        assert mounts[name]["mountPath"] == path and mounts[name]["readOnly"] is True
    assert mounts["root"]["mountPropagation"] == "HostToContainer"


def _quantity(text: str) -> float:
    units = {"m": 1e-3, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def test_exporter_budget_beats_dcgm_exporter(rendered):
    """dcgm-exporter's chart: requests 100m/128Mi, limits 200m/512Mi."""
    (container,) = find(rendered["plain"], "DaemonSet")["spec"]["template"]["spec"]["containers"]
    res = container["resources"]
    dcgm = {"requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "200m", "memory": "512Mi"}}
    for kind, values in dcgm.items():
        for resource, theirs in values.items():
            assert _quantity(res[kind][resource]) <= _quantity(theirs), (kind, resource)
    assert _quantity(res["limits"]["memory"]) < _quantity("512Mi")


def test_rbac_reads_pods_only(rendered):
    resources = rendered["plain"]
    role = find(resources, "ClusterRole")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"],
                              "verbs": ["get", "list", "watch"]}]
    binding = find(resources, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "inferwatch-exporter",
                                    "namespace": "inferwatch"}]
    pod = find(resources, "DaemonSet")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "inferwatch-exporter"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_references_resolve(rendered, overlay):
    """Every ConfigMap, PVC and ServiceAccount a pod names is in the build (after hashing);
    the one Secret named is the channels Secret the user creates from deploy/examples (and on
    ha the database's, from its CloudNativePG Cluster)."""
    resources = rendered[overlay]
    present = {(r["kind"], r["metadata"]["name"]) for r in resources}
    for workload in (r for r in resources if r["kind"] in ("DaemonSet", "Deployment")):
        pod = workload["spec"]["template"]["spec"]
        assert ("ServiceAccount", pod["serviceAccountName"]) in present
        for volume in pod["volumes"]:
            if "configMap" in volume:
                assert ("ConfigMap", volume["configMap"]["name"]) in present
            if "persistentVolumeClaim" in volume:
                assert ("PersistentVolumeClaim",
                        volume["persistentVolumeClaim"]["claimName"]) in present
            if "secret" in volume:  # ha: also the DSN Secret CloudNativePG writes
                assert volume["secret"]["secretName"] in {"inferwatch-channels"} | (
                    {"inferwatch-postgres-app"} if overlay == "ha" else set())
        names = {v["name"] for v in pod["volumes"]}
        for container in pod["containers"]:
            assert {m["name"] for m in container.get("volumeMounts", [])} <= names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_and_networkpolicies_select_pods(rendered, overlay):
    resources = rendered[overlay]
    pods = [(w["spec"]["template"]["metadata"]["labels"], w["spec"]["template"]["spec"])
            for w in resources if w["kind"] in ("DaemonSet", "Deployment")]

    def ports_of(selector: dict) -> set[str]:
        matched = [spec for labels, spec in pods if selector.items() <= labels.items()]
        assert matched, selector
        return {p["name"] for spec in matched for c in spec["containers"]
                for p in c.get("ports", [])}

    for service in (r for r in resources if r["kind"] == "Service"):
        names = ports_of(service["spec"]["selector"])
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= names
    for policy in (r for r in resources if r["kind"] == "NetworkPolicy"):
        names = ports_of(policy["spec"]["podSelector"]["matchLabels"])
        assert {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]} <= names


def test_plain_overlay_needs_no_crd(rendered):
    resources = rendered["plain"]
    assert not [r for r in resources if r["apiVersion"].startswith("monitoring.coreos.com")]
    annotations = find(resources, "DaemonSet")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "9477"
    alerting = find(resources, "Deployment")["spec"]["template"]["spec"]
    assert [c["name"] for c in alerting["containers"]] == ["rules", "notifier"]


def test_prometheus_operator_overlay(rendered):
    resources = rendered["prometheus-operator"]
    monitor = find(resources, "ServiceMonitor")
    service = find(resources, "Service", "inferwatch-exporter")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= (
        service["metadata"]["labels"].items())
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"]
    assert endpoint["honorLabels"] is True
    assert {"action": "replace", "sourceLabels": ["__meta_kubernetes_pod_node_name"],
            "targetLabel": "node"} in endpoint["relabelings"]
    rule = find(resources, "PrometheusRule")
    assert rule["spec"]["groups"]
    alerting = find(resources, "Deployment")["spec"]["template"]["spec"]
    assert [c["name"] for c in alerting["containers"]] == ["notifier"]
    assert not [r for r in resources if r["metadata"]["name"].startswith("inferwatch-rule")]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_dashboards_are_grafana_sidecar_configmaps(rendered, overlay):
    boards = [r for r in rendered[overlay] if r["kind"] == "ConfigMap"
              and r["metadata"]["labels"].get("grafana_dashboard") == "1"]
    assert len(boards) == 6  # dashboards.build.BUILDERS, the cost dashboard the sixth
    for board in boards:
        ((name, body),) = board["data"].items()
        assert name.endswith(".json") and body.lstrip().startswith("{")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_are_the_release_image(rendered, overlay):
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    images = {c["image"] for w in rendered[overlay] if w["kind"] in ("DaemonSet", "Deployment")
              for c in w["spec"]["template"]["spec"]["containers"]}
    assert images == {f"ghcr.io/inferwatch/inferwatch:{version}"}
