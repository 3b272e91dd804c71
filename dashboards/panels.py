"""Panel helpers: they take queries built from catalogue specs and return grafanalib panels.

The dashboard modules describe panels with these helpers only; grafanalib's classes and its
defaults (gauges with max 100, string datasources) stay here and in build.py, which rewrites
what grafanalib emits into current Grafana JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import attr
from grafanalib import core as g

from inferwatch.catalog import MetricSpec
from inferwatch.dashboards.promql import Query

Panel = g.Panel

# Grafana's unit ids for the catalogue's base units.
UNITS = {"ratio": "percentunit", "seconds": "s", "bytes": "bytes", "watts": "watt",
         "celsius": "celsius", "hertz": "hertz", "joules": "joule"}
RATIO = "percentunit"
TOKENS_PER_SECOND = "suffix: tok/s"
REQUESTS_PER_SECOND = "reqps"
BYTES_PER_SECOND = "Bps"
COUNT = "short"
PER_SECOND = "cps"

# Threshold steps: (colour, lower bound); the first step has no lower bound.
Steps = Sequence[tuple[str, float | None]]
GREEN = (("green", None),)
HIGH_IS_BAD = (("green", None), ("orange", 0.8), ("red", 0.95))
LOW_IS_BAD = (("red", None), ("orange", 0.9), ("green", 0.99))
ANY_IS_BAD = (("green", None), ("red", 1.0))


def unit(spec: MetricSpec) -> str:
    """The Grafana unit for a spec's values."""
    return UNITS.get(spec.unit, COUNT)


def _steps(steps: Steps) -> list[g.Threshold]:
    return [g.Threshold(color, i, 0.0 if value is None else float(value))
            for i, (color, value) in enumerate(steps)]


def _targets(queries: Sequence[Query], table: bool = False) -> list[g.Target]:
    return [g.Target(expr=q.expr, legendFormat=q.legend, refId=chr(ord("A") + i),
                     instant=q.instant or table, format="table" if table else "time_series")
            for i, q in enumerate(queries)]


def _links(links: Sequence[tuple[str, str]]) -> list[dict]:
    return [{"title": title, "url": url} for title, url in links]


def _size(w: int, h: int) -> g.GridPos:
    return g.GridPos(h=h, w=w, x=0, y=0)


def timeseries(title: str, description: str, queries: Sequence[Query], unit: str, *,
               min: int | None = None, max: int | None = None, steps: Steps = GREEN,
               stack: bool = False, w: int = 12, h: int = 8) -> g.Panel:
    """A time series of one or more queries."""
    return g.TimeSeries(
        title=title, description=description, targets=_targets(queries), unit=unit,
        valueMin=min, valueMax=max, thresholds=_steps(steps), legendCalcs=["lastNotNull", "max"],
        stacking={"mode": "normal", "group": "A"} if stack else {},
        fillOpacity=20 if stack else 0, legendDisplayMode="table" if len(queries) > 2 else "list",
        tooltipMode="multi", gridPos=_size(w, h))


def stat(title: str, description: str, query: Query, unit: str, *, steps: Steps = GREEN,
         links: Sequence[tuple[str, str]] = (), w: int = 4, h: int = 4) -> g.Panel:
    """A single number, coloured by thresholds."""
    return g.Stat(title=title, description=description, targets=_targets([query]), format=unit,
                  thresholds=_steps(steps), reduceCalc="lastNotNull", links=_links(links),
                  gridPos=_size(w, h))


def gauge(title: str, description: str, query: Query, unit: str, *, min: float, max: float,
          steps: Steps = HIGH_IS_BAD, w: int = 4, h: int = 6) -> g.Panel:
    """A dial with explicit bounds (grafanalib's default max of 100 is wrong for ratios)."""
    return g.GaugePanel(title=title, description=description, targets=_targets([query]),
                        format=unit, min=min, max=max, thresholds=_steps(steps),
                        calc="lastNotNull", gridPos=_size(w, h))


def bargauge(title: str, description: str, query: Query, unit: str, *, min: float, max: float,
             steps: Steps = HIGH_IS_BAD, w: int = 12, h: int = 8) -> g.Panel:
    """One bar per series, e.g. per GPU or per engine."""
    return g.BarGauge(title=title, description=description, targets=_targets([query]),
                      format=unit, min=min, max=max, thresholds=_steps(steps),
                      calc="lastNotNull", displayMode="gradient", gridPos=_size(w, h))


def table(title: str, description: str, queries: Sequence[Query], unit: str, *,
          w: int = 24, h: int = 8) -> g.Panel:
    """Instant queries merged into one row per label set; each query's legend names its column."""
    rename = {f"Value #{chr(ord('A') + i)}": q.legend for i, q in enumerate(queries)}
    transformations = [{"id": "merge", "options": {}},
                       {"id": "organize", "options": {"excludeByName": {"Time": True},
                                                      "renameByName": rename}}]
    return g.Table(title=title, description=description, targets=_targets(queries, table=True),
                   unit=unit, transformations=transformations, gridPos=_size(w, h))


def alert_list(title: str, description: str, *, w: int = 12, h: int = 8) -> g.AlertList:
    """Grafana's alert list: firing and pending alerts from every rule source."""
    return g.AlertList(title=title, description=description, onlyAlertsOnDashboard=False,
                       gridPos=_size(w, h), limit=20)


@dataclass(frozen=True)
class Row:
    """A titled band of panels, laid out left to right and wrapped at 24 columns."""

    title: str
    panels: Sequence[g.Panel]


def layout(rows: Sequence[Row]) -> list[g.Panel]:
    """Row headers and panels with their grid positions filled in."""
    out: list[g.Panel] = []
    y = 0
    for row in rows:
        out.append(g.RowPanel(title=row.title, gridPos=g.GridPos(h=1, w=24, x=0, y=y)))
        y += 1
        x, line_h = 0, 0
        for panel in row.panels:
            pos = panel.gridPos
            if x + pos.w > 24:
                x, y, line_h = 0, y + line_h, 0
            out.append(attr.evolve(panel, gridPos=g.GridPos(h=pos.h, w=pos.w, x=x, y=y)))
            x, line_h = x + pos.w, max(line_h, pos.h)
        y += line_h
    return out
