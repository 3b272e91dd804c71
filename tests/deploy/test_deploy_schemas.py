"""Every rendered resource validates: Kubernetes kinds against the OpenAPI schemas of the newest
release that `kubernetes-validate` ships (strict: unknown fields fail), the ServiceMonitor and
PrometheusRule against the Prometheus Operator's CRD schemas (@kubernetes-models, from npm)."""

from __future__ import annotations

import copy

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, OVERLAYS, find

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="pip install -e '.[test]' installs kubernetes-validate")
VERSION = kubernetes_validate.latest_version()
OPERATOR_GROUP = "monitoring.coreos.com/"


def k8s_errors(resource: dict) -> str | None:
    try:
        kubernetes_validate.validate(resource, VERSION, strict=True)
    except kubernetes_validate.ValidationError as err:
        return f"{resource['kind']} {resource['metadata']['name']}: {err.message} at " \
               f"{'.'.join(map(str, err.path))}"
    return None


def test_a_current_release_is_used():
    major, minor = (int(x) for x in VERSION.split(".")[:2])
    assert (major, minor) >= (1, 31)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kubernetes_resources_validate(rendered, overlay):
    resources = [r for r in rendered[overlay] if not r["apiVersion"].startswith(OPERATOR_GROUP)]
    assert {"DaemonSet", "Deployment", "Service", "NetworkPolicy", "ConfigMap",
            "ClusterRole"} <= {r["kind"] for r in resources}
    errors = [e for e in map(k8s_errors, resources) if e]
    assert not errors, "\n".join(errors)


def test_example_secret_validates():
    (secret,) = yaml.safe_load_all((DEPLOY / "examples/channels-secret.yaml").read_text())
    assert k8s_errors(secret) is None


def test_kubernetes_validation_has_teeth(rendered):
    daemonset = copy.deepcopy(find(rendered["plain"], "DaemonSet"))
    daemonset["spec"]["template"]["spec"]["hostPid"] = True          # a typo of hostPID
    assert "hostPid" in k8s_errors(daemonset)
    service = copy.deepcopy(find(rendered["plain"], "Service", "inferwatch-exporter"))
    service["spec"]["ports"][0]["port"] = "9477"
    assert k8s_errors(service) is not None


def test_prometheus_operator_resources_validate(rendered, crd_validator):
    resources = [r for r in rendered["prometheus-operator"]
                 if r["apiVersion"].startswith(OPERATOR_GROUP)]
    assert sorted(r["kind"] for r in resources) == ["PrometheusRule", "ServiceMonitor"]
    assert crd_validator(resources) == {}


def test_crd_validation_has_teeth(rendered, crd_validator):
    monitor = copy.deepcopy(find(rendered["prometheus-operator"], "ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["interval"] = "15 seconds"
    rule = copy.deepcopy(find(rendered["prometheus-operator"], "PrometheusRule"))
    rule["spec"]["groups"][0]["rules"][0]["for"] = "five minutes"
    unknown = dict(monitor, apiVersion="monitoring.coreos.com/v1", kind="ServiceMonitorz")
    errors = crd_validator([monitor, rule, unknown])
    assert "/spec/endpoints/0/interval" in errors[0][0]
    assert "/spec/groups/0/rules/0/for" in errors[1][0]
    assert "no validator" in errors[2][0]
