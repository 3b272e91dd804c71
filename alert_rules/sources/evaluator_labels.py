"""label_replace and label_join as functions.go computes them, label_replace's replacement
expanded as Go's regexp.Expand does (`$1`, `$name`, `${name}`, `$$`; a group that does not
exist or did not match expands to nothing)."""

from __future__ import annotations

import re2

Vector = list[tuple[dict[str, str], float]]
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


def expand(template: str, text: str, match: re2._Match, names: dict[str, int]) -> str:
    """Go's regexp.Expand: `$1`, `$name`, `${name}`, `$$`; an unknown group is empty."""
    out, i = [], 0
    while i < len(template):
        ch = template[i]
        if ch != "$" or i + 1 >= len(template):
            out.append(ch)
            i += 1
            continue
        if template[i + 1] == "$":
            out.append("$")
            i += 2
            continue
        braced = template[i + 1] == "{"
        j = i + 2 if braced else i + 1
        k = j
        while k < len(template) and (template[k].isalnum() or template[k] == "_"):
            k += 1
        if k == j or braced and (k >= len(template) or template[k] != "}"):
            out.append("$")
            i += 1
            continue
        name = template[j:k]
        i = k + 1 if braced else k
        index = int(name) if name.isdigit() else names.get(name, -1)
        if 0 <= index <= match.re.groups:
            out.append(match.group(index) or "")
    return "".join(out)


def label_replace(vector: Vector, dst: str, repl: str, src: str, regex: str) -> Vector:
    pattern = re2.compile(f"^(?:{regex})$", _OPTIONS)
    names = dict(pattern.groupindex)
    out: Vector = []
    for labels, value in vector:
        found = pattern.search(labels.get(src, ""))
        if found is None:
            out.append((labels, value))
            continue
        result = expand(repl, labels.get(src, ""), found, names)
        new = {k: v for k, v in labels.items() if k != dst}
        if result:
            new[dst] = result
        out.append((new, value))
    return out


def label_join(vector: Vector, dst: str, sep: str, srcs: list[str]) -> Vector:
    out: Vector = []
    for labels, value in vector:
        joined = sep.join(labels.get(s, "") for s in srcs)
        new = {k: v for k, v in labels.items() if k != dst}
        if joined:
            new[dst] = joined
        out.append((new, value))
    return out
