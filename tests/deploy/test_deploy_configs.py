"""The configs the Deployment mounts load with inferwatch's own loaders, at the paths the
containers mount them: the notifier's with the example Secret's files, the rules engine's with
the generated pack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import PurePosixPath

import pytest
import yaml

from inferwatch.alert_rules.runconfig import load_run_config
from inferwatch.notifier import load_notifier_config
from tests.deploy.conftest import DEPLOY, ROOT, find


def _mounts(resources: list[dict], container: str) -> dict[str, str]:
    """mountPath -> volume name of one alerting container."""
    pod = find(resources, "Deployment", "inferwatch-alerting")["spec"]["template"]["spec"]
    (spec,) = [c for c in pod["containers"] if c["name"] == container]
    return {m["mountPath"]: m["name"] for m in spec["volumeMounts"]}


def _mounted(mounts: dict[str, str], path: str) -> str:
    """The volume that holds `path`."""
    parents = [m for m in mounts if PurePosixPath(path).is_relative_to(m)]
    assert parents, f"{path} is on no mounted volume"
    return mounts[max(parents, key=len)]


@pytest.fixture(scope="module")
def secret() -> dict[str, str]:
    (doc,) = yaml.safe_load_all((DEPLOY / "examples/channels-secret.yaml").read_text())
    return doc["stringData"]


def test_example_secret_is_marked_and_delivers_nowhere(secret):
    text = (DEPLOY / "examples/channels-secret.yaml").read_text()
    assert "EXAMPLE ONLY" in text and "PLACEHOLDER" in text
    for url in secret.values():
        assert "PLACEHOLDER" in url
        assert ".example.invalid" in url or url.startswith("slack://T00000000/B00000000/")


def test_notifier_config_loads_with_the_secret_files(rendered, secret, tmp_path):
    for path, value in secret.items():
        (tmp_path / path).write_text(value)
    mount = "/etc/inferwatch/secrets"
    text = (DEPLOY / "base/config/notifier.yml").read_text()
    config = yaml.safe_load(text)
    files = [u["url_file"] for r in config["receivers"] for u in r["urls"]]
    assert files and all(f.startswith(mount + "/") for f in files)
    assert {PurePosixPath(f).name for f in files} == set(secret)
    local = tmp_path / "notifier.yml"
    local.write_text(text.replace(mount, str(tmp_path)))
    loaded = load_notifier_config(local)
    assert sorted(loaded.urls.values()) == sorted(secret.values())
    proc = subprocess.run([sys.executable, "-m", "inferwatch.cli", "notifier", "check-config",
                           str(local)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    mounts = _mounts(rendered["plain"], "notifier")
    assert _mounted(mounts, files[0]) == "channels"


def test_rules_config_loads_with_the_generated_pack(rendered, tmp_path):
    text = (DEPLOY / "base/config/rules-run.yml").read_text()
    config = yaml.safe_load(text)
    (pack,) = config["rules"]
    local_pack = DEPLOY / "generated/rules" / PurePosixPath(pack).name
    local = tmp_path / "run.yml"
    local.write_text(text.replace(pack, str(local_pack)))
    loaded, groups = load_run_config(local)
    assert groups and loaded.source.prometheus is not None
    assert [a.url for a in loaded.alertmanagers] == ["http://127.0.0.1:9478"]
    mounts = _mounts(rendered["plain"], "rules")
    assert _mounted(mounts, pack) == "rule-packs"
    assert _mounted(mounts, config["state_file"]) == "state"
    notifier = find(rendered["plain"], "Deployment")["spec"]["template"]["spec"]["containers"][1]
    assert "--web.listen-address=:9478" in notifier["args"]
    storage = next(a.split("=", 1)[1] for a in notifier["args"]
                   if a.startswith("--storage.path="))
    assert _mounted(_mounts(rendered["plain"], "notifier"), storage) == "state"
