"""The Dockerfile, read statically (no container engine here, so it is not built): multi-stage,
pinned bases, installs this package, runs as a numeric non-root user, exposes the ports the
manifests use, and its build context keeps every package the wheel needs."""

from __future__ import annotations

import fnmatch
import re
import tomllib

import pytest

from tests.deploy.conftest import ROOT, find

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    lines = [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.lstrip()
             .startswith("#")]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def _args() -> dict[str, str]:
    return dict(a.split("=", 1) for op, a in instructions() if op == "ARG" and "=" in a)


def test_multi_stage_with_pinned_bases():
    froms = [a.split()[0] for op, a in instructions() if op == "FROM"]
    assert len(froms) >= 2
    for image in froms:
        image = re.sub(r"\$\{(\w+)\}", lambda m: _args()[m.group(1)], image)
        name, _, tag = image.partition("@")[0].partition(":")
        assert re.fullmatch(r"\d+\.\d+\.\d+-slim-\w+", tag), f"{image}: pin a full version"
        if "@" in image:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", image.split("@", 1)[1])
    runtime = [a for op, a in instructions() if op == "FROM"][-1]
    assert " AS " not in runtime.upper()


def test_installs_the_package_and_runs_inferwatch():
    runs = " ".join(a for op, a in instructions() if op == "RUN")
    assert re.search(r"pip install [^&]*\.( |$)", runs)
    entry = [a for op, a in instructions() if op == "ENTRYPOINT"]
    assert entry == ['["inferwatch"]']
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "inferwatch" in scripts


def test_runs_as_numeric_non_root_user_matching_the_manifests(rendered):
    (user,) = [a for op, a in instructions() if op == "USER"]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0 and (not gid or int(gid) != 0)
    for workload in (find(rendered["plain"], "DaemonSet"), find(rendered["plain"], "Deployment")):
        context = workload["spec"]["template"]["spec"]["securityContext"]
        assert context["runAsUser"] == int(uid) and context["runAsNonRoot"] is True


def test_exposes_the_ports_of_the_manifests(rendered):
    exposed = {int(p) for op, a in instructions() if op == "EXPOSE" for p in a.split()}
    ports = {p["containerPort"] for w in rendered["plain"]
             if w["kind"] in ("DaemonSet", "Deployment")
             for c in w["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
    assert ports == {9477, 9478, 9479} and ports <= exposed


def _ignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/").removeprefix("**/")
        parts = path.split("/")
        hit = any(fnmatch.fnmatch("/".join(parts[i:j]), pattern)
                  for i in range(len(parts)) for j in range(i + 1, len(parts) + 1)
                  if i == 0 or "/" not in pattern)
        if hit:
            ignored = not negate
    return ignored


@pytest.mark.parametrize("path", ["pyproject.toml", "README.md", "inferwatch/catalog/",
                                  "alert_rules/packs/llm-serving.yml", "notifier/api.py",
                                  "dashboards/build.py", "inferwatch/cli.py"])
def test_build_context_keeps_what_the_image_needs(path):
    patterns = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()
                if ln.strip() and not ln.startswith("#")]
    assert not _ignored(path, patterns)
    assert _ignored("tests/deploy/conftest.py", patterns)
    assert _ignored(".git/HEAD", patterns)


def test_copies_every_package_the_wheel_includes():
    folders = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"].values()
    copied = {a.split()[0].rstrip("/") for op, a in instructions() if op == "COPY"
              and not a.startswith("--from")}
    assert set(folders) <= copied
