"""`inferwatch autoscale`: the manifests validate (KEDA's CRD schema from npm, the Kubernetes
schemas), their queries parse and select the workload's pods only, bad input exits 2."""

from __future__ import annotations

import json
import shutil
import subprocess

import promql_parser
import pytest
import re2
import yaml

from inferwatch import catalog
from inferwatch.autoscale.queries import POD_SUFFIX, Workload, kv_cache_usage, requests_waiting
from tests.deploy.conftest import VALIDATOR
from tests.support.procs import PYTHON, ROOT

KEDA_PACKAGE = "@kubernetes-models/keda@2.0.0"
KEDA_MODELS = "node_modules/@kubernetes-models/keda"


def autoscale(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "inferwatch.cli", "autoscale", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def manifests(*args: str) -> list[dict]:
    proc = autoscale("--deployment", "vllm-llama", "--namespace", "llm", *args)
    assert proc.returncode == 0, proc.stderr
    return list(yaml.safe_load_all(proc.stdout))


@pytest.fixture(scope="module")
def keda_validator(pytestconfig, tmp_path_factory):
    """validate(resources) -> {index: [error]} with KEDA's own CRD schemas (keda.sh/v1alpha1)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node/npm absent: cannot install @kubernetes-models/keda")
    cache = getattr(pytestconfig, "cache", None)  # absent under -p no:cacheprovider
    prefix = cache.mkdir("npm-keda") if cache else tmp_path_factory.mktemp("npm-keda")
    if not (prefix / KEDA_MODELS / "package.json").is_file():
        subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix",
                        str(prefix), KEDA_PACKAGE], check=True, timeout=300, capture_output=True)

    def validate(resources: list[dict]) -> dict[int, list[str]]:
        proc = subprocess.run([node, str(VALIDATOR), str(prefix / KEDA_MODELS)],
                              input=json.dumps(resources), capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0, proc.stderr
        return {int(k): v for k, v in json.loads(proc.stdout).items()}

    return validate


def test_scaled_object_validates_against_kedas_schema(keda_validator):
    docs = manifests("--model", 'org/model "x"', "--min-replicas", "2")
    assert [d["kind"] for d in docs] == ["ScaledObject"]
    assert keda_validator(docs) == {}
    broken = json.loads(json.dumps(docs))
    broken[0]["spec"]["triggers"][0]["metadata"] = "not a map"
    assert keda_validator(broken), "the validator must reject a malformed trigger"


def test_hpa_and_adapter_config_validate_against_kubernetes():
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    version = kubernetes_validate.latest_version()
    docs = manifests("--format", "hpa", "--max-replicas", "12", "--kv-cache-usage", "0.9")
    assert [d["kind"] for d in docs] == ["HorizontalPodAutoscaler", "ConfigMap"]
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)
    hpa = docs[0]["spec"]
    assert hpa["maxReplicas"] == 12
    targets = {m["pods"]["metric"]["name"]: m["pods"]["target"]["averageValue"]
               for m in hpa["metrics"]}
    assert targets == {catalog.ENGINE_REQUESTS_WAITING.name: "8",
                       catalog.ENGINE_KV_CACHE_USAGE.name: "900m"}
    rules = yaml.safe_load(docs[1]["data"]["config.yaml"])["rules"]
    assert {r["name"]["as"] for r in rules} == set(targets)


def test_queries_parse_and_use_catalogue_names():
    workload = Workload("vllm-llama", "llm", model="a\\b\"c")
    for query, name in ((requests_waiting(workload), catalog.ENGINE_REQUESTS_WAITING.name),
                        (kv_cache_usage(workload), catalog.ENGINE_KV_CACHE_USAGE.name)):
        tree = promql_parser.parse(query)
        assert name in query and tree is not None
        assert 'model="a\\\\b\\"c"' in query


@pytest.mark.parametrize(("kind", "pod", "selected"), [
    ("Deployment", "vllm-llama-7c9d8f6b5-x2k4q", True),
    ("Deployment", "vllm-llama-big-7c9d8f6b5-x2k4q", False),  # another Deployment's pod
    ("Deployment", "vllm-llama-0", False),
    ("StatefulSet", "vllm-llama-0", True),
    ("StatefulSet", "vllm-llama-12", True),
    ("StatefulSet", "vllm-llama-big-0", False),
])
def test_pod_pattern_selects_the_workloads_pods_only(kind, pod, selected):
    pattern = "vllm-llama" + POD_SUFFIX[kind]
    assert Workload("vllm-llama", "llm", kind).selector().count(pattern) == 1
    assert bool(re2.fullmatch(pattern, pod)) is selected


@pytest.mark.parametrize("args", [
    ["--deployment", "Bad_Name", "--namespace", "llm"],
    ["--deployment", "x", "--namespace", "llm", "--min-replicas", "5", "--max-replicas", "2"],
    ["--deployment", "x", "--namespace", "llm", "--kv-cache-usage", "1.5"],
    ["--deployment", "x", "--namespace", "llm", "--prometheus-url", "ftp://user:pw@host"],
    ["--deployment", "x", "--namespace", "llm", "--model", "a\nb"],
    ["--namespace", "llm"],
])
def test_bad_input_is_one_line_and_exit_2(args):
    proc = autoscale(*args)
    assert proc.returncode == 2, proc.stdout
    assert "Traceback" not in proc.stderr and "pw@" not in proc.stderr
    assert proc.stdout == ""


def test_writes_to_out(tmp_path):
    out = tmp_path / "so.yaml"
    proc = autoscale("--deployment", "x", "--namespace", "llm", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(out.read_text())["kind"] == "ScaledObject"
