"""Inhibition as Alertmanager does it: a firing source alert mutes matching targets."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from inferwatch.notifier.alerts import StoredAlert
from inferwatch.notifier.config import InhibitRule
from inferwatch.notifier.matchers import Matcher, matches_all, parse_matchers


@dataclass(frozen=True)
class Rule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]

    @classmethod
    def from_config(cls, cfg: InhibitRule) -> Rule:
        def parse(texts: list[str]) -> tuple[Matcher, ...]:
            return tuple(m for text in texts for m in parse_matchers(text))
        return cls(parse(cfg.source_matchers), parse(cfg.target_matchers), tuple(cfg.equal))

    def equal_key(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        """A missing label and an empty one are the same thing."""
        return tuple(labels.get(n, "") for n in self.equal)


class Inhibition:
    """The firing source alerts of each rule at one instant, indexed by their `equal` labels."""

    def __init__(self, rules: Iterable[Rule], alerts: Iterable[StoredAlert], now: float):
        self.rules = tuple(rules)
        self._sources: list[dict[tuple[str, ...], list[StoredAlert]]] = []
        firing = [a for a in alerts if not a.resolved(now)] if self.rules else []
        for rule in self.rules:
            index: dict[tuple[str, ...], list[StoredAlert]] = defaultdict(list)
            for alert in firing:
                if matches_all(rule.source, alert.labels):
                    index[rule.equal_key(alert.labels)].append(alert)
            self._sources.append(index)

    def inhibited_by(self, labels: Mapping[str, str]) -> str | None:
        """The fingerprint of an alert that mutes these labels, or None."""
        for rule, index in zip(self.rules, self._sources, strict=True):
            if not matches_all(rule.target, labels):
                continue
            two_sided = matches_all(rule.source, labels)
            for source in index.get(rule.equal_key(labels), ()):
                if two_sided and matches_all(rule.target, source.labels):
                    continue
                return source.fingerprint
        return None
