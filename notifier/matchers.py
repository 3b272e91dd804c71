"""Label matchers as Alertmanager writes them: `name="value"`, `!=`, `=~` and `!~`.

Regex values run on RE2 (inferwatch.core.regex), anchored as Alertmanager anchors them,
`^(?:value)$`: Go's syntax and semantics, linear time on any input; a pattern RE2 refuses is
a MatcherError. (Python's `re` only parses the matcher text itself, never a label value.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from inferwatch.core.regex import Anchored, RegexError, anchored

OPERATORS = ("=~", "!~", "!=", "=")
_NAME = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*|"(?:[^"\\]|\\.)*")\s*(=~|!~|!=|=)\s*')
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"\s*')
_BARE = re.compile(r'([^,"}{\s]*)\s*')
_ESCAPES = {"n": "\n", "\\": "\\", '"': '"'}


def valid_label_name(name: str) -> bool:
    """Alertmanager 0.25's model.LabelName.IsValid: `[a-zA-Z_][a-zA-Z0-9_]*`."""
    return bool(name) and name.isascii() and (name[0].isalpha() or name[0] == "_") and \
        name.replace("_", "a").isalnum()


class MatcherError(ValueError):
    """A matcher that cannot be parsed or compiled."""


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str
    _regex: Anchored | None = field(default=None, compare=False, repr=False)

    @classmethod
    def make(cls, name: str, op: str, value: str) -> Matcher:
        if op not in OPERATORS:
            raise MatcherError(f"unknown operator {op!r}")
        regex = None
        if op in ("=~", "!~"):
            try:
                regex = anchored(value)
            except RegexError as err:
                raise MatcherError(str(err)) from None
        return cls(name, op, value, regex)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """A missing label matches as the empty string, as in Alertmanager."""
        actual = labels.get(self.name, "")
        if self._regex is not None:
            return self._regex.matches(actual) == (self.op == "=~")
        return (actual == self.value) == (self.op == "=")

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), text)


def parse_matchers(text: str) -> list[Matcher]:
    """`a="b", c=~"d|e"`, optionally in braces, into matchers."""
    body = text.strip()
    if body.startswith("{"):
        if not body.endswith("}"):
            raise MatcherError(f"{text!r}: missing closing brace")
        body = body[1:-1]
    found: list[Matcher] = []
    pos = 0
    while body[pos:].strip():
        matcher, pos = _parse_one(body, pos, text)
        found.append(matcher)
        rest = body[pos:].lstrip()
        if rest.startswith(","):
            pos = len(body) - len(rest) + 1
        elif rest:
            raise MatcherError(f"{text!r}: expected ',' before {rest[:20]!r}")
    return found


def _parse_one(body: str, pos: int, text: str) -> tuple[Matcher, int]:
    """The matcher starting at `pos` and the offset just after it."""
    head = _NAME.match(body, pos)
    if not head:
        raise MatcherError(f"{text!r}: expected a matcher such as name=\"value\"")
    name, op = head.group(1), head.group(2)
    if name.startswith('"'):
        name = _unquote(name[1:-1])
    quoted = _QUOTED.match(body, head.end())
    value_match = quoted or _BARE.match(body, head.end())
    value = _unquote(value_match.group(1)) if quoted else value_match.group(1)
    return Matcher.make(name, op, value), value_match.end()


def parse_matcher(text: str) -> Matcher:
    """Exactly one matcher."""
    found = parse_matchers(text)
    if len(found) != 1:
        raise MatcherError(f"{text!r}: expected exactly one matcher, found {len(found)}")
    return found[0]


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
