"""Alert templates rendered as Prometheus 2.42 renders them (template/template.go, rules/
alerting.go): Go's text/template (alert_rules.gotmpl) with `$labels`, `$externalLabels`,
`$externalURL`, `$value` and `.Labels`/`.Value`, and Prometheus's functions: `query`, `first`,
`label`, `value`, `strvalue`, `sortByLabel`, `args`, `humanize`, `humanize1024`,
`humanizeDuration`, `humanizePercentage`, `humanizeTimestamp`, `reReplaceAll`, `match`,
`title`, `toUpper`, `toLower`, `stripPort`, `graphLink`, `tableLink`, `externalURL`,
`pathPrefix`, and the builtins (`printf`, `urlquery`, `len`, `index`, `eq`..., `and`/`or`).

`query` runs on the rule's own source at the evaluation time. Rendering is synchronous: the
rule manager renders with `expand_async`, which answers each query the template asks for from
the source and renders again (a template asks for at most MAX_QUERIES). A template that fails
renders as Prometheus's `<error expanding template: ...>`.
"""

from __future__ import annotations

import math
import re
import urllib.parse
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from inferwatch.alert_rules import gotmpl
from inferwatch.alert_rules.gofmt import go_float, sprintf
from inferwatch.alert_rules.humanize import (
    humanize,
    humanize_1024,
    humanize_duration,
    humanize_percentage,
)

MAX_QUERIES = 20
QueryFn = Callable[[str], list[tuple[dict[str, str], float]]]
DEFS = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}" \
       "{{$externalURL := .ExternalURL}}{{$value := .Value}}"
FUNC_NAMES = ("query", "first", "label", "value", "strvalue", "sortByLabel", "args", "humanize",
              "humanize1024", "humanizeDuration", "humanizePercentage", "humanizeTimestamp",
              "reReplaceAll", "match", "title", "toUpper", "toLower", "stripPort", "graphLink",
              "tableLink", "externalURL", "pathPrefix", "safeHtml", "printf", "print", "println",
              "urlquery", "len", "index", "not", "and", "or", "eq", "ne", "lt", "le", "gt", "ge",
              "html", "js")


class Sample:
    """template.go's *sample: Labels (with __name__) and Value."""

    go_type = "*template.sample"
    go_fields = ("Labels", "Value")

    def __init__(self, labels: dict[str, str], value: float):
        self.Labels, self.Value = labels, value


class NeedQuery(Exception):  # noqa: N818 - a request, not an error
    """The template asked for a query the renderer has no answer for yet."""

    def __init__(self, query: str):
        super().__init__(query)
        self.query = query


def show(value: Any) -> str:
    """fmt.Print of a template value, as text/template prints a pipeline's result."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{show(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, Sample):
        return f"&{{{show(value.Labels)} {go_float(value.Value)}}}"
    if isinstance(value, list):
        return "[" + " ".join(show(v) for v in value) + "]"
    return str(value)


def to_float(value: Any) -> float:
    """convertToFloat: a number, or a string strconv.ParseFloat reads."""
    if isinstance(value, bool):
        raise ValueError("can't convert bool to float")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.replace("_", "x") if "_" in value else value)
        except ValueError:
            raise ValueError(f'strconv.ParseFloat: parsing "{value}": invalid syntax') from None
    raise ValueError(f"can't convert {gotmpl.go_type(value)} to float")


def _first(v: list[Sample]) -> Sample:
    if not isinstance(v, list):
        raise ValueError(f"wrong type for value; expected template.queryResult; got "
                         f"{gotmpl.go_type(v)}")
    if not v:
        raise ValueError("first() called on vector with no elements")
    return v[0]


def _sample(s: Any) -> Sample:
    if not isinstance(s, Sample):
        raise ValueError(f"wrong type for value; expected *template.sample; got "
                         f"{gotmpl.go_type(s)}")
    return s


def _timestamp(v: Any) -> str:
    x = to_float(v)
    if math.isnan(x) or math.isinf(x):
        return humanize(x)
    t = datetime.fromtimestamp(int(x * 1e9) / 1e9, UTC)
    frac = f"{t.microsecond:06d}".rstrip("0")
    return t.strftime("%Y-%m-%d %H:%M:%S") + (f".{frac}" if frac else "") + " +0000 UTC"


def _strip_port(host: str) -> str:
    if host.startswith("[") and "]" in host:
        return host[1:host.index("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _link(expr: str, tab: int) -> str:
    return f"/graph?g0.expr={urllib.parse.quote_plus(expr)}&g0.tab={tab}"


def _compare(op: str) -> Callable[[Any, Any], bool]:
    def check(a: Any, b: Any) -> bool:
        if type(a) is not type(b) and not {type(a), type(b)} <= {int, float}:
            raise ValueError("incompatible types for comparison")
        return {"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op]
    return check


def funcs(query: QueryFn | None, external_url: str = "") -> dict[str, Callable[..., Any]]:
    def run_query(q: str) -> list[Sample]:
        if query is None:
            raise ValueError("query is not available here")
        try:
            answer = query(q)
        except gotmpl.TemplateError:
            raise
        except Exception as err:  # noqa: BLE001 - the source's error, as Prometheus reports it
            raise ValueError(str(err)) from None
        return [Sample(dict(labels), value) for labels, value in answer]

    def sort_by(label: str, v: list[Sample]) -> list[Sample]:
        return sorted(v, key=lambda s: s.Labels.get(label, ""))  # stable, as sort.Stable

    path = urllib.parse.urlsplit(external_url).path
    return {
        "query": run_query, "first": _first,
        "label": lambda name, s: _sample(s).Labels.get(name, ""),
        "value": lambda s: _sample(s).Value,
        "strvalue": lambda s: _sample(s).Labels.get("__value__", ""),
        "sortByLabel": sort_by,
        "args": lambda *a: {f"arg{i}": x for i, x in enumerate(a)},
        "humanize": lambda v: humanize(to_float(v)),
        "humanize1024": lambda v: humanize_1024(to_float(v)),
        "humanizeDuration": lambda v: humanize_duration(to_float(v)),
        "humanizePercentage": lambda v: humanize_percentage(to_float(v)),
        "humanizeTimestamp": _timestamp,
        "reReplaceAll": lambda pat, repl, text: re.sub(pat, lambda m: go_expand(repl, m), text),
        "match": lambda pat, text: re.search(pat, text) is not None,
        "title": lambda s: re.sub(r"(^|\s)(\w)", lambda m: m.group(1) + m.group(2).upper(), s),
        "toUpper": str.upper, "toLower": str.lower, "stripPort": _strip_port,
        "graphLink": lambda e: _link(e, 0), "tableLink": lambda e: _link(e, 1),
        "externalURL": lambda: external_url, "pathPrefix": lambda: path,
        "safeHtml": str, "printf": sprintf,
        "print": lambda *a: "".join(show(x) for x in a),
        "println": lambda *a: " ".join(show(x) for x in a) + "\n",
        "urlquery": lambda *a: urllib.parse.quote_plus("".join(show(x) for x in a)),
        "html": lambda *a: _html("".join(show(x) for x in a)),
        "js": lambda *a: "".join(show(x) for x in a).replace("\\", "\\\\").replace("'", "\\'"),
        "len": len, "index": _index, "not": lambda a: not gotmpl.truth(a),
        "and": lambda *a: next((x for x in a if not gotmpl.truth(x)), a[-1]),
        "or": lambda *a: next((x for x in a if gotmpl.truth(x)), a[-1]),
        "eq": lambda a, *b: any(a == x for x in b), "ne": lambda a, b: a != b,
        **{op: _compare(op) for op in ("lt", "le", "gt", "ge")},
    }


_GO_NAME = re.compile(r"\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+)")


def go_expand(template: str, match: re.Match[str]) -> str:
    """Go's Regexp.Expand: `$1`, `${1}`, `$name`, `${name}` (the longest name), `$$`; an
    unknown group is empty, a malformed `$` stays as it is."""
    out, i = [], 0
    while i < len(template):
        c = template[i]
        if c != "$":
            out.append(c)
            i += 1
            continue
        if template.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        m = _GO_NAME.match(template, i + 1)
        if not m:
            out.append("$")
            i += 1
            continue
        name = m.group(1) or m.group(2)
        i = m.end()
        try:
            group = match.group(int(name) if name.isdigit() else name)
        except IndexError:
            group = None
        out.append(group or "")
    return "".join(out)


def _html(s: str) -> str:
    return (s.replace("&", "&amp;").replace("'", "&#39;").replace("<", "&lt;")
            .replace(">", "&gt;").replace('"', "&#34;"))


def _index(item: Any, *keys: Any) -> Any:
    for key in keys:
        item = item.get(key, "") if isinstance(item, dict) else item[key]
    return item


_CHECK_FUNCS = dict.fromkeys(FUNC_NAMES, None)


def template_problems(text: str) -> list[str]:
    """Why the text would not parse as an alert template (empty when it does)."""
    if "{{" not in text:
        return []
    try:
        gotmpl.parse(DEFS + text, _CHECK_FUNCS)
    except gotmpl.TemplateError as err:
        return [f"template does not parse: {err}"]
    return []


def render(text: str, labels: dict[str, str], value: float, query: QueryFn | None = None,
           name: str = "", external_labels: dict[str, str] | None = None,
           external_url: str = "") -> str:
    """The expanded text, or `<error expanding template: ...>` as Prometheus writes it."""
    if "{{" not in text:
        return text
    tmpl = f"__alert_{name}"
    try:
        body = gotmpl.parse(DEFS + text, _CHECK_FUNCS)
    except gotmpl.TemplateError as err:
        return f"<error expanding template: error parsing template {tmpl}: {err}>"
    data = {"Labels": labels, "ExternalLabels": external_labels or {},
            "ExternalURL": external_url, "Value": value}
    try:
        return gotmpl.Exec(funcs(query, external_url), show).run(body, _Data(data))
    except gotmpl.TemplateError as err:
        return f"<error expanding template: error executing template {tmpl}: {err}>"


class _Data:
    """AlertTemplateData's struct: fields Labels, ExternalLabels, ExternalURL, Value."""

    go_type = "struct { Labels map[string]string; ExternalLabels map[string]string; " \
              "ExternalURL string; Value float64 }"
    go_fields = ("Labels", "ExternalLabels", "ExternalURL", "Value")

    def __init__(self, data: dict[str, Any]):
        for k, v in data.items():
            setattr(self, k, v)


AsyncQuery = Callable[[str], Awaitable[list[tuple[dict[str, str], float]]]]


async def expand_async(text: str, labels: dict[str, str], value: float, query: AsyncQuery,
                       cache: dict[str, Any], **kw: Any) -> str:
    """`render`, each query the template asks for answered by `query` (awaited, kept in
    `cache` for the other templates of the same evaluation; a failed query is cached as its
    error, which the template then reports)."""

    def lookup(q: str) -> list[tuple[dict[str, str], float]]:
        if q not in cache:
            raise NeedQuery(q)
        answer = cache[q]
        if isinstance(answer, Exception):
            raise ValueError(str(answer))
        return answer

    for _ in range(MAX_QUERIES + 1):
        try:
            return _render_raising(text, labels, value, lookup, kw)
        except NeedQuery as need:
            try:
                cache[need.query] = await query(need.query)
            except Exception as err:  # noqa: BLE001 - the source's error goes into the text
                cache[need.query] = err
    return f"<error expanding template: more than {MAX_QUERIES} queries>"


def _render_raising(text: str, labels: dict[str, str], value: float, lookup: QueryFn,
                    kw: dict[str, Any]) -> str:
    """render, except that NeedQuery escapes instead of becoming an error text."""
    asked: list[NeedQuery] = []

    def guarded(q: str) -> list[tuple[dict[str, str], float]]:
        try:
            return lookup(q)
        except NeedQuery as need:
            asked.append(need)
            raise gotmpl.TemplateError("pending query") from None

    out = render(text, labels, value, guarded, **kw)
    if asked:
        raise asked[0]
    return out
