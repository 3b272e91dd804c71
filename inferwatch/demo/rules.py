"""The demo's rules: the default pack, compiled, with every duration divided by a factor.

The pack's windows and `for` durations (5 minutes and more) are longer than the simulated
incident, so the demo divides every range, `for`, `keep_firing_for` and group interval by
`factor`; in the PromQL text of recording rules and raw alerts, every range and offset. With
a simulation `speed` other than 1, the GPU-hour prices are multiplied by it (GPU_HOUR_PRICE).
The artefacts written to the output folder are compiled from the unchanged pack.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from inferwatch.alert_rules.compile import (
    CompiledAlert,
    CompiledGroup,
    RecordingRule,
    compile_group,
    write_outputs,
)
from inferwatch.alert_rules.promql import Agg, Binary, Call, Node, Recorded, Selector, max_range
from inferwatch.alert_rules.rulefile import load_files
from inferwatch.alert_rules.runconfig import DEFAULT_PACK
from inferwatch.core.durations import format_duration, parse_duration
from inferwatch.dashboards import build

# The pack's price of a GPU-hour. The demo's counters (tokens, and GPU energy on the engines'
# clock) count simulated seconds, `speed` of them per wall second; a GPU-hour is a simulated
# hour too, so its price per wall hour is `speed` times the pack's: cost per million tokens
# then reads the same at any speed.
GPU_HOUR_PRICE = "inferwatch:gpu_price_usd_per_hour"
# a range (`[5m]`, a subquery's range) or an offset in PromQL text
_DURATION = re.compile(r"(\[\s*|\boffset\s+)((?:[0-9]+(?:ms|[smhdwy]))+)")


def scale_text(expr: str, factor: float) -> str:
    """PromQL text with every range and offset divided by `factor`."""
    return _DURATION.sub(
        lambda m: m.group(1) + format_duration(parse_duration(m.group(2)) / factor), expr)


def text_range(expr: str) -> float:
    """The longest range or offset written in PromQL text (0 for none)."""
    return max((parse_duration(m.group(2)) for m in _DURATION.finditer(expr)), default=0.0)


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
                   raw=alert.raw and scale_text(alert.raw, factor),
                   data=alert.data and scale_node(alert.data, factor),
                   for_=alert.for_ / factor, keep_firing_for=alert.keep_firing_for / factor)


def scale_step(step: RecordingRule | CompiledAlert, factor: float, speed: float = 1.0
               ) -> RecordingRule | CompiledAlert:
    if not isinstance(step, RecordingRule):
        return scale_alert(step, factor)
    expr = scale_text(step.expr, factor)
    if step.name == GPU_HOUR_PRICE and speed != 1.0:
        expr = f"({expr.strip()}) * {speed!r}"
    return replace(step, expr=expr)


def scale_group(group: CompiledGroup, factor: float, speed: float = 1.0) -> CompiledGroup:
    return replace(group, interval=group.interval / factor,
                   recordings=tuple(scale_node(r, factor) for r in group.recordings),
                   alerts=tuple(scale_alert(a, factor) for a in group.alerts),
                   steps=tuple(scale_step(s, factor, speed) for s in group.steps))


def longest_range(groups: list[CompiledGroup]) -> float:
    """The longest range any rule of the groups reads: the window the source must keep."""
    trees = [max_range(a.expr) for g in groups for a in g.alerts if a.expr]
    texts = [text_range(s.expr if isinstance(s, RecordingRule) else s.raw or "")
             for g in groups for s in g.steps]
    return max([*trees, *texts], default=0.0)


def demo_groups(factor: float, speed: float = 1.0) -> list[CompiledGroup]:
    """The default pack, compiled and compressed by `factor`, its GPU-hour prices per
    simulated hour of a simulation running `speed` times faster than wall time."""
    return [scale_group(compile_group(g), factor, speed)
            for g in load_files([str(DEFAULT_PACK)])]


def write_artifacts(out: Path) -> list[Path]:
    """The Grafana dashboards (out/dashboards) and the compiled default pack (out/rules)."""
    dashboards = build.write(out / "dashboards")
    rules = write_outputs(load_files([str(DEFAULT_PACK)]), out / "rules")
    return dashboards + rules
