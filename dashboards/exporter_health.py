"""Exporter health: collectors up, their durations and staleness, engine targets, versions."""

from __future__ import annotations

from dashboards import board
from dashboards import panels as p
from dashboards.promql import Query, agg, or_zero, sel
from exporter import catalog as c

PER = "{{node}} {{collector}}"


def collectors() -> p.Row:
    return p.Row("Collectors", [
        p.stat("Nodes reporting", "Exporters Prometheus currently scrapes.",
               Query(agg("count", sel(c.BUILD_INFO))), p.COUNT, w=6),
        p.stat("Collectors failing", "Collectors whose last run failed or timed out.",
               Query(or_zero(agg("count", sel(c.COLLECTOR_UP) + " == 0"))), p.COUNT,
               steps=p.ANY_IS_BAD, w=6),
        p.stat("Engine targets down", "Engine targets whose last scrape failed.",
               Query(or_zero(agg("count", sel(c.ENGINE_UP) + " == 0"))), p.COUNT,
               steps=p.ANY_IS_BAD, w=6),
        p.stat("Oldest collector success", "Age of the stalest collector's last success; "
               "it grows while a collector keeps failing.",
               Query(agg("max", f"time() - {sel(c.COLLECTOR_LAST_SUCCESS)}")),
               p.unit(c.COLLECTOR_DURATION), steps=(("green", None), ("orange", 60.0),
                                                    ("red", 300.0)), w=6),
        p.timeseries("Collector up", "1 while the collector's last run succeeded.",
                     [Query(sel(c.COLLECTOR_UP), PER)], p.COUNT, min=0, max=1, w=8),
        p.timeseries("Collector duration", "Duration of each collector's last run; compare "
                     "with its timeout.", [Query(sel(c.COLLECTOR_DURATION), PER)],
                     p.unit(c.COLLECTOR_DURATION), w=8),
        p.timeseries("Time since last success", "Seconds since each collector last succeeded.",
                     [Query(f"time() - {sel(c.COLLECTOR_LAST_SUCCESS)}", PER)],
                     p.unit(c.COLLECTOR_LAST_SUCCESS), w=8),
    ])


def targets() -> p.Row:
    return p.Row("Engine targets and versions", [
        p.table("Engine targets", "Each engine target, its kind and model, and whether its "
                "last scrape succeeded (1) or failed (0).",
                [Query(sel(c.ENGINE_UP), "Up")], p.COUNT, w=12),
        p.table("Exporter versions", "Exporter, Python and NVML versions per node.",
                [Query(sel(c.BUILD_INFO), "Exporters")], p.COUNT, w=12),
    ])


def build():
    """The exporter health dashboard."""
    return board.dashboard(
        "inferwatch / Exporter health", board.UID_EXPORTER,
        "Is the exporter itself healthy: collectors up, durations, staleness, engine targets "
        "and versions.", [collectors(), targets()])
