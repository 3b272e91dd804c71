"""Python format strings, parsed once and filled from fields computed on demand.

`string.Formatter.vformat` re-parses its format string on every call in pure Python; a
template here is parsed once (cached by text) into literal text and field references, and
`fill` asks its field source only for the fields the template names. As in the formatter it
replaces: a field must be known, `{labels[key]}` lookups are allowed on label maps only, and
attribute access (`{x.y}`) is refused.
"""

from __future__ import annotations

import _string  # the parser behind str.format
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Lookup = Callable[[str], Any]  # a field's value; KeyError when there is no such field


class TemplateError(ValueError):
    """A template that names an unknown field or uses attribute access."""


class LabelMap(dict):
    """A label map that reads as `a=b, c=d` and answers "" for a missing key."""

    def __missing__(self, key: str) -> str:
        return ""

    def __format__(self, spec: str) -> str:
        return format(", ".join(f"{k}={v}" for k, v in sorted(self.items())), spec)


@dataclass(frozen=True)
class Field:
    """One `{name[key]!conversion:spec}` reference, after the literal text before it."""

    literal: str
    text: str | None  # the field name as written (None after a trailing literal)
    first: str | int
    rest: tuple[tuple[bool, str | int], ...]
    conversion: str | None
    spec: str | tuple[Field, ...]  # a spec with fields in it is itself a format

    @functools.cached_property
    def plain(self) -> bool:
        """A bare `{name}`: no lookup, conversion or spec to apply."""
        return isinstance(self.first, str) and not self.rest and self.conversion is None \
            and self.spec == ""


@functools.lru_cache(maxsize=512)
def parse(text: str) -> tuple[Field, ...]:
    """The parts of a format string; a trailing literal is a Field without a name."""
    parts = []
    for literal, name, spec, conversion in _string.formatter_parser(text):
        if name is None:
            parts.append(Field(literal, None, "", (), None, ""))
            continue
        first, rest = _string.formatter_field_name_split(name)
        nested = parse(spec) if spec and "{" in spec else spec or ""
        parts.append(Field(literal, name, 0 if first == "" else first, tuple(rest),
                           conversion, nested))
    return tuple(parts)


def fill(parts: tuple[Field, ...], lookup: Lookup) -> str:
    """The formatted text; TemplateError for an unknown field or a refused lookup."""
    out = []
    for part in parts:
        out.append(part.literal)
        if part.text is None:
            continue
        value = _resolve(part, lookup)
        if part.plain:
            out.append(value if type(value) is str else format(value, ""))
            continue
        if part.conversion is not None:
            value = _convert(value, part.conversion)
        spec = part.spec if isinstance(part.spec, str) else fill(part.spec, lookup)
        out.append(format(value, spec))
    return "".join(out)


def _resolve(part: Field, lookup: Lookup) -> Any:
    if part.plain:
        try:
            return lookup(part.first)
        except KeyError:
            raise TemplateError(f"unknown field {{{part.first}}}") from None
    if isinstance(part.first, int):
        raise TemplateError(f"unknown field {{{part.first}}}")
    try:
        value = lookup(part.first)
    except KeyError:
        raise TemplateError(f"unknown field {{{part.first}}}") from None
    for is_attr, key in part.rest:
        if is_attr or not isinstance(value, LabelMap):
            raise TemplateError(f"{{{part.text}}}: only label[key] lookups are allowed")
        value = value[key]
    return value


def _convert(value: Any, conversion: str) -> Any:
    if conversion == "s":
        return str(value)
    if conversion == "r":
        return repr(value)
    if conversion == "a":
        return ascii(value)
    raise TemplateError(f"unknown conversion !{conversion}")
