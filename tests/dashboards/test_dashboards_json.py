"""The generated JSON: committed and fresh, and shaped as current Grafana (11, 12) imports it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from dashboard_queries import all_panels, dashboards, panels

from inferwatch.cli import main
from inferwatch.dashboards import build
from inferwatch.dashboards.board import DATASOURCE, TAG

BUILT = dashboards()
PANELS = list(all_panels())
PANEL_IDS = [f"{slug}:{panel['title']}" for slug, panel in PANELS]
TYPES = {"timeseries", "stat", "gauge", "bargauge", "table", "alertlist"}
UNITS = {"percentunit", "s", "bytes", "watt", "celsius", "hertz", "Bps", "reqps", "cps",
         "short", "suffix: tok/s", "joule", "currencyUSD"}
LEGACY_KEYS = {"rows", "style", "sharedCrosshair", "hideControls", "fieldOptions", "span",
               "minSpan", "height", "intervalFactor"}
BUILTIN_VARIABLES = {"__rate_interval", "__range", "__range_s", "__url_time_range",
                     "__all_variables"}


def walk(node: object, path: str = "") -> Iterator[tuple[str, object, object]]:
    """(path, key, value) for every key of every dict in a JSON tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}[{i}]")


def test_staleness_check_sees_changed_missing_and_extra_files(tmp_path: Path) -> None:
    build.write(tmp_path)
    assert build.stale(tmp_path) == []
    (tmp_path / "slos.json").write_text("{}")
    (tmp_path / "configmaps" / "engines.yaml").unlink()
    (tmp_path / "old.json").write_text("{}")
    assert build.stale(tmp_path) == ["configmaps/engines.yaml", "old.json", "slos.json"]
    assert main(["dashboards", "build", "--out", str(tmp_path), "--check"]) == 1
    assert main(["dashboards", "build", "--out", str(tmp_path)]) == 0
    assert main(["dashboards", "build", "--out", str(tmp_path), "--check"]) == 0
    assert not (tmp_path / "old.json").exists()


@pytest.mark.parametrize(("slug", "panel"), PANELS, ids=PANEL_IDS)
def test_panel_has_description_type_and_unit(slug: str, panel: dict) -> None:
    assert panel["description"].strip(), "every panel needs a description"
    assert panel["type"] in TYPES
    if panel["type"] == "alertlist":  # Grafana's alert list: no query, no values to unit
        assert "targets" not in panel
        return
    assert panel["targets"], "a panel without a query"
    assert panel["fieldConfig"]["defaults"]["unit"] in UNITS


@pytest.mark.parametrize(("slug", "panel"), PANELS, ids=PANEL_IDS)
def test_gauges_have_bounds_and_thresholds_ascend(slug: str, panel: dict) -> None:
    if panel["type"] == "alertlist":
        return
    defaults = panel["fieldConfig"]["defaults"]
    if panel["type"] in ("gauge", "bargauge"):
        assert "min" in defaults and "max" in defaults
        if defaults["unit"] == "percentunit":
            assert (defaults["min"], defaults["max"]) == (0, 1)
    steps = defaults["thresholds"]["steps"]
    assert steps[0]["value"] is None
    values = [s["value"] for s in steps[1:]]
    assert values == sorted(values) and all(isinstance(v, float) for v in values)


@pytest.mark.parametrize("slug", BUILT)
def test_datasources_are_objects_through_the_variable(slug: str) -> None:
    refs = [(path, value) for path, key, value in walk(BUILT[slug]) if key == "datasource"]
    assert refs
    for path, value in refs:
        assert value == DATASOURCE, f"{slug}{path}: {value!r}"
    variables = {v["name"]: v for v in BUILT[slug]["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"


@pytest.mark.parametrize("slug", BUILT)
def test_no_legacy_grafanalib_output(slug: str) -> None:
    dashboard = BUILT[slug]
    assert dashboard["schemaVersion"] >= 39
    for path, key, value in walk(dashboard):
        assert key not in LEGACY_KEYS, f"{slug}{path}.{key}"
        assert value != "null", f"{slug}{path}.{key} is the string 'null'"


@pytest.mark.parametrize("slug", BUILT)
def test_every_variable_a_query_uses_is_defined(slug: str) -> None:
    dashboard = BUILT[slug]
    defined = {v["name"] for v in dashboard["templating"]["list"]} | BUILTIN_VARIABLES
    text = json.dumps([p.get("targets", []) for p in dashboard["panels"]])
    text += json.dumps([v.get("definition", "") for v in dashboard["templating"]["list"]])
    used = set(re.findall(r"\$\{?(\w+)", text))
    assert used <= defined, used - defined


def test_variables_cover_the_issue_list() -> None:
    names = {v["name"] for d in BUILT.values() for v in d["templating"]["list"]}
    assert {"datasource", "cluster", "node", "engine", "model", "namespace"} <= names


def test_dashboards_link_to_each_other() -> None:
    uids = {d["uid"] for d in BUILT.values()}
    assert len(uids) == len(BUILT)
    for dashboard in BUILT.values():
        assert TAG in dashboard["tags"]
        assert any(link["type"] == "dashboards" and link["tags"] == [TAG]
                   for link in dashboard["links"])
    panel_links = [link["url"] for _, p in PANELS for link in p.get("links", [])]
    assert panel_links
    for url in panel_links:
        assert re.match(r"/d/([\w-]+)\?", url).group(1) in uids


@pytest.mark.parametrize("slug", BUILT)
def test_panels_fit_the_grid_without_overlap(slug: str) -> None:
    taken: set[tuple[int, int]] = set()
    for panel in BUILT[slug]["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        cells = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"])
                 for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells
    assert [p["id"] for p in panels(BUILT[slug])]


@pytest.mark.parametrize("slug", BUILT)
def test_configmaps_for_the_grafana_sidecar(slug: str) -> None:
    text = build.rendered()[f"configmaps/{slug}.yaml"]
    manifest = yaml.safe_load(text)
    assert manifest["kind"] == "ConfigMap"
    assert manifest["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(manifest["data"][f"{slug}.json"]) == BUILT[slug]
    # kubectl's client-side apply stores the object in a 256 KiB annotation
    assert len(text.encode()) < 256 * 1024
