"""deploy/generated/ is what `python deploy/generate.py` writes today, and a stale copy fails."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, ROOT

spec = importlib.util.spec_from_file_location("deploy_generate", DEPLOY / "generate.py")
generate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(generate)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    out = tmp_path_factory.mktemp("deploy") / "generated"
    generate.generate(out)
    return out


def test_generated_parts_are_current(fresh):
    stale = generate.differences(fresh, DEPLOY / "generated")
    assert not stale, f"stale: {stale}; run python deploy/generate.py"


def test_a_stale_copy_is_detected(fresh, tmp_path):
    copy = tmp_path / "generated"
    shutil.copytree(fresh, copy)
    rule = next((copy / "prometheusrule").glob("*.prometheusrule.yaml"))
    rule.write_text(rule.read_text().replace("for: 5m", "for: 6m", 1))
    (copy / "dashboards" / "slos.yaml").unlink()
    (copy / "rules" / "extra.yml").write_text("groups: []\n")
    assert generate.differences(fresh, copy) == [
        "dashboards/slos.yaml", f"prometheusrule/{rule.name}", "rules/extra.yml"]
    proc = subprocess.run([sys.executable, str(DEPLOY / "generate.py"), "--check", "--out",
                           str(copy)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "slos.yaml: stale" in proc.stderr


def test_generated_parts_come_from_the_inferwatch_commands(fresh):
    """The PrometheusRule holds every alert of the default pack; one ConfigMap per board."""
    rule = yaml.safe_load(next((fresh / "prometheusrule").glob("*.prometheusrule.yaml"))
                          .read_text())
    pack = yaml.safe_load((ROOT / "alert_rules/packs/llm-serving.yml").read_text())
    assert rule["kind"] == "PrometheusRule"
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
    assert alerts == {r["alert"] for g in pack["groups"] for r in g["rules"] if "alert" in r}
    boards = sorted(p.stem for p in (fresh / "dashboards").glob("*.yaml")
                    if p.name != "kustomization.yaml")
    assert boards == ["cluster-overview", "cost", "engines", "exporter-health", "node-gpu",
                      "slos"]
    for board in boards:
        configmap = yaml.safe_load((fresh / "dashboards" / f"{board}.yaml").read_text())
        assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert (fresh / "rules/llm-serving.yml").read_bytes() == (
        ROOT / "alert_rules/packs/llm-serving.yml").read_bytes()
