"""Plain Prometheus rule files (`groups:` of `record`/`alert` rules) and PrometheusRule
resources (`spec.groups`), loaded into the same compiled groups as our own rule language, so
that `rules run` and `rules test` evaluate the community's rule packs on the embedded source.

A file is a Prometheus file when it is a PrometheusRule, or when none of its groups and rules
uses a key of our own language (`metric`, `slo`, `severity`, group `labels`, ...). Every
problem is reported as `FILE: group/rule: field: message`; with `embedded`, an expression the
embedded evaluator cannot run is one of them, with its position."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from inferwatch.alert_rules.compile import CompiledAlert, CompiledGroup, RecordingRule
from inferwatch.alert_rules.promql_ast import check_rule_expr
from inferwatch.alert_rules.templates import template_problems
from inferwatch.core.config import ConfigError, read_yaml
from inferwatch.core.durations import parse_duration

RULE_KEYS = {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
GROUP_KEYS = {"name", "interval", "rules", "limit"}
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
DEFAULT_INTERVAL = 60.0  # Prometheus's default global evaluation_interval


def groups_of(data: dict[str, Any]) -> Any:
    """The groups of a rule file, or of a PrometheusRule resource."""
    if data.get("kind") == "PrometheusRule":
        spec = data.get("spec")
        return spec.get("groups") if isinstance(spec, dict) else None
    return data.get("groups")


def is_prometheus(data: dict[str, Any]) -> bool:
    if data.get("kind") == "PrometheusRule":
        return True
    groups = data.get("groups")
    if not isinstance(groups, list) or set(data) != {"groups"}:
        return False
    for group in groups:
        if not isinstance(group, dict) or not set(group) <= GROUP_KEYS:
            return False
        for rule in group.get("rules") or []:
            if not isinstance(rule, dict) or not set(rule) <= RULE_KEYS:
                return False
    return True


def _duration(value: Any, where: str, field: str, problems: list[str]) -> float:
    if value is None:
        return 0.0
    try:
        return parse_duration(value)
    except (ValueError, TypeError) as err:
        problems.append(f"{where}: {field}: {err}")
        return 0.0


def _mapping(rule: dict[str, Any], field: str, where: str,
             problems: list[str]) -> tuple[tuple[str, str], ...]:
    value = rule.get(field) or {}
    if not isinstance(value, dict):
        problems.append(f"{where}: {field}: must be a mapping")
        return ()
    out = []
    for name, text in value.items():
        if not isinstance(name, str) or not LABEL_NAME.match(name):
            problems.append(f"{where}: {field}.{name}: invalid label name")
        text = "" if text is None else str(text)
        problems += [f"{where}: {field}.{name}: {msg}" for msg in template_problems(text)]
        out.append((str(name), text))
    return tuple(sorted(out))


def _rule(raw: Any, group: str, where: str, embedded: bool,
          problems: list[str]) -> RecordingRule | CompiledAlert | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: .: a rule must be a mapping")
        return None
    extra = sorted(set(raw) - RULE_KEYS)
    if extra:
        problems.append(f"{where}: {extra[0]}: field not found in a Prometheus rule")
    expr = raw.get("expr")
    if not isinstance(expr, str | int | float) or str(expr).strip() == "":
        problems.append(f"{where}: expr: field 'expr' must be set in rule")
        return None
    expr = str(expr)
    why = check_rule_expr(expr) if embedded else None
    if why:
        problems.append(f"{where}: expr: {why}")
    labels = _mapping(raw, "labels", where, problems)
    if ("record" in raw) == ("alert" in raw):
        problems.append(f"{where}: .: one of 'record' or 'alert' must be set")
        return None
    if "record" in raw:
        name = str(raw["record"])
        if not METRIC_NAME.match(name):
            problems.append(f"{where}: record: invalid recording rule name: {name}")
        for field in ("for", "keep_firing_for", "annotations"):
            if field in raw:
                problems.append(f"{where}: {field}: invalid field '{field}' in recording rule")
        return RecordingRule(name, expr, labels)
    name = str(raw["alert"])
    return CompiledAlert(
        rule_id=f"{group}/{name}", name=name, expr=None, raw=expr, data=None,
        for_=_duration(raw.get("for"), where, "for", problems),
        keep_firing_for=_duration(raw.get("keep_firing_for"), where, "keep_firing_for",
                                  problems),
        labels=labels, annotations=_mapping(raw, "annotations", where, problems),
        no_data="ok", on_error="error", group=group)


def load_prometheus(path: str | Path, data: dict[str, Any] | None = None,
                    embedded: bool = True) -> list[CompiledGroup]:
    """The file's groups; ConfigError with every problem in it."""
    source = str(path)
    data = read_yaml(path) if data is None else data
    groups, problems, names = groups_of(data), [], set()
    if not isinstance(groups, list):
        raise ConfigError([f"{source}: groups: a list of rule groups is needed"])
    out = []
    for i, raw in enumerate(groups):
        if not isinstance(raw, dict) or not raw.get("name"):
            problems.append(f"{source}: groups[{i}]: name: a group needs a name")
            continue
        name = str(raw["name"])
        where = f"{source}: {name}"
        if name in names:
            problems.append(f"{where}: .: groupname: \"{name}\" is repeated in the same file")
        names.add(name)
        problems += [f"{where}: {k}: field not found in a Prometheus rule group"
                     for k in sorted(set(raw) - GROUP_KEYS)]
        interval = _duration(raw.get("interval"), where, "interval", problems)
        steps = []
        for j, rule in enumerate(raw.get("rules") or []):
            title = rule.get("record") or rule.get("alert") if isinstance(rule, dict) else None
            step = _rule(rule, name, f"{where}/{title or f'rules[{j}]'}", embedded, problems)
            if step is not None:
                steps.append(step)
        out.append(_group(name, interval or DEFAULT_INTERVAL, source, steps))
    if problems:
        raise ConfigError(problems)
    return out


def _group(name: str, interval: float, source: str,
           steps: list[RecordingRule | CompiledAlert]) -> CompiledGroup:
    seen: dict[str, int] = {}
    for i, step in enumerate(steps):  # two alerts of one name: `g/Name#2`, as compile does
        if isinstance(step, CompiledAlert):
            seen[step.rule_id] = seen.get(step.rule_id, 0) + 1
            if seen[step.rule_id] > 1:
                steps[i] = replace(step, rule_id=f"{step.rule_id}#{seen[step.rule_id]}")
    alerts = tuple(s for s in steps if isinstance(s, CompiledAlert))
    return CompiledGroup(name, interval, source, (), alerts, tuple(steps))


def read_rule_file(path: str | Path) -> tuple[bool, dict[str, Any]]:
    """(whether it is a Prometheus file, its content)."""
    data = read_yaml(path)
    return is_prometheus(data), data
