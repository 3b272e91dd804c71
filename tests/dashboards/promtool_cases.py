"""Panel queries evaluated by promtool (`promtool test rules`) on series written by hand."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path

import yaml
from dashboard_queries import dashboards, panels
from test_dashboards_proof import substitute

from tests.support.procs import need_binary


def expr(slug: str, title: str, ref: str = "A", **values: str) -> str:
    """A panel's query as Grafana sends it with every filter on All (or on `values`), its
    `$__rate_interval` as 5m (promtool's series are a minute apart)."""
    dashboard = dashboards()[slug]
    (panel,) = [p for p in panels(dashboard) if p["title"] == title]
    (target,) = [t for t in panel["targets"] if t["refId"] == ref]
    text = substitute(target["expr"], dashboard)
    for name, value in values.items():  # substitute() set every filter to .*
        text = text.replace(f'{name}=~".*"', f'{name}=~"{value}"')
    return text.replace("[15s]", "[5m]")


def samples(*rows: tuple[str, float]) -> list[dict]:
    return [{"labels": labels, "value": value} for labels, value in rows]


def input_series(rows: Iterable[tuple[str, str]]) -> list[dict]:
    """(series, values in promtool's notation) pairs as a test's input_series."""
    return [{"series": series, "values": values} for series, values in rows]


def rules_test(tmp_path: Path, series: list[dict], tests: list[dict]) -> Path:
    """A promtool unit-test file: `series` a minute apart, each case evaluated at 10m."""
    path = tmp_path / "panels.test.yml"
    path.write_text(yaml.safe_dump({"rule_files": [], "evaluation_interval": "1m", "tests": [
        {"interval": "1m", "input_series": series,
         "promql_expr_test": [{**t, "eval_time": "10m"} for t in tests]}]}, sort_keys=False))
    return path


def run_promtool(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([need_binary("promtool"), "test", "rules", path.name], cwd=path.parent,
                          capture_output=True, text=True, timeout=60, check=False)
