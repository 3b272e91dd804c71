"""Exporter health: collectors, engine targets and their sources, Kubernetes discovery, versions.

The engine source panels answer "did an engine upgrade break the mapping?": which native metric
fed each concept (source info), concepts whose source disappeared (source lost) and native
families no mapping knows (unmapped).
"""

from __future__ import annotations

from inferwatch import catalog as c
from inferwatch.dashboards import board
from inferwatch.dashboards import panels as p
from inferwatch.dashboards.promql import Query, agg, count_where, sel, sum_rate

PER = "{{node}} {{collector}}"
TARGET = ("engine", "target")
PER_TARGET = "{{engine}} {{target}}"
LOW_SYNC = (("red", None), ("green", 1.0))


def collectors() -> p.Row:
    return p.Row("Collectors", [
        p.stat("Nodes reporting", "Exporters Prometheus currently scrapes.",
               Query(agg("count", sel(c.BUILD_INFO))), p.COUNT, w=6),
        p.stat("Collectors failing", "Collectors whose last run failed or timed out.",
               Query(count_where(c.COLLECTOR_UP, "== 0")), p.COUNT,
               steps=p.ANY_IS_BAD, w=6),
        p.stat("Engine targets down", "Engine targets whose last scrape failed.",
               Query(count_where(c.ENGINE_UP, "== 0")), p.COUNT,
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
        p.stat("Engine sources lost", "Concepts whose native source metric disappeared from "
               "an engine (a rename or removal in an upgrade): the panels fed by them go "
               "blank. 0 is healthy.",
               Query(count_where(c.ENGINE_SOURCE_LOST, "== 1")), p.COUNT,
               steps=p.ANY_IS_BAD, w=6),
        p.stat("Unmapped engine families", "Native metric families in the engines' last "
               "scrapes that no mapping knows: new or renamed engine metrics.",
               Query(agg("sum", sel(c.ENGINE_UNMAPPED_FAMILIES))), p.COUNT,
               steps=(("green", None), ("orange", 1.0)), w=6),
        p.timeseries("Engine scrape duration", "Duration of the last scrape of each engine "
                     "target, fetch, parse and mapping included; compare with the engine "
                     "interval.", [Query(agg("max", sel(c.ENGINE_SCRAPE_DURATION), TARGET),
                                         PER_TARGET)],
                     p.unit(c.ENGINE_SCRAPE_DURATION), w=12),
        p.table("Engine targets", "Each engine target, its kind and model, and whether its "
                "last scrape succeeded (1) or failed (0).",
                [Query(sel(c.ENGINE_UP), "Up")], p.COUNT, w=12),
        p.table("Unmapped families per target", "Native families no mapping knows, per engine "
                "target; non-zero after an engine upgrade means the mapping needs a look.",
                [Query(sel(c.ENGINE_UNMAPPED_FAMILIES), "Unmapped")], p.COUNT, w=12),
        p.table("Engine sources", "The native metric that fed each normalised concept in the "
                "last scrape, per engine target.",
                [Query(sel(c.ENGINE_SOURCE_INFO), "Sources")], p.COUNT, h=10),
        p.table("Engine sources lost", "Concepts that had a native source earlier and have "
                "none now, with the source metric they lost.",
                [Query(sel(c.ENGINE_SOURCE_LOST) + " == 1", "Lost")], p.COUNT),
        p.table("Exporter versions", "Exporter, Python and NVML versions per node.",
                [Query(sel(c.BUILD_INFO), "Exporters")], p.COUNT),
    ])


def kubernetes() -> p.Row:
    return p.Row("Kubernetes discovery", [
        p.stat("Pod watch synced", "1 while each exporter's pod list/watch of the API server "
               "is current; the lowest across nodes.",
               Query(agg("min", sel(c.KUBERNETES_SYNCED))), p.COUNT, steps=LOW_SYNC, w=6),
        p.stat("Pods on the nodes", "Pods the exporters know on their nodes.",
               Query(agg("sum", sel(c.KUBERNETES_PODS))), p.COUNT, w=6),
        p.stat("Targets discovered", "Engine targets found from inferwatch.io/* pod "
               "annotations.", Query(agg("sum", sel(c.KUBERNETES_TARGETS))), p.COUNT, w=6),
        p.stat("Invalid target annotations", "Pods annotated inferwatch.io/scrape=true whose "
               "annotations cannot make a target (see the exporter log).",
               Query(agg("sum", sel(c.KUBERNETES_INVALID_TARGETS))), p.COUNT,
               steps=p.ANY_IS_BAD, w=6),
        p.timeseries("Pod watch restarts", "List/watch restarts per second by reason "
                     "(closed is routine; error and expired mean trouble).",
                     [Query(sum_rate(c.KUBERNETES_WATCH_RESTARTS, ("node", "reason")),
                            "{{node}} {{reason}}")], p.PER_SECOND, w=24),
    ])


def build():
    """The exporter health dashboard."""
    return board.dashboard(
        "inferwatch / Exporter health", board.UID_EXPORTER,
        "Is the exporter itself healthy: collectors up, durations, staleness, engine targets, "
        "their sources and unmapped families, Kubernetes discovery and versions.",
        [collectors(), targets(), kubernetes()])
