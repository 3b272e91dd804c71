"""Fast parser for the Prometheus text exposition format 0.0.4, as inference engines write it.

`parse(body) -> {family name: Family}`; each sample is a tuple `(name, labels, value)` whose
labels are (name, value) pairs sorted by name, so a label set compares and hashes the same
whatever order the engine wrote it in. The samples equal those of prometheus_client's
`text_string_to_metric_families` on every body both accept, and families are grouped and named
as it does: a counter family drops `_total` from its name while its samples always end in
`_total` (Triton's `nv_inference_count` counter gives samples `nv_inference_count_total`);
`_bucket/_count/_sum` belong to their histogram or summary; a sample outside the declared
family (`x_created` with no TYPE line of its own) forms an untyped family. Label values are
unescaped (`\\\\`, `\\"`, `\\n`; other backslashes stay); lines may be indented, end in CR
or be blank, and the last one may lack its newline. Values are floats; a timestamp after the
value is validated and dropped (the exporter republishes a fresh snapshot).

Deliberate differences from prometheus_client, each a ParseError here where it accepts:
- legacy names only: no quoted UTF-8 names, no `{__name__="x"}`, no `-` or blanks in a metric
  name; label names match `[a-zA-Z_][a-zA-Z0-9_]*` (no colons); no blank terms (`{a="1", ,}`);
- at most a value and a timestamp after the labels (it keeps the first and last of any number);
- `# TYPE` is one of counter, gauge, histogram, summary, untyped, and may not change the type
  of a family that already has samples;
- a family name that comes back later in the body is merged into the first family when the
  types agree (a lone HELP has none) and refused when they do not; untyped samples of a name
  followed by a TYPE line for that name is such a conflict.
Also, `#x TYPE ...` is a comment here (as in Go's parser); only `# HELP` and `# TYPE` count.

Truncated bodies: a last line cut mid-way raises ParseError when it no longer parses
(`foo{a="b`, `foo{a="b"} `, `# TYPE foo`); a body cut after a complete line, or inside a number
that still reads as one, parses as what is there. Histograms are not checked for completeness.
Limits: `max_bytes` (characters, for a str) is checked first; `max_series` as each family ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

Labels = tuple[tuple[str, str], ...]
Sample = tuple[str, Labels, float]  # (sample name, labels sorted by name, value)

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_SERIES = 500_000

_TYPES = frozenset({"counter", "gauge", "histogram", "summary", "untyped"})
_KEYWORDS = ("HELP", "TYPE")
_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_VALUE = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_PAIR = rf"(?!__)[a-zA-Z_][a-zA-Z0-9_]*\s*=\s*{_VALUE}"
_LABELS_RE = re.compile(rf"\s*(?:,\s*)?(?:{_PAIR}\s*(?:,\s*{_PAIR}\s*)*(?:,\s*)?)?")
_PAIR_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"([^"\\]*(?:\\.[^"\\]*)*)"')
_ESCAPE_RE = re.compile(r'\\[\\n"]')
_HELP_ESCAPE_RE = re.compile(r"\\[\\n]")
_UNESCAPE = {"\\\\": "\\", "\\n": "\n", '\\"': '"'}
_COMMENT_SEP_RE = re.compile(r"[ \t\r\x0b\x0c]+")
_VALUE_SEP_RE = re.compile(r"[ \t]+")


class ParseError(ValueError):
    """Not a valid exposition body; `lineno` is 1-based, 0 for the body as a whole."""

    def __init__(self, lineno: int, reason: str) -> None:
        super().__init__(f"line {lineno}: {reason}")
        self.lineno = lineno
        self.reason = reason


@dataclass(slots=True)
class Family:
    """A metric family: name (a counter's without `_total`), type, help text and samples."""

    name: str
    type: str
    help: str = ""
    samples: list[Sample] = field(default_factory=list)


def parse(
    body: str | bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_series: int = DEFAULT_MAX_SERIES,
) -> dict[str, Family]:
    """Parse a text exposition body into families, keyed by family name in body order."""
    text = _decode(body, max_bytes)
    lines = text.split("\n")
    out = _Builder(max_series)
    _parse_lines(lines, out)
    out.finish(len(lines))
    return out.families


def _decode(body: str | bytes, max_bytes: int) -> str:
    """The body as text, refused when longer than max_bytes (characters, for a str)."""
    if len(body) > max_bytes:
        raise ParseError(0, f"body of {len(body)} bytes is over the limit of {max_bytes}")
    if isinstance(body, str):
        return body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ParseError(body.count(b"\n", 0, err.start) + 1, "invalid UTF-8") from None


def _parse_lines(lines: list[str], out: _Builder) -> None:
    """The hot loop. Long on purpose: locals and inlined fast paths are what make it fast."""
    cache: dict[str, Labels] = {}  # label string -> labels
    bases: dict[tuple[str, str], tuple[Labels, Labels]] = {}  # text around `le` -> labels
    allowed, append = out.allowed, out.samples.append
    labels: Labels
    for lineno, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        if line[0] == "#":
            out.comment(line, lineno)
            allowed, append = out.allowed, out.samples.append
            continue
        name, brace, text = line.partition("{")
        if brace:
            text, close, rest = text.rpartition("}")
            if not close:
                raise ParseError(lineno, "label set has no closing '}'")
            labels = cache.get(text) or _labels(text, cache, bases, lineno)
        else:
            name, _, rest = line.partition(" ")
            labels = ()
            if "\t" in name:
                name, rest = _split_plain(line)
        if "_" in rest:
            raise ParseError(lineno, f"invalid value {rest.strip()!r}")
        try:
            value = float(rest)
        except ValueError:
            value = _value(rest, lineno)
        sample_name = allowed.get(name)
        if sample_name is None:
            name = _checked_name(name, lineno)
            sample_name = allowed.get(name)
            if sample_name is None:
                out.untyped(name, lineno)
                allowed, append = out.allowed, out.samples.append
                sample_name = name
        append((sample_name, labels, value))


def _split_plain(line: str) -> tuple[str, str]:
    """Name and the rest of a sample line without labels, whatever blanks separate them."""
    fields = _VALUE_SEP_RE.split(line, 1)
    return fields[0], fields[1] if len(fields) == 2 else ""


def _checked_name(name: str, lineno: int) -> str:
    """A sample's metric name, blanks before its `{` removed, or ParseError."""
    stripped = name.strip()
    if not _NAME_RE.fullmatch(stripped):
        raise ParseError(lineno, f"invalid metric name {stripped!r}")
    return stripped


def _value(rest: str, lineno: int) -> float:
    """The value of a line the fast path could not read: `value [timestamp]`, or ParseError."""
    fields = _VALUE_SEP_RE.split(rest.strip())
    if not fields[0]:
        raise ParseError(lineno, "sample has no value")
    if len(fields) > 2:
        raise ParseError(lineno, f"unexpected text after the value: {rest.strip()!r}")
    try:
        value = float(fields[0])
        if len(fields) == 2:
            float(fields[1])  # a timestamp: checked, then dropped
    except ValueError:
        raise ParseError(lineno, f"invalid value {rest.strip()!r}") from None
    return value


def _labels(
    text: str,
    cache: dict[str, Labels],
    bases: dict[tuple[str, str], tuple[Labels, Labels]],
    lineno: int,
) -> Labels:
    """Labels of a string the cache missed. `le` is cut out first, so a histogram's buckets
    share one parse of the rest; strings with backslashes or odd spacing take the full parse."""
    before, le, after = text.partition('le="')
    if le and (not before or before[-1] == ",") and "\\" not in text:
        value, quote, tail = after.partition('"')
        if quote and not before.count('"') % 2:  # an even count: `le` is a name, not in a value
            around = bases.get((before, tail))
            if around is None:
                blank = _parse_labels(f'{before}le=""{tail}', lineno)  # checks what is around
                at = [name for name, _ in blank].index("le")
                around = bases[before, tail] = blank[:at], blank[at + 1 :]
            labels = cache[text] = around[0] + (("le", value),) + around[1]
            return labels
    labels = cache[text] = _parse_labels(text, lineno)
    return labels


def _parse_labels(text: str, lineno: int) -> Labels:
    """Validate and split the inside of `{...}` into sorted (name, unescaped value) pairs."""
    if not _LABELS_RE.fullmatch(text):
        raise ParseError(lineno, f"invalid label set {{{text}}}")
    pairs = _PAIR_RE.findall(text)
    if "\\" in text:
        pairs = [(name, _ESCAPE_RE.sub(_unescape, value)) for name, value in pairs]
    labels = tuple(sorted(pairs))
    if len({name for name, _ in labels}) != len(labels):
        raise ParseError(lineno, f"duplicate label name in {{{text}}}")
    return labels


def _unescape(match: re.Match[str]) -> str:
    return _UNESCAPE[match.group()]


class _Builder:
    """Groups samples into families the way prometheus_client's text parser does."""

    def __init__(self, max_series: int) -> None:
        self.families: dict[str, Family] = {}
        self.max_series = max_series
        self.count = 0
        self.declared = ""  # the name on the last HELP/TYPE line; "" after an untyped sample
        self.current: Family | None = None
        self.opened_at = 0
        self.allowed: dict[str, str] = {}  # sample name on the wire -> sample name we report
        self.samples: list[Sample] = []

    def comment(self, line: str, lineno: int) -> None:
        """A `#` line: HELP and TYPE open or update a family, anything else is a comment."""
        parts = line.split(" ", 3)  # the usual form; anything unusual takes the general split
        if (
            len(parts) < 4
            or parts[0] != "#"
            or parts[1] not in _KEYWORDS
            or not parts[2]
            or parts[3][:1].isspace()
            or (parts[2] != self.declared and not _NAME_RE.fullmatch(parts[2]))
        ):
            parts = _COMMENT_SEP_RE.split(line, 3)
            if len(parts) < 2 or parts[0] != "#" or parts[1] not in _KEYWORDS:
                return
            if len(parts) > 2 and not _NAME_RE.fullmatch(parts[2]):
                raise ParseError(lineno, f"invalid metric name {parts[2]!r} in # {parts[1]}")
        name = parts[2] if len(parts) > 2 else ""
        if parts[1] == "HELP":
            text = parts[3] if len(parts) == 4 else ""
            if "\\" in text:
                text = _HELP_ESCAPE_RE.sub(_unescape, text)
            self.help(name, text, lineno)
        elif len(parts) < 4:
            raise ParseError(lineno, "# TYPE line without a type")
        else:
            self.type(name, parts[3], lineno)

    def help(self, name: str, text: str, lineno: int) -> None:
        """`# HELP name text`: a new family unless it names the current one."""
        if name != self.declared:
            self.finish(lineno)
            self.declared = name
            if name:
                self.open(name, lineno)
        if name and self.current is not None:
            self.current.help = text

    def type(self, name: str, typ: str, lineno: int) -> None:
        """`# TYPE name type`: a new family unless it names the current one."""
        if typ not in _TYPES:
            raise ParseError(lineno, f"unknown metric type {typ!r}")
        family = self.current
        if name != self.declared or family is None:
            self.finish(lineno)
            self.declared = name
            family = self.open(name, lineno)
        elif family.samples and family.type != typ:
            raise ParseError(lineno, f"# TYPE {typ} for {name!r} after its samples")
        family.type = typ
        family.name = name
        if typ == "counter":
            family.name = name.removesuffix("_total")
            if not family.name:
                raise ParseError(lineno, "counter named '_total'")
            self.allowed = {name: family.name + "_total"}
        elif typ == "histogram":
            bucket, count, total = name + "_bucket", name + "_count", name + "_sum"
            self.allowed = {bucket: bucket, count: count, total: total}
        elif typ == "summary":
            count, total = name + "_count", name + "_sum"
            self.allowed = {name: name, count: count, total: total}
        else:
            self.allowed = {name: name}

    def untyped(self, name: str, lineno: int) -> None:
        """A sample outside the current family starts an untyped family of its own name."""
        self.finish(lineno)
        self.declared = ""
        self.open(name, lineno)

    def open(self, name: str, lineno: int) -> Family:
        """Start collecting a new (so far untyped) family."""
        family = self.current = Family(name, "untyped")
        self.opened_at = lineno
        self.allowed = {name: name}
        self.samples = family.samples
        return family

    def finish(self, lineno: int) -> None:
        """Close the current family: merge it into the result and enforce the series cap."""
        family, self.current = self.current, None
        self.allowed, self.samples = {}, []
        if family is None:
            return
        self.count += len(family.samples)
        if self.count > self.max_series:
            raise ParseError(lineno, f"more than {self.max_series} samples")
        first = self.families.setdefault(family.name, family)
        if first is not family:
            _merge(first, family, self.opened_at)


def _merge(first: Family, later: Family, lineno: int) -> None:
    """Fold a family named again later into the first one; a lone HELP line has no type."""
    if first.type != later.type:
        if first.type == "untyped" and not first.samples:
            first.type = later.type
        elif later.type != "untyped" or later.samples:
            raise ParseError(lineno, f"family {later.name!r} was {first.type}, now {later.type}")
    first.samples.extend(later.samples)
    first.help = first.help or later.help
