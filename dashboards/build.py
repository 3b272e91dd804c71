"""Turn grafanalib dashboards into JSON that Grafana 11 and 12 import cleanly, plus ConfigMaps.

grafanalib 0.7 writes schemaVersion 12 with legacy keys (`rows`, `style`, `fieldOptions`,
threshold values of "null"). `to_json` keeps what current Grafana reads and rewrites the rest:
datasource references as `{type, uid}` through the `${datasource}` variable, gauge bounds and
thresholds in `fieldConfig.defaults`, one clean target shape.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import yaml
from grafanalib import core as g
from grafanalib._gen import DashboardEncoder

from inferwatch.dashboards import cluster_overview, cost, engines, exporter_health, node_gpu, slos
from inferwatch.dashboards.board import DATASOURCE, TAG

SCHEMA_VERSION = 39
SIDECAR_LABEL = {"grafana_dashboard": "1"}
FOLDER_ANNOTATION = {"grafana_folder": "inferwatch"}

BUILDERS: dict[str, Callable[[], g.Dashboard]] = {
    "cluster-overview": cluster_overview.build,
    "node-gpu": node_gpu.build,
    "engines": engines.build,
    "slos": slos.build,
    "exporter-health": exporter_health.build,
    "cost": cost.build,
}
_DASHBOARD_KEYS = ("uid", "title", "description", "tags", "editable", "graphTooltip",
                   "links", "refresh", "time", "timezone")
_ALERTLIST_OPTIONS = {
    "viewMode": "list", "groupMode": "default", "groupBy": [], "maxItems": 20, "sortOrder": 1,
    "dashboardAlerts": False, "alertName": "", "alertInstanceLabelFilter": "",
    "stateFilter": {"firing": True, "pending": True, "noData": False, "normal": False,
                    "error": True},
}


def _steps(raw: list | str) -> list[dict]:
    steps = [{"color": s["color"], "value": None if s["index"] == 0 else s["value"]}
             for s in raw or []]
    return steps or [{"color": "green", "value": None}]


def _field_defaults(raw: dict) -> dict:
    """unit, min, max, decimals and thresholds, wherever grafanalib put them for this type."""
    legacy = raw.get("options", {}).get("fieldOptions", {}).get("defaults", {})
    found = {**legacy, **raw["fieldConfig"]["defaults"]}
    defaults = {"unit": found.get("unit") or "", "thresholds": {
        "mode": "absolute", "steps": _steps(raw["fieldConfig"]["defaults"]["thresholds"]["steps"])}}
    defaults |= {k: found[k] for k in ("min", "max", "decimals") if found.get(k) is not None}
    if raw["type"] == "timeseries":
        defaults["custom"] = found["custom"]
        defaults["color"] = {"mode": "palette-classic"}
    elif raw["type"] in ("stat", "gauge", "bargauge"):
        defaults["color"] = {"mode": "thresholds"}
    return defaults


def _options(raw: dict) -> dict:
    kind, options = raw["type"], raw.get("options", {})
    reduce = {"calcs": ["lastNotNull"], "fields": "", "values": False}
    if kind == "gauge":
        return {"reduceOptions": reduce, "orientation": "auto", "showThresholdMarkers": True,
                "showThresholdLabels": False}
    if kind == "bargauge":
        return {"reduceOptions": reduce, "orientation": options["orientation"],
                "displayMode": options["displayMode"], "showUnfilled": True,
                "valueMode": "color", "namePlacement": "auto", "sizing": "auto"}
    if kind == "timeseries":
        return {"legend": {**options["legend"], "showLegend": True},
                "tooltip": options["tooltip"]}
    if kind == "alertlist":
        return dict(_ALERTLIST_OPTIONS)
    return options


def _target(raw: dict) -> dict:
    return {"refId": raw["refId"], "datasource": DATASOURCE, "editorMode": "code",
            "expr": raw["expr"], "legendFormat": raw["legendFormat"] or "__auto",
            "instant": raw["instant"], "range": not raw["instant"], "format": raw["format"]}


def _panel(raw: dict) -> dict:
    panel = {"id": raw["id"], "type": raw["type"], "title": raw["title"],
             "description": raw.get("description") or "", "gridPos": raw["gridPos"]}
    if raw["type"] == "row":
        return panel | {"collapsed": False, "panels": []}
    if raw["type"] == "alertlist":
        return panel | {"options": _options(raw)}
    return panel | {
        "datasource": DATASOURCE,
        "targets": [_target(t) for t in raw["targets"]],
        "fieldConfig": {"defaults": _field_defaults(raw), "overrides": []},
        "options": _options(raw),
        "links": raw.get("links") or [],
        "transformations": raw.get("transformations") or [],
    }


def _variable(raw: dict) -> dict:
    keep = ("name", "label", "type", "query", "current", "options", "hide", "includeAll",
            "multi", "allValue", "refresh", "regex", "sort")
    variable = {k: raw[k] for k in keep if raw.get(k) is not None}
    if raw["type"] == "query":
        variable["datasource"] = DATASOURCE
        variable["definition"] = raw["query"]
        variable["query"] = {"query": raw["query"], "refId": "PrometheusVariableQueryEditor"}
        variable["current"] = {"text": "All", "value": "$__all"}
    elif raw["type"] == "datasource":
        variable["current"] = {}
    return variable


def to_json(dashboard: g.Dashboard) -> dict:
    """Current Grafana dashboard JSON from a grafanalib dashboard."""
    raw = json.loads(json.dumps(dashboard.to_json_data(), cls=DashboardEncoder))
    out = {k: raw[k] for k in _DASHBOARD_KEYS}
    return out | {
        "schemaVersion": SCHEMA_VERSION, "version": 1, "id": None,
        "annotations": {"list": []}, "timepicker": {},
        "panels": [_panel(p) for p in raw["panels"]],
        "templating": {"list": [_variable(v) for v in raw["templating"]["list"]]},
    }


def build_all() -> dict[str, dict]:
    """Every dashboard as Grafana JSON, keyed by its file name stem."""
    return {slug: to_json(make()) for slug, make in BUILDERS.items()}


def dump(dashboard: dict) -> str:
    return json.dumps(dashboard, indent=2, sort_keys=True) + "\n"


def configmap(slug: str, dashboard: dict) -> str:
    """A ConfigMap the Grafana sidecar picks up (label grafana_dashboard: "1")."""
    manifest = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": f"{TAG}-dashboard-{slug}", "labels": dict(SIDECAR_LABEL),
                             "annotations": dict(FOLDER_ANNOTATION)},
                "data": {f"{slug}.json": dump(dashboard)}}
    return yaml.safe_dump(manifest, sort_keys=False, width=120)


def rendered() -> dict[str, str]:
    """Relative path -> file text for everything `build --out` writes."""
    files: dict[str, str] = {}
    for slug, dashboard in build_all().items():
        files[f"{slug}.json"] = dump(dashboard)
        files[f"configmaps/{slug}.yaml"] = configmap(slug, dashboard)
    return files


def write(out: Path) -> list[Path]:
    """Write every dashboard and ConfigMap under `out`, removing stale files we generated."""
    files = rendered()
    for old in [*out.glob("*.json"), *out.glob("configmaps/*.yaml")]:
        if old.relative_to(out).as_posix() not in files:
            old.unlink()
    written = []
    for rel, text in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def stale(out: Path) -> list[str]:
    """Files under `out` that differ from a fresh build (missing, changed or extra)."""
    files = rendered()
    present = {p.relative_to(out).as_posix() for p in
               [*out.glob("*.json"), *out.glob("configmaps/*.yaml")]}
    changed = [rel for rel, text in files.items()
               if not (out / rel).is_file() or (out / rel).read_text() != text]
    return sorted(changed + sorted(present - files.keys()))
