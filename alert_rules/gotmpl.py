"""Go's text/template, the part alert templates use: parsed and run as Go 1.19 does.

Text and actions with trim markers and comments; pipelines of commands joined by `|` (the
piped value is the last argument); literals (strings with Go escapes, raw strings, numbers,
true/false/nil); `.`, `.Field` chains, `$var` and `$var.Field`; variable declarations and
assignment; `if`/`with`/`range` with `else` and `else if`, `end`, `break`/`continue` in a
range. Maps are read with `missingkey=zero` (a missing key is ""), as Prometheus sets it.
`define`/`template`/`block` are refused at parse time. Functions come from the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from inferwatch.alert_rules.gotmpl_parse import Branch, Cmd, Pipe, TemplateError, parse

__all__ = ["Exec", "TemplateError", "go_type", "parse", "truth"]

MAX_STEPS = 100_000  # range iterations and commands per execution: a bound on hostile input


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def truth(v: Any) -> bool:
    if v is None or v is False:
        return False
    if isinstance(v, (str, list, dict, tuple)):
        return len(v) > 0
    if isinstance(v, (int, float)):
        return v != 0
    return True


class Exec:
    def __init__(self, funcs: Mapping[str, Callable[..., Any]], show: Callable[[Any], str]):
        self.funcs, self.show, self.steps = funcs, show, 0
        self.vars: list[list[Any]] = []

    def run(self, body: list[Any], data: Any) -> str:
        self.vars = [["$", data]]
        out: list[str] = []
        self._walk(body, data, out)
        return "".join(out)

    def _tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TemplateError(f"template ran over {MAX_STEPS} steps")

    def _walk(self, body: list[Any], dot: Any, out: list[str]) -> None:
        for node in body:
            if isinstance(node, str):
                if node == "break":
                    raise _Break
                if node == "continue":
                    raise _Continue
                out.append(node)
            elif isinstance(node, Pipe):
                value = self.pipe(node, dot)
                if not node.decl:
                    out.append(self.show(value))
            else:
                self._branch(node, dot, out)

    def _branch(self, node: Branch, dot: Any, out: list[str]) -> None:
        mark = len(self.vars)
        value = self.pipe(node.pipe, dot, declare=node.kind != "range")
        try:
            if node.kind == "range":
                items = list(value.items()) if isinstance(value, dict) else value
                if isinstance(value, dict):
                    items = sorted(items)
                elif not isinstance(value, (list, tuple)) and value is not None:
                    raise TemplateError(f"range can't iterate over {self.show(value)}")
                for index, item in enumerate(items or []):
                    self._tick()
                    key, elem = item if isinstance(value, dict) else (index, item)
                    if node.pipe.decl:
                        names = node.pipe.decl
                        self.vars.append([names[-1], elem])
                        if len(names) == 2:
                            self.vars.append([names[0], key])
                    try:
                        self._walk(node.body, elem, out)
                    except _Continue:
                        pass
                    except _Break:
                        break
                    finally:
                        del self.vars[mark:]
                if not items:
                    self._walk(node.orelse, dot, out)
            elif truth(value):
                self._walk(node.body, value if node.kind == "with" else dot, out)
            else:
                self._walk(node.orelse, dot, out)
        finally:
            del self.vars[mark:]

    def _lookup(self, name: str) -> Any:
        for entry in reversed(self.vars):
            if entry[0] == name:
                return entry
        raise TemplateError(f"undefined variable: {name}")

    def pipe(self, pipe: Pipe, dot: Any, declare: bool = True) -> Any:
        value: Any = _NOARG
        for cmd in pipe.cmds:
            value = self._cmd(cmd, dot, value)
        if pipe.decl and declare:
            if pipe.assign:
                self._lookup(pipe.decl[0])[1] = value
            else:
                self.vars.append([pipe.decl[0], value])
        return value

    def _cmd(self, cmd: Cmd, dot: Any, piped: Any) -> Any:
        self._tick()
        kind, payload = cmd.args[0]
        if kind == "ident":
            args = [self._arg(a, dot) for a in cmd.args[1:]]
            if piped is not _NOARG:
                args.append(piped)
            try:
                return self.funcs[payload](*args)
            except TemplateError:
                raise
            except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError) as err:
                raise TemplateError(f"error calling {payload}: {err}") from None
        if len(cmd.args) > 1 or piped is not _NOARG:
            raise TemplateError(f"can't give argument to non-function {_name(cmd.args[0])}")
        return self._arg(cmd.args[0], dot)

    def _arg(self, arg: tuple[str, Any], dot: Any) -> Any:
        kind, payload = arg
        if kind == "lit":
            return payload
        if kind == "nil":
            return None
        if kind == "dot":
            return dot
        if kind == "var":
            return self._lookup(payload)[1]
        if kind == "field":
            return self._fields(dot, payload)
        if kind == "pipe":
            return self.pipe(payload, dot)
        if kind == "chain":
            return self._fields(self._arg(payload[0], dot), payload[1])
        if kind == "ident":
            return self.funcs[payload]()
        raise TemplateError(f"can't evaluate {kind}")

    def _fields(self, value: Any, names: list[str]) -> Any:
        for name in names:
            if isinstance(value, dict):
                value = value.get(name, "")  # missingkey=zero on a map[string]string
            elif hasattr(value, "go_fields") and name in value.go_fields:
                value = getattr(value, name)
            elif value is None:
                raise TemplateError(f"nil pointer evaluating interface {{}}.{name}")
            else:
                raise TemplateError(f"can't evaluate field {name} in type {go_type(value)}")
        return value


def go_type(value: Any) -> str:
    return getattr(value, "go_type", None) or {
        bool: "bool", int: "int", float: "float64", str: "string", list: "[]interface {}",
        dict: "map[string]string"}.get(type(value), type(value).__name__)


def _name(arg: tuple[str, Any]) -> str:
    kind, payload = arg
    return {"field": lambda: "." + ".".join(payload), "var": lambda: payload,
            "dot": lambda: "."}.get(kind, lambda: repr(payload))()


class _NoArg:
    pass


_NOARG: Any = _NoArg()
