"""Go's view of Python values in a template: type names, truth, comparability, signatures.

Python values stand for Go's: str is `string`, int `int`, float `float64`, bool `bool`, None
nil (an invalid reflect.Value), a list a slice, a dict a map. Classes that stand for Go types
say so with `go_type`, list their exported fields in `go_fields` and their methods in
`go_methods` ({name: Sig}).
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Sig(NamedTuple):
    """A Go function's parameter types ("string", "[]string", "any"), variadic element type."""

    params: tuple[str, ...] = ()
    variadic: str | None = None


class GoError(Exception):
    """An error a Go function returns (`error calling NAME: ...`)."""


class HTML(str):
    """html/template's HTML type, as safeHtml returns it: a string kind, not a string type."""

    go_type = "template.HTML"


class StringList(list):
    go_type = "[]string"


def go_type(v: Any) -> str:
    """The Go type name of a value, as Go prints it in errors and %T."""
    if v is None:
        return "<nil>"
    t = getattr(v, "go_type", None)
    if t is not None:
        return t
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "[]string" if v and all(type(x) is str for x in v) else "[]interface {}"
    if isinstance(v, dict):
        return "map[string]interface {}"
    return type(v).__name__


def is_struct(v: Any) -> bool:
    return hasattr(v, "go_fields")


def kind(v: Any) -> str:
    """Go's reflect kind, reduced to what the comparison functions need."""
    if v is None:
        return "invalid"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "slice"
    if isinstance(v, dict):
        return "map"
    return "struct"


def comparable(v: Any) -> bool:
    """Go's Type.Comparable: no slices or maps, and no struct holding one."""
    k = kind(v)
    if k in ("slice", "map"):
        return False
    if k == "struct":
        return all(comparable(getattr(v, f)) for f in v.go_fields)
    return True


def truth(v: Any) -> bool:
    """Go's template truth: false, 0, nil and empty strings, slices and maps are false."""
    if v is None:
        return False
    if isinstance(v, (bool, int, float, str, list, dict)):
        return bool(v)
    return True


def zero_of(container: Any) -> Any:
    """The zero value of a map's element type (a missing key under missingkey=zero)."""
    return getattr(container, "go_zero", None)
