"""The real command with 8 simulated GPUs, checked by promtool and scraped by a real Prometheus."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from inferwatch import catalog
from tests.support.procs import PYTHON, free_port, need_binary, wait_http

GPU = {"gpu", "uuid"}
# The fixed names of reference/metrics.md (GPU, host, exporter) with their labels.
FIXED = {
    catalog.GPU_INFO: GPU | {"name", "pci_bus_id", "driver_version", "compute_capability",
                             "mig_mode"},
    catalog.GPU_UP: GPU, catalog.GPU_UTILIZATION: GPU, catalog.GPU_MEMORY_USED: GPU,
    catalog.GPU_MEMORY_TOTAL: GPU, catalog.GPU_TEMPERATURE: GPU, catalog.GPU_POWER_USAGE: GPU,
    catalog.GPU_POWER_LIMIT: GPU, catalog.GPU_XID_ERRORS: GPU | {"xid"},
    catalog.GPU_ECC_ERRORS: GPU | {"type"},
    catalog.HOST_CPU_SECONDS: {"mode"}, catalog.HOST_MEMORY_TOTAL: set(),
    catalog.HOST_MEMORY_AVAILABLE: set(),
    catalog.COLLECTOR_UP: {"collector"}, catalog.COLLECTOR_DURATION: {"collector"},
    catalog.COLLECTOR_LAST_SUCCESS: {"collector"},
    catalog.BUILD_INFO: {"version", "python_version", "nvml_version"},
}


@pytest.fixture(scope="module")
def exporter():
    port = free_port()
    proc = subprocess.Popen(
        [PYTHON, "-m", "inferwatch.cli", "exporter", "--simulate-gpus", "8",
         "--web.listen-address", f"127.0.0.1:{port}", "--collector.gpu.interval", "1s"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", timeout=30)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def scrape(port: int) -> dict:
    body = wait_http(f"http://127.0.0.1:{port}/metrics").decode()
    return {s.name: s for f in text_string_to_metric_families(body) for s in f.samples} | {
        "_families": {f.name: f for f in text_string_to_metric_families(body)}, "_body": body}


def test_every_fixed_name_is_present_with_its_labels(exporter):
    deadline = time.monotonic() + 15
    while catalog.GPU_XID_ERRORS.name not in (seen := scrape(exporter)) and \
            time.monotonic() < deadline:
        time.sleep(0.5)
    families = seen["_families"]
    for spec, labels in FIXED.items():
        samples = [s for s in families.get(spec.name.removesuffix("_total"), ()).samples
                   if s.name == spec.name] if spec.name in seen else []
        assert samples, f"{spec.name} missing"
        for s in samples:
            assert labels <= set(s.labels) == set(spec.labels), (spec.name, s.labels)
    gpus = [s for s in families["inferwatch_gpu_up"].samples]
    assert sorted(s.labels["gpu"] for s in gpus) == [str(i) for i in range(8)]
    assert all(s.value == 1 for s in gpus)


def test_promtool_check_metrics_reports_nothing(exporter):
    promtool = need_binary("promtool")
    body = scrape(exporter)["_body"]
    run = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == "" and run.stderr.strip() == "", (
        run.stdout + run.stderr)


def test_a_real_prometheus_scrapes_it(exporter, tmp_path):
    prometheus = need_binary("prometheus")
    port = free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n- job_name: inferwatch\n  static_configs:\n"
        f"  - targets: ['127.0.0.1:{exporter}']\n")
    proc = subprocess.Popen(
        [prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            up = query(port, 'up{job="inferwatch"}')
            gpus = query(port, "count(inferwatch_gpu_up == 1)")
            if up and up[0]["value"][1] == "1" and gpus and gpus[0]["value"][1] == "8":
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"target never up with 8 GPUs: up={up} gpus={gpus}")
        health = json.loads(urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/v1/targets", timeout=5).read())
        target = health["data"]["activeTargets"][0]
        assert target["health"] == "up" and target["lastError"] == ""
    finally:
        proc.terminate()
        proc.wait(10)


def query(port: int, expr: str) -> list:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    return json.loads(urllib.request.urlopen(url, timeout=5).read())["data"]["result"]
