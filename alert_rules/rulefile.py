"""Reading rule files: every problem of every rule of every file, as
`FILE: group/rule: field: message`; a rule with shape errors is still checked for meaning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from alert_rules.spec import Group, RawRule, Rule, RuleFile, SLORule, ThresholdRule, check_rule
from inferwatch.config import ConfigError, Strict, describe, read_yaml


class LoadedGroup(Strict):
    """A validated group: its rules parsed into their models."""

    name: str
    interval: float
    labels: dict[str, str]
    rules: list[Rule]
    source: str


def rule_model(raw: dict[str, Any]) -> type[Rule]:
    """Which rule kind a mapping is: `slo` → SLO, `expr` → raw PromQL, else threshold."""
    if "slo" in raw:
        return SLORule
    return RawRule if "expr" in raw else ThresholdRule


def rule_title(raw: Any, index: int) -> str:
    name = raw.get("slo") or raw.get("alert") if isinstance(raw, dict) else None
    return str(name) if name else f"rules[{index}]"


def load_file(path: str | Path) -> list[LoadedGroup]:
    """Parse and check one rule file; ConfigError lists every problem in it."""
    source = str(path)
    try:
        parsed = RuleFile.model_validate(read_yaml(path))
    except ValidationError as err:
        raise ConfigError(describe(err, source, {})) from None
    problems: list[str] = []
    groups = [_load_group(g, source, problems) for g in parsed.groups]
    names = [g.name for g in parsed.groups]
    problems += [f"{source}: {n}: group name used twice" for n in sorted(set(names))
                 if names.count(n) > 1]
    if problems:
        raise ConfigError(problems)
    return groups


def load_files(paths: list[str] | list[Path]) -> list[LoadedGroup]:
    """Every group of every file; problems of all files together."""
    problems: list[str] = []
    groups: list[LoadedGroup] = []
    for path in paths:
        try:
            groups += load_file(path)
        except ConfigError as err:
            problems += err.problems
    if problems:
        raise ConfigError(problems)
    return groups


def _load_group(group: Group, source: str, problems: list[str]) -> LoadedGroup:
    rules: list[Rule] = []
    for index, raw in enumerate(group.rules):
        where = f"{source}: {group.name}/{rule_title(raw, index)}"
        rule = _parse_rule(raw, where, problems)
        if rule is not None:
            rules.append(rule)
    _check_unique(group, rules, source, problems)
    return LoadedGroup(name=group.name, interval=group.interval, labels=group.labels,
                       rules=rules, source=source)


def _parse_rule(raw: Any, where: str, problems: list[str]) -> Rule | None:
    """The parsed rule, or None; its problems appended. A rule with shape errors is also
    checked without the broken fields, so that one run reports every problem."""
    if not isinstance(raw, dict):
        problems.append(f"{where}: .: a rule must be a mapping")
        return None
    model = rule_model(raw)
    try:
        rule = model.model_validate(raw)
    except ValidationError as err:
        problems += describe(err, where, {})
        broken = {e["loc"][0] for e in err.errors() if e["loc"]}
        try:
            partial = model.model_validate({k: v for k, v in raw.items() if k not in broken})
        except ValidationError:
            return None
        problems += [f"{where}: {field}: {msg}" for field, msg in check_rule(partial)
                     if field.split(".")[0] not in broken]
        return None
    problems += [f"{where}: {field}: {msg}" for field, msg in check_rule(rule)]
    return rule


def _check_unique(group: Group, rules: list[Rule], source: str, problems: list[str]) -> None:
    slos = [r.slo for r in rules if isinstance(r, SLORule)]
    for name in sorted({n for n in slos if slos.count(n) > 1}):
        problems.append(f"{source}: {group.name}/{name}: slo: name used twice in the group")
