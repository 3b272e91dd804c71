"""Regular expressions as Prometheus and Alertmanager run them: RE2, anchored, linear time.

Both compile a label matcher's value as Go's `regexp.Compile("^(?:" + value + ")$")`. RE2 (the
`google-re2` binding) has Go's syntax and semantics: `(?i)` anywhere, `\\pL`, `\\z` and POSIX
classes in brackets; `.` does not match a newline; no lookaround and no backreferences, so no
pattern can take more than linear time on any input.
"""

from __future__ import annotations

from functools import lru_cache

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print each refused pattern to stderr itself
_OPTIONS.max_mem = 8 << 20  # a pattern whose program needs more is refused, not compiled
_OPTIONS.never_capture = True  # a matcher only asks whether the whole text matches
_BOTH = re2._re2.RE2.Anchor.ANCHOR_BOTH


class RegexError(ValueError):
    """A pattern RE2 (and so Prometheus and Alertmanager) refuses."""


class Anchored:
    """A compiled matcher value: `matches(text)` is true when the whole text matches."""

    __slots__ = ("pattern", "_compiled", "_match")

    def __init__(self, pattern: str):
        self.pattern = pattern
        try:
            self._compiled = re2.compile(f"^(?:{pattern})$", _OPTIONS)
        except re2.error as err:
            detail = err.args[0].decode(errors="replace") if err.args and isinstance(
                err.args[0], bytes) else str(err)
            raise RegexError(f"invalid regular expression {pattern!r}: {detail}") from None
        # The binding's own search() re-encodes and walks a generator on every call (about
        # 4.5 µs); its compiled RE2 object's Match is about 0.6 µs, which matters at 10,000
        # alerts against 1,000 regex silences (bench/bench_matching.py).
        self._match = self._compiled._regexp.Match

    def matches(self, text: str) -> bool:
        try:
            data = text.encode()
        except UnicodeEncodeError:  # a lone surrogate: Go's JSON decoder makes it U+FFFD
            data = without_surrogates(text).encode()
        return self._match(_BOTH, data, 0, len(data))[0][0] != -1

    def __repr__(self) -> str:
        return f"Anchored({self.pattern!r})"


def without_surrogates(text: str) -> str:
    """`text` with each lone surrogate (no UTF-8 form) as U+FFFD, as Go decodes JSON."""
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)


@lru_cache(maxsize=4096)
def anchored(pattern: str) -> Anchored:
    """The compiled, anchored matcher for `pattern` (cached); RegexError when refused."""
    return Anchored(pattern)
