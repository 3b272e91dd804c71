"""Which silences' matchers can match a label set, without trying every silence.

Every stored silence has at least one matcher that does not match the empty string (Alertmanager
refuses any other; `Silences.set` checks it), so an alert it mutes has that label with a value
that matcher accepts. The index files each silence under one such matcher (its key): an equality
in a dict of values per label name, a regex in an RE2 Set per label name (one pass over the value
answers all the silences' regexes at once), `!=""` and negative regexes in a list of the label's
silences. For a label set, the candidates are what its labels' values find there; every candidate
is then checked in full (`matches_all`), so the index only narrows, it never decides. A silence
with no such matcher (none can be stored, but one might be read) is always a candidate.

A Set holds at most CHUNK regexes; one that RE2 cannot compile within its memory budget is tried
regex by regex. RE2's Set runs a DFA; when the DFA runs out of memory the binding answers "no
match" without an error, so each Set also holds `.*`, which matches every value: when it is
missing from an answer, that Set's regexes are tried one by one instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import re2

from inferwatch.core.regex import without_surrogates
from inferwatch.notifier.matchers import Matcher

if TYPE_CHECKING:
    from inferwatch.notifier.silences import Silence

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_OPTIONS.never_capture = True
_OPTIONS.max_mem = 64 << 20  # one Set's budget: 1,000 regexes of bench_matching need ~2 MiB
CHUNK = 500


def _key(silence: Silence) -> Matcher | None:
    """The matcher to file the silence under: an equality or a regex if it has one (they narrow
    best), else any other matcher that does not match the empty string."""
    keys = [m for m in silence.matchers if not m.matches({})]
    for op in ("=", "=~"):
        for m in keys:
            if m.op == op:
                return m
    return keys[0] if keys else None


class _RegexSet:
    """Regex keys of one label name: `find(value)` gives the silences whose regex matches."""

    def __init__(self, pairs: list[tuple[Matcher, str]]):
        self.pairs = pairs
        self.ids = [sid for _, sid in pairs]
        self.set: re2.Set | None = re2.Set(re2._Anchor.ANCHOR_BOTH, _OPTIONS)
        for m, _ in pairs:
            self.set.Add(f"^(?:{m.value})$")  # as Anchored compiles it; refused ones never get here
        self.sentinel = self.set.Add(".*")
        try:
            self.set.Compile()
        except re2.error:  # over the memory budget
            self.set = None

    def find(self, value: str) -> list[str]:
        if self.set is not None:
            try:
                data = value.encode()
            except UnicodeEncodeError:
                data = without_surrogates(value).encode()
            hits = self.set._set.Match(data)
            if self.sentinel in hits:
                return [self.ids[i] for i in hits if i != self.sentinel]
        return [sid for m, sid in self.pairs if m.matches({m.name: value})]  # the DFA gave up


class SilenceIndex:
    """The candidates among `silences` for a label set (a superset of those that match)."""

    def __init__(self, silences: Iterable[Silence]):
        self.equal: dict[str, dict[str, list[str]]] = {}
        self.present: dict[str, list[str]] = {}  # `!=`, `!~`: any value may be a candidate
        self.always: list[str] = []
        regexes: dict[str, list[tuple[Matcher, str]]] = {}
        for s in silences:
            key = _key(s)
            if key is None:
                self.always.append(s.id)
            elif key.op == "=":
                self.equal.setdefault(key.name, {}).setdefault(key.value, []).append(s.id)
            elif key.op == "=~":
                regexes.setdefault(key.name, []).append((key, s.id))
            else:
                self.present.setdefault(key.name, []).append(s.id)
        self.regex = {name: [_RegexSet(pairs[i:i + CHUNK]) for i in range(0, len(pairs), CHUNK)]
                      for name, pairs in regexes.items()}

    def candidates(self, labels: Mapping[str, str]) -> list[str]:
        found = list(self.always)
        for name, value in labels.items():
            if not value:  # a key matcher never matches the empty string
                continue
            if (values := self.equal.get(name)) is not None:
                found += values.get(value, ())
            for rset in self.regex.get(name, ()):
                found += rset.find(value)
            found += self.present.get(name, ())
        return found
