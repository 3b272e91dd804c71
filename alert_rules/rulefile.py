"""Reading rule files: every problem of every rule of every file, as
`FILE: group/rule: field: message`; a rule with shape errors is still checked for meaning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from inferwatch.alert_rules.spec import (
    RawRule,
    RecordRule,
    Rule,
    RuleFile,
    RuleGroup,
    SLORule,
    ThresholdRule,
    check_rule,
)
from inferwatch.core.config import ConfigError, Strict, describe, read_yaml


class LoadedGroup(Strict):
    """A validated group: its rules parsed into their models."""

    name: str
    interval: float
    labels: dict[str, str]
    rules: list[Rule]
    source: str


def rule_model(raw: dict[str, Any]) -> type[Rule]:
    """Which rule kind a mapping is: `slo` → SLO, `record` → recording rule, `expr` → raw
    PromQL, else threshold."""
    if "slo" in raw:
        return SLORule
    if "record" in raw:
        return RecordRule
    return RawRule if "expr" in raw else ThresholdRule


def rule_title(raw: Any, index: int) -> str:
    name = (raw.get("slo") or raw.get("alert") or raw.get("record")
            if isinstance(raw, dict) else None)
    return str(name) if name else f"rules[{index}]"


def load_file(path: str | Path) -> list[LoadedGroup]:
    """Parse and check one rule file; ConfigError lists every problem in it."""
    source = str(path)
    try:
        parsed = RuleFile.model_validate(read_yaml(path))
    except ValidationError as err:
        raise ConfigError(describe(err, source, {})) from None
    problems: list[str] = []
    groups = [g for i, raw in enumerate(parsed.groups)
              if (g := _load_group(raw, i, source, problems)) is not None]
    names = [_group_title(raw, i) for i, raw in enumerate(parsed.groups)]
    problems += [f"{source}: {n}: group name used twice" for n in sorted(set(names))
                 if names.count(n) > 1]
    problems += duplicate_slos(groups)
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
    problems += duplicate_slos(groups)
    if problems:
        raise ConfigError(problems)
    return groups


def _group_title(raw: Any, index: int) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    return name if isinstance(name, str) and name else f"groups[{index}]"


def _load_group(raw: Any, index: int, source: str, problems: list[str]) -> LoadedGroup | None:
    """The group with its rules parsed, or None; its problems, and those of each of its rules
    (even when the group itself is broken), appended under `FILE: group/rule`."""
    title = _group_title(raw, index)
    if not isinstance(raw, dict):
        problems.append(f"{source}: {title}: .: a group must be a mapping")
        return None
    try:
        group: RuleGroup | None = RuleGroup.model_validate(raw)
    except ValidationError as err:
        problems += describe(err, f"{source}: {title}", {})
        group = None
    raw_rules = raw.get("rules")
    rules: list[Rule] = []
    for i, raw_rule in enumerate(raw_rules if isinstance(raw_rules, list) else []):
        rule = _parse_rule(raw_rule, f"{source}: {title}/{rule_title(raw_rule, i)}", problems)
        if rule is not None:
            rules.append(rule)
    if group is None:
        return None
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


def duplicate_slos(groups: list[LoadedGroup]) -> list[str]:
    """An SLO name used twice, in any groups or files: both would record the same series
    (`inferwatch:slo_errors:ratio_rate5m{slo=NAME}`), and each one's alerts would read both."""
    first: dict[str, str] = {}
    problems = []
    for group in groups:
        for rule in group.rules:
            if not isinstance(rule, SLORule):
                continue
            where = f"{group.source}: {group.name}/{rule.slo}"
            if rule.slo in first:
                problems.append(f"{where}: slo: name already used by {first[rule.slo]}; SLO "
                                "names must be unique across all rule files")
            else:
                first[rule.slo] = where
    return problems
