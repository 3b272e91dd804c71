"""Dashboard scaffolding shared by every dashboard: variables, links between them, the frame."""

from __future__ import annotations

from collections.abc import Sequence

from grafanalib import core as g

from inferwatch import catalog
from inferwatch.dashboards.panels import Row, layout
from inferwatch.dashboards.promql import FACTS, FILTERS, label_values

TAG = "inferwatch"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

# Dashboard uids, fixed so that links and bookmarks survive regeneration.
UID_OVERVIEW = "inferwatch-overview"
UID_NODE = "inferwatch-node-gpu"
UID_ENGINES = "inferwatch-engines"
UID_SLOS = "inferwatch-slos"
UID_EXPORTER = "inferwatch-exporter"
UID_COST = "inferwatch-cost"

# Which spec lists each filter variable's values, and which variables narrow that list first.
_SOURCES = {
    "cluster": (catalog.BUILD_INFO, ()),
    "node": (catalog.BUILD_INFO, ("cluster",)),
    "namespace": (catalog.ENGINE_UP, ("cluster", "node")),
    "engine": (catalog.ENGINE_UP, ("cluster", "node", "namespace")),
    "model": (catalog.ENGINE_UP, ("cluster", "node", "namespace", "engine")),
    "role": (catalog.ENGINE_UP, ("cluster", "node", "namespace", "engine", "model")),
    "target": (catalog.ENGINE_UP, ("cluster", "node", "namespace", "engine", "model", "role")),
    **{fact: (catalog.ENGINE_MODEL_INFO, ("cluster", "node", "namespace", "engine", "model"))
       for fact in FACTS},
}
LABELS = {"dtype": "Dtype", "quantization": "Quantization",
          "tensor_parallel_size": "Tensor parallel"}


def link(uid: str, title: str) -> tuple[str, str]:
    """A panel link to another dashboard that keeps the time range and the variables."""
    return title, f"/d/{uid}?${{__url_time_range}}&${{__all_variables}}"


def datasource_variable() -> g.Template:
    return g.Template(name="datasource", label="Data source", query="prometheus",
                      type="datasource", refresh=1)


def filter_variable(name: str, narrowed_by: Sequence[str] | None = None) -> g.Template:
    """A multi-value label filter with All (= `.*`, which also matches an absent label or an
    empty value); its list narrowed by the variables before it (or by `narrowed_by`)."""
    spec, default = _SOURCES[name]
    narrowed_by = default if narrowed_by is None else narrowed_by
    return g.Template(name=name, label=LABELS.get(name, name.capitalize()), dataSource=DATASOURCE,
                      query=label_values(spec, name, narrowed_by), includeAll=True, multi=True,
                      allValue=".*", default="$__all", refresh=2, sort=1)


def custom_variable(name: str, label: str, values: Sequence[str], default: str) -> g.Template:
    """A fixed list of choices, e.g. an SLO objective."""
    if default not in values:
        raise ValueError(f"default {default!r} of {name} is not one of {values}")
    return g.Template(name=name, label=label, query=",".join(values), type="custom",
                      default=default)


def used_filters(panels: Sequence[g.Panel]) -> list[str]:
    """The filter variables the panels' queries refer to, in FILTERS order."""
    exprs = " ".join(t.expr for panel in panels for t in getattr(panel, "targets", []))
    return [name for name in FILTERS if f'=~"${name}"' in exprs]


def dashboard(title: str, uid: str, description: str, rows: Sequence[Row],
              extra: Sequence[g.Template] = (),
              filters: Sequence[g.Template] | None = None) -> g.Dashboard:
    """A dashboard with the datasource and the filter variables its queries use (or
    `filters`, for queries on recorded series), linked to its siblings by tag."""
    panels = layout(rows)
    found = map(filter_variable, used_filters(panels)) if filters is None else filters
    variables = [datasource_variable(), *found, *extra]
    siblings = g.DashboardLink(title="inferwatch", type="dashboards", tags=[TAG],
                               asDropdown=True, includeVars=True, keepTime=True)
    return g.Dashboard(
        title=title, uid=uid, description=description, tags=[TAG], refresh="30s",
        graphTooltip=1, timezone="browser", links=[siblings], panels=panels,
        templating=g.Templating(list=variables),
    ).auto_panel_ids()
