"""The `ha` overlay: three notifier replicas on PostgreSQL with a PodDisruptionBudget, spread
over nodes, the DSN from CloudNativePG's Secret; and the CloudNativePG Cluster it documents.

The Cluster is checked for the structure of the operator's CRD (postgresql.cnpg.io/v1), not
against its schema: CloudNativePG publishes its CRD neither on PyPI nor on npm (no
@kubernetes-models package), the registries this project's tests install validators from.
"""

from __future__ import annotations

import yaml

from tests.deploy.conftest import DEPLOY, find

HA = DEPLOY / "overlays" / "ha"


def test_the_notifier_runs_three_replicas_on_postgresql(rendered):
    resources = rendered["ha"]
    notifier = find(resources, "Deployment", "inferwatch-notifier")
    assert notifier["spec"]["replicas"] == 3
    assert notifier["spec"]["strategy"]["type"] == "RollingUpdate"
    pod = notifier["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = container["args"]
    assert "--storage.url-file=/etc/inferwatch/postgres/uri" in args
    assert "--cluster.replica-name=$(POD_NAME)" in args
    assert not [a for a in args if a.startswith(("--storage.path", "--storage.url="))]
    assert {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in container["env"]} == {
        "POD_NAME": "metadata.name"}
    assert container["readinessProbe"]["httpGet"]["path"] == "/-/ready"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["postgres"]["secret"]["secretName"] == "inferwatch-postgres-app"
    assert "persistentVolumeClaim" not in str(volumes)  # no volume to follow a pod
    term = pod["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == notifier["spec"]["selector"]["matchLabels"]


def test_a_disruption_budget_keeps_two_replicas(rendered):
    resources = rendered["ha"]
    pdb = find(resources, "PodDisruptionBudget", "inferwatch-notifier")
    notifier = find(resources, "Deployment", "inferwatch-notifier")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == notifier["spec"]["selector"]["matchLabels"]


def test_the_rules_engine_sends_to_the_notifier_service(rendered):
    resources = rendered["ha"]
    alerting = find(resources, "Deployment", "inferwatch-alerting")
    assert [c["name"] for c in alerting["spec"]["template"]["spec"]["containers"]] == ["rules"]
    volume = next(v for v in alerting["spec"]["template"]["spec"]["volumes"]
                  if v["name"] == "rules-config")
    config = find(resources, "ConfigMap", volume["configMap"]["name"])
    run = yaml.safe_load(config["data"]["run.yml"])
    assert run["alertmanagers"] == [{"url": "http://inferwatch-notifier:9478"}]
    service = find(resources, "Service", "inferwatch-notifier")
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "notifier"


def test_the_cloudnativepg_cluster_names_the_secret_the_notifier_reads(rendered):
    (cluster,) = yaml.safe_load_all((HA / "postgres-cluster.yaml").read_text())
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1" and cluster["kind"] == "Cluster"
    assert cluster["metadata"]["namespace"] == "inferwatch"
    spec = cluster["spec"]
    # the fields the CRD requires or constrains, as its schema types them
    assert isinstance(spec["instances"], int) and spec["instances"] >= 3
    assert spec["minSyncReplicas"] <= spec["maxSyncReplicas"] < spec["instances"]
    assert spec["storage"]["size"].endswith(("Gi", "Mi"))
    assert spec["primaryUpdateStrategy"] in ("supervised", "unsupervised")
    assert spec["affinity"]["podAntiAffinityType"] in ("preferred", "required")
    assert all(isinstance(v, str) for v in spec["postgresql"]["parameters"].values())
    assert set(spec["bootstrap"]) == {"initdb"}
    known = {"instances", "imageName", "primaryUpdateStrategy", "minSyncReplicas",
             "maxSyncReplicas", "bootstrap", "postgresql", "storage", "resources", "affinity"}
    assert set(spec) <= known, set(spec) - known
    # CloudNativePG writes <cluster>-app (key uri) for the initdb owner
    secret = f"{cluster['metadata']['name']}-app"
    notifier = find(rendered["ha"], "Deployment", "inferwatch-notifier")
    volumes = {v["name"]: v for v in notifier["spec"]["template"]["spec"]["volumes"]}
    assert volumes["postgres"]["secret"]["secretName"] == secret
    assert volumes["postgres"]["secret"]["items"] == [{"key": "uri", "path": "uri"}]
