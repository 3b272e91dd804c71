"""The demo's rules: the default pack, compiled, with every duration divided by a factor.

The pack's windows and `for` durations (5 minutes and more) are longer than the simulated
incident, so the demo divides every range, `for`, `keep_firing_for` and group interval by
`factor`. The artefacts written to the output folder are compiled from the unchanged pack.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from inferwatch.alert_rules.compile import (
    CompiledAlert,
    CompiledGroup,
    compile_group,
    write_outputs,
)
from inferwatch.alert_rules.promql import Agg, Binary, Call, Node, Recorded, Selector
from inferwatch.alert_rules.rulefile import load_files
from inferwatch.alert_rules.runconfig import DEFAULT_PACK
from inferwatch.dashboards import build


def scale_node(node: Node, factor: float) -> Node:
    """The same tree with every selector range divided by `factor`."""
    if isinstance(node, Selector):
        return replace(node, range=node.range / factor) if node.range else node
    if isinstance(node, Call):
        return replace(node, args=tuple(scale_node(a, factor) for a in node.args))
    if isinstance(node, Agg | Recorded):
        return replace(node, expr=scale_node(node.expr, factor))
    if isinstance(node, Binary):
        return replace(node, lhs=scale_node(node.lhs, factor), rhs=scale_node(node.rhs, factor))
    return node


def scale_alert(alert: CompiledAlert, factor: float) -> CompiledAlert:
    return replace(alert, expr=alert.expr and scale_node(alert.expr, factor),
                   data=alert.data and scale_node(alert.data, factor),
                   for_=alert.for_ / factor, keep_firing_for=alert.keep_firing_for / factor)


def scale_group(group: CompiledGroup, factor: float) -> CompiledGroup:
    return replace(group, interval=group.interval / factor,
                   recordings=tuple(scale_node(r, factor) for r in group.recordings),
                   alerts=tuple(scale_alert(a, factor) for a in group.alerts))


def demo_groups(factor: float) -> list[CompiledGroup]:
    """The default pack, compiled and compressed by `factor`."""
    return [scale_group(compile_group(g), factor) for g in load_files([str(DEFAULT_PACK)])]


def write_artifacts(out: Path) -> list[Path]:
    """The Grafana dashboards (out/dashboards) and the compiled default pack (out/rules)."""
    dashboards = build.write(out / "dashboards")
    rules = write_outputs(load_files([str(DEFAULT_PACK)]), out / "rules")
    return dashboards + rules
