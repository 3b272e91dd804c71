"""Per-target scrape limits, as Prometheus has them: `sample_limit`, `label_limit`,
`label_name_length_limit`, `label_value_length_limit` (0: no limit).

As in Prometheus, the metric name counts as a label (`__name__`) and its length is checked
against `label_value_length_limit`; lengths are in characters. The sample count is bounded on
the raw body before parsing (one sample per line that is neither blank nor a comment), so a
page of 200,000 series is refused after a few byte counts instead of a full parse; label
checks run only when some line is long enough to break one. `clip` bounds any text a target
controls before it reaches a log line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from typing import Any

from inferwatch.exporter.collectors.engines.scrape import ScrapeError
from inferwatch.exposition.parser import Family

SAMPLE_LIMIT = "sample_limit"
LABEL_LIMIT = "label_limit"
LABEL_NAME_LENGTH_LIMIT = "label_name_length_limit"
LABEL_VALUE_LENGTH_LIMIT = "label_value_length_limit"
NAMES = (SAMPLE_LIMIT, LABEL_LIMIT, LABEL_NAME_LENGTH_LIMIT, LABEL_VALUE_LENGTH_LIMIT)

LOG_CHARS = 512  # most characters of target-controlled text in one log line
SHOW = 50  # characters of a name or value quoted in a limit's reason (Prometheus: %.50s)
MIN_LABEL_CHARS = 5  # `a="",`: the fewest characters one more label adds to a line

_ODD = (b"\n ", b"\n\t", b"\r", b"\n\n\n", b"\x0b", b"\x0c")  # where byte counts miscount
_SAMPLE_LINE = re.compile(rb"^[ \t\r\x0b\x0c]*[^#\s]", re.MULTILINE)


class LimitExceeded(ScrapeError):
    """A target's page broke one of its limits; `limit` is the limit's name."""

    def __init__(self, limit: str, reason: str):
        super().__init__(f"{limit} exceeded: {reason}")
        self.limit = limit


def clip(text: str, most: int = LOG_CHARS) -> str:
    """text, cut to `most` characters with a note of how much was left out."""
    if len(text) <= most:
        return text
    return f"{text[:most]}... ({len(text) - most} more characters)"


@dataclass(frozen=True)
class Limits:
    """What one target may publish. The defaults fit a multi-rank, multi-model engine page
    (about 5,000 samples, 25 labels, 700-character lines) many times over."""

    sample_limit: int = 50_000
    label_limit: int = 64
    label_name_length_limit: int = 256
    label_value_length_limit: int = 2048

    def override(self, source: Any) -> Limits:
        """These limits with those `source` (a target's config) sets, None meaning unset."""
        given = {f.name: getattr(source, f.name, None) for f in fields(self)}
        return replace(self, **{k: v for k, v in given.items() if v is not None})

    def check_body(self, body: bytes) -> None:
        """Refuse a body with more sample lines than `sample_limit` before it is parsed."""
        limit = self.sample_limit
        if not limit or body.count(b"\n") < limit:  # fewer lines than the limit: fits
            return
        # lines less comments and blank lines, with byte counts (a few ms for 200,000 lines);
        # exact unless lines are indented, end in CR or blanks run in threes: then a regex
        count = (body.count(b"\n") + (not body.endswith(b"\n")) - body.count(b"\n#")
                 - body.startswith(b"#") - body.count(b"\n\n") - body.startswith(b"\n"))
        if count > limit and any(odd in body for odd in _ODD):
            count = len(_SAMPLE_LINE.findall(body))
        if count > limit:
            raise LimitExceeded(SAMPLE_LIMIT, f"{count} samples, limit {limit}")

    def label_checks_needed(self, body: bytes) -> bool:
        """Whether some line is long enough to break a label limit (else none can)."""
        bounds = [b for b in (self.label_name_length_limit, self.label_value_length_limit,
                              self.label_limit * MIN_LABEL_CHARS) if b]
        if not bounds:
            return False
        return max(map(len, body.split(b"\n")), default=0) > min(bounds)

    def check_families(self, families: dict[str, Family], labels_too: bool = True) -> None:
        """Refuse parsed families over a limit (the exact sample count, then the labels)."""
        limit = self.sample_limit
        count = sum(len(f.samples) for f in families.values())
        if limit and count > limit:
            raise LimitExceeded(SAMPLE_LIMIT, f"{count} samples, limit {limit}")
        if labels_too and (self.label_limit or self.label_name_length_limit
                           or self.label_value_length_limit):
            self._check_labels(families)

    def _check_labels(self, families: dict[str, Family]) -> None:
        most, name_most, value_most = (self.label_limit, self.label_name_length_limit,
                                       self.label_value_length_limit)
        seen: set[int] = set()  # the parser shares one tuple among samples with equal labels
        for fam in families.values():
            for name, labels, _value in fam.samples:
                if value_most and len(name) > value_most:
                    raise LimitExceeded(LABEL_VALUE_LENGTH_LIMIT, _reason(
                        name, "__name__", name, len(name), value_most))
                if id(labels) in seen:
                    continue
                seen.add(id(labels))
                if most and len(labels) + 1 > most:
                    raise LimitExceeded(LABEL_LIMIT, f"metric {name[:SHOW]!r} has "
                                        f"{len(labels) + 1} labels, limit {most}")
                for key, value in labels:
                    if name_most and len(key) > name_most:
                        raise LimitExceeded(LABEL_NAME_LENGTH_LIMIT, f"metric "
                                            f"{name[:SHOW]!r}, label name {key[:SHOW]!r}, "
                                            f"length {len(key)}, limit {name_most}")
                    if value_most and len(value) > value_most:
                        raise LimitExceeded(LABEL_VALUE_LENGTH_LIMIT, _reason(
                            name, key, value, len(value), value_most))


def _reason(metric: str, label: str, value: str, length: int, limit: int) -> str:
    more = "..." if len(value) > SHOW else ""
    return (f"metric {metric[:SHOW]!r}, label {label[:SHOW]!r}, value {value[:SHOW]!r}{more}, "
            f"length {length}, limit {limit}")
