"""Execution of a parsed Go template (a port of text/template/exec.go, Go 1.19), with
Alertmanager's option `missingkey=zero`: a missing map key is the map's zero value ("" in a
KV), and a nil value prints as `<no value>`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inferwatch.notifier.gotemplate import fmtgo
from inferwatch.notifier.gotemplate import nodes as n
from inferwatch.notifier.gotemplate.funcs import Func
from inferwatch.notifier.gotemplate.lexer import GoTemplateError
from inferwatch.notifier.gotemplate.values import GoError, Sig, go_type, is_struct, truth, zero_of

MAX_DEPTH = 64  # nested {{template}} calls (Go allows 100000; Python's stack does not)


class TemplateExecError(GoTemplateError):
    """An execution error: `template: NAME:LINE: executing "NAME" at <NODE>: message`."""


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class State:
    def __init__(self, trees: Mapping[str, n.ListNode], funcs: Mapping[str, Func], name: str,
                 out: list[str], depth: int = 0):
        self.trees, self.funcs, self.name, self.out, self.depth = trees, funcs, name, out, depth
        self.vars: list[list[Any]] = []
        self.node: n.Node | None = None

    def fail(self, msg: str) -> None:
        line = getattr(self.node, "line", 0)
        raise TemplateExecError(
            f'template: {self.name}:{line}: executing "{self.name}" at <{self.node}>: {msg}')

    # -- variables
    def var(self, name: str) -> Any:
        for entry in reversed(self.vars):
            if entry[0] == name:
                return entry[1]
        self.fail(f"undefined variable: {name}")

    def set_var(self, name: str, value: Any) -> None:
        for entry in reversed(self.vars):
            if entry[0] == name:
                entry[1] = value
                return
        self.fail(f"undefined variable: {name}")

    # -- walking
    def walk(self, dot: Any, node: n.Node) -> None:
        self.node = node
        if isinstance(node, n.TextNode):
            self.out.append(node.text)
        elif isinstance(node, n.ListNode):
            for child in node.nodes:
                self.walk(dot, child)
        elif isinstance(node, n.ActionNode):
            val = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.node = node
                self.out.append("<no value>" if val is None else fmtgo.value(val, depth=1))
        elif isinstance(node, n.BranchNode):
            mark = len(self.vars)
            try:
                if node.kind == "range":
                    self.walk_range(dot, node)
                else:
                    val = self.eval_pipeline(dot, node.pipe)
                    if truth(val):
                        self.walk(val if node.kind == "with" else dot, node.list)
                    elif node.else_list is not None:
                        self.walk(dot, node.else_list)
            finally:
                del self.vars[mark:]
        elif isinstance(node, n.TemplateNode):
            self.walk_template(dot, node)
        elif isinstance(node, n.BreakNode):
            raise _Break
        elif isinstance(node, n.ContinueNode):
            raise _Continue
        else:
            self.fail(f"unknown node: {node}")

    def walk_range(self, dot: Any, r: n.BranchNode) -> None:
        val = self.eval_pipeline(dot, r.pipe)
        mark = len(self.vars)
        if isinstance(val, (list, dict)):
            items = list(enumerate(val)) if isinstance(val, list) else [
                (k, val[k]) for k in sorted(val)]
        elif val is None:
            items = []
        else:
            self.node = r
            self.fail(f"range can't iterate over {fmtgo.value(val)}")
        try:
            for index, elem in items:
                if r.pipe.decl:
                    self.vars[-1][1] = elem
                if len(r.pipe.decl) > 1:
                    self.vars[-2][1] = index
                try:
                    self.walk(elem, r.list)
                except _Continue:
                    pass
                finally:
                    del self.vars[mark:]
        except _Break:
            return
        if not items and r.else_list is not None:
            self.walk(dot, r.else_list)

    def walk_template(self, dot: Any, t: n.TemplateNode) -> None:
        tree = self.trees.get(t.name)
        if tree is None:
            self.fail(f'template "{t.name}" not defined')
        if self.depth >= MAX_DEPTH:
            self.fail(f"exceeded maximum template depth ({MAX_DEPTH})")
        dot = self.eval_pipeline(dot, t.pipe) if t.pipe is not None else None
        sub = State(self.trees, self.funcs, t.name, self.out, self.depth + 1)
        sub.vars = [["$", dot]]
        sub.walk(dot, tree)

    # -- evaluation
    def eval_pipeline(self, dot: Any, pipe: n.PipeNode) -> Any:
        self.node = pipe
        value = MISSING
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var, value)
            else:
                self.vars.append([var, value])
        return value

    def not_a_function(self, args: list[n.Node], final: Any) -> None:
        if len(args) > 1 or final is not MISSING:
            self.fail(f"can't give argument to non-function {args[0]}")

    def eval_command(self, dot: Any, cmd: n.CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        self.node = first
        if isinstance(first, n.FieldNode):
            return self.eval_field_chain(dot, dot, first, first.idents, cmd.args, final)
        if isinstance(first, n.ChainNode):
            return self.eval_chain(dot, first, cmd.args, final)
        if isinstance(first, n.IdentifierNode):
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if isinstance(first, n.VariableNode):
            return self.eval_variable(dot, first, cmd.args, final)
        self.not_a_function(cmd.args, final)
        if isinstance(first, n.PipeNode):
            return self.eval_pipeline(dot, first)
        if isinstance(first, n.NilNode):
            self.fail("nil is not a command")
        if isinstance(first, n.DotNode):
            return dot
        if isinstance(first, n.BoolNode | n.NumberNode):
            return first.value
        if isinstance(first, n.StringNode):
            return first.text
        self.fail(f"can't evaluate command {first!r}")

    def eval_chain(self, dot: Any, chain: n.ChainNode, args: list[n.Node], final: Any) -> Any:
        if isinstance(chain.node, n.NilNode):
            self.fail(f"indirection through explicit nil in {chain}")
        receiver = self.eval_arg(dot, "any", chain.node)
        return self.eval_field_chain(dot, receiver, chain, chain.fields, args, final)

    def eval_variable(self, dot: Any, var: n.VariableNode, args: list[n.Node],
                      final: Any) -> Any:
        value = self.var(var.idents[0])
        if len(var.idents) == 1:
            self.not_a_function(args, final)
            return value
        return self.eval_field_chain(dot, value, var, var.idents[1:], args, final)

    def eval_field_chain(self, dot: Any, receiver: Any, node: n.Node, idents: tuple[str, ...],
                         args: list[n.Node], final: Any) -> Any:
        for ident in idents[:-1]:
            receiver = self.eval_field(dot, ident, node, [node], MISSING, receiver)
        return self.eval_field(dot, idents[-1], node, args, final, receiver)

    def eval_field(self, dot: Any, name: str, node: n.Node, args: list[n.Node], final: Any,
                   receiver: Any) -> Any:
        if receiver is None:
            return None
        sig = getattr(receiver, "go_methods", {}).get(name)
        if sig is not None:
            return self.eval_call(dot, getattr(receiver, name), sig, node, name, args, final)
        has_args = len(args) > 1 or final is not MISSING
        if is_struct(receiver):
            if name in receiver.go_fields and name[:1].isupper():
                if has_args:
                    self.fail(f"{name} has arguments but cannot be invoked as function")
                return getattr(receiver, name)
        elif isinstance(receiver, dict):
            if has_args:
                self.fail(f"{name} is not a method but has arguments")
            return receiver[name] if name in receiver else zero_of(receiver)
        self.fail(f"can't evaluate field {name} in type {go_type(receiver)}")

    def eval_function(self, dot: Any, node: n.IdentifierNode, cmd: n.Node,
                      args: list[n.Node], final: Any) -> Any:
        self.node = node
        func = self.funcs.get(node.name)
        if func is None:
            self.fail(f'"{node.name}" is not a defined function')
        return self.eval_call(dot, func.fn, func.sig, cmd, node.name, args, final, func.builtin)

    def eval_call(self, dot: Any, fn: Any, sig: Sig, node: n.Node, name: str,
                  args: list[n.Node], final: Any, builtin: bool = False) -> Any:
        argn = args[1:]
        num_in = len(argn) + (final is not MISSING)
        fixed = len(sig.params)
        if sig.variadic is not None:
            if num_in < fixed:
                self.node = node
                self.fail(f"wrong number of args for {name}: want at least {fixed} got {num_in}")
        elif num_in != fixed:
            self.node = node
            self.fail(f"wrong number of args for {name}: want {fixed} got {num_in}")
        types = [sig.params[i] if i < fixed else sig.variadic for i in range(num_in)]
        if builtin and name in ("and", "or"):
            v = None
            for arg in argn:
                v = self.eval_arg(dot, "any", arg)
                if truth(v) == (name == "or"):
                    return v
            return final if final is not MISSING else v
        argv = [self.eval_arg(dot, types[i], a) for i, a in enumerate(argn)]
        if final is not MISSING:
            argv.append(self.validate_type(final, types[-1]))
        self.node = node
        try:
            return fn(*argv)
        except GoError as err:
            self.fail(f"error calling {name}: {err}")
        except RecursionError:
            self.fail(f"error calling {name}: stack overflow")

    def validate_type(self, value: Any, typ: str) -> Any:
        if typ == "any":
            return value
        if value is None:
            if typ.startswith("[]"):
                return None
            self.fail(f"invalid value; expected {typ}")
        if go_type(value) != typ:
            self.fail(f"wrong type for value; expected {typ}; got {go_type(value)}")
        return value

    def eval_arg(self, dot: Any, typ: str, node: n.Node) -> Any:
        self.node = node
        if isinstance(node, n.DotNode):
            return self.validate_type(dot, typ)
        if isinstance(node, n.NilNode):
            if typ == "any" or typ.startswith("[]"):
                return None
            self.fail(f"cannot assign nil to {typ}")
        if isinstance(node, n.FieldNode):
            value = self.eval_field_chain(dot, dot, node, node.idents, [node], MISSING)
        elif isinstance(node, n.VariableNode):
            value = self.eval_variable(dot, node, [node], MISSING)
        elif isinstance(node, n.PipeNode):
            value = self.eval_pipeline(dot, node)
        elif isinstance(node, n.IdentifierNode):
            value = self.eval_function(dot, node, node, [node], MISSING)
        elif isinstance(node, n.ChainNode):
            value = self.eval_chain(dot, node, [node], MISSING)
        elif typ == "any":
            return node.value if isinstance(node, n.BoolNode | n.NumberNode) else node.text
        elif typ == "string" and isinstance(node, n.StringNode):
            return node.text
        elif typ == "string":
            self.fail(f"expected string; found {node}")
        else:
            self.fail(f"can't handle {node} for arg of type {typ}")
        return self.validate_type(value, typ)


def execute(trees: Mapping[str, n.ListNode], funcs: Mapping[str, Func], name: str,
            data: Any) -> str:
    """The output of template `name` on `data`; TemplateExecError as Go's errors read."""
    tree = trees.get(name)
    if tree is None:
        raise TemplateExecError(f'template: no template "{name}" associated with template ""')
    out: list[str] = []
    state = State(trees, funcs, name, out)
    state.vars = [["$", data]]
    try:
        state.walk(data, tree)
    except RecursionError:
        state.fail("exceeded maximum template depth")
    return "".join(out)
