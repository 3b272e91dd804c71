"""The distribution installs one import package, `inferwatch`, and every part is inside it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.support.procs import ROOT

SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def folders_with_packages() -> set[str]:
    """Every package the mapped folders hold, by its import name."""
    found = set()
    for name, folder in SETUPTOOLS["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            if "__pycache__" not in rel:
                found.add(".".join((name, *rel)))
    return found


def test_every_package_folder_is_listed_and_nothing_else() -> None:
    assert set(SETUPTOOLS["packages"]) == folders_with_packages()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                    str(out), str(ROOT)], check=True, capture_output=True, timeout=300)
    (path,) = out.glob("inferwatch-*.whl")
    return path


def test_the_wheel_has_one_top_level_name(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"inferwatch"}
    assert "inferwatch/alert_rules/packs/llm-serving.yml" in names  # package data came along
    assert "inferwatch/exporter/main.py" in names


def test_a_regular_install_imports_every_part(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(target), str(wheel)], check=True, capture_output=True, timeout=300)
    code = ("import inferwatch.exporter.main, inferwatch.notifier.service, "
            "inferwatch.alert_rules.manager, inferwatch.dashboards.build, inferwatch.demo.cli; "
            "print(inferwatch.exporter.main.__file__)")
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60, env={"PYTHONPATH": str(target)})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().startswith(str(target))


def test_no_source_file_over_400_lines() -> None:
    long = [f"{p.relative_to(ROOT)}: {n}" for folder in SETUPTOOLS["package-dir"].values()
            for p in (ROOT / folder).rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400]
    assert long == []
