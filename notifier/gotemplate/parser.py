"""The parser of Go's text/template (a port of text/template/parse/parse.go, Go 1.19).

`parse(text, name, funcs)` returns {template name: ListNode}: the top-level text under `name`
and one entry per `define` or `block`. Functions and variables are checked here, as Go does:
an unknown function or an undefined variable is a parse error.
"""

from __future__ import annotations

from collections.abc import Container

from inferwatch.notifier.gotemplate import nodes as n
from inferwatch.notifier.gotemplate.lexer import TemplateSyntaxError, Token, tokens
from inferwatch.notifier.gotemplate.literals import number, unquote

_OPERAND_START = {"bool", "char", "field", "identifier", "number", "rawstring", "string",
                  "variable", "lparen", "keyword"}


class Parser:
    def __init__(self, text: str, name: str, funcs: Container[str]):
        self.toks = tokens(text, name)
        self.i = 0
        self.name, self.funcs = name, funcs
        self.trees: dict[str, n.ListNode] = {}
        self.vars = ["$"]
        self.range_depth = 0

    # -- tokens
    def fail(self, msg: str, tok: Token | None = None) -> None:
        tok = tok or self.toks[max(self.i - 1, 0)]
        raise TemplateSyntaxError(f"template: {self.name}:{tok.line}: {msg}")

    def next(self) -> Token:
        tok = self.toks[self.i]
        self.i = min(self.i + 1, len(self.toks) - 1)
        return tok

    def peek(self) -> Token:
        return self.toks[self.i]

    def next_non_space(self) -> Token:
        tok = self.next()
        while tok.kind == "space":
            tok = self.next()
        return tok

    def peek_non_space(self) -> Token:
        tok = self.next_non_space()
        self.i -= 1
        return tok

    def expect(self, kind: str, context: str) -> Token:
        tok = self.next_non_space()
        if tok.kind != kind:
            self.unexpected(tok, context)
        return tok

    def unexpected(self, tok: Token, context: str) -> None:
        what = {"eof": "EOF", "right": "right delimiter", "left": "left delimiter"}.get(tok.kind)
        if what is None:
            what = f"<{tok.val}>" if tok.kind == "keyword" else repr(tok.val).replace("'", '"')
        self.fail(f"unexpected {what} in {context}", tok)

    # -- templates
    def parse(self) -> dict[str, n.ListNode]:
        root = n.ListNode()
        while self.peek().kind != "eof":
            if self.peek().kind == "left":
                mark = self.i
                self.next()
                tok = self.next_non_space()
                if tok.kind == "keyword" and tok.val == "define":
                    self.definition()
                    continue
                self.i = mark
            node = self.text_or_action()
            if isinstance(node, (n.EndNode, n.ElseNode)):
                self.fail(f"unexpected {node}")
            root.nodes.append(node)
        self.add(self.name, root)
        return self.trees

    def add(self, name: str, root: n.ListNode) -> None:
        old = self.trees.get(name)
        if old is not None and not n.is_empty_tree(old) and not n.is_empty_tree(root):
            self.fail(f"template: multiple definition of template {name!r}".replace("'", '"'))
        if old is None or n.is_empty_tree(old):
            self.trees[name] = root

    def template_name(self, tok: Token, context: str) -> str:
        if tok.kind not in ("string", "rawstring"):
            self.unexpected(tok, context)
        try:
            return unquote(tok.val)
        except ValueError:
            self.fail(f"invalid syntax: {tok.val}")
        raise AssertionError  # unreachable

    def definition(self) -> None:
        name = self.template_name(self.next_non_space(), "define clause")
        self.expect("right", "define clause")
        self.sub_tree(name, "define")

    def sub_tree(self, name: str, context: str) -> None:
        saved, self.vars = self.vars, ["$"]
        depth, self.range_depth = self.range_depth, 0
        root, end = self.item_list()
        if not isinstance(end, n.EndNode):
            self.fail(f"unexpected {end} in {context}")
        self.vars, self.range_depth = saved, depth
        self.add(name, root)

    def item_list(self) -> tuple[n.ListNode, n.Node]:
        lst = n.ListNode()
        while self.peek_non_space().kind != "eof":
            node = self.text_or_action()
            if isinstance(node, (n.EndNode, n.ElseNode)):
                return lst, node
            lst.nodes.append(node)
        self.fail("unexpected EOF")
        raise AssertionError

    def text_or_action(self) -> n.Node:
        tok = self.next_non_space()
        if tok.kind == "text":
            return n.TextNode(tok.val, line=tok.line)
        if tok.kind == "left":
            return self.action()
        self.unexpected(tok, "input")
        raise AssertionError

    # -- actions
    def action(self) -> n.Node:
        tok = self.next_non_space()
        if tok.kind == "keyword":
            handler = {"block": self.block, "break": self.break_, "continue": self.continue_,
                       "else": self.else_, "end": self.end, "if": self.if_,
                       "range": self.range_, "template": self.template,
                       "with": self.with_}.get(tok.val)
            if handler is not None:
                return handler(tok)
        self.i -= 1
        return n.ActionNode(tok.line, self.pipeline("command", "right"))

    def break_(self, tok: Token) -> n.Node:
        return self._loop_control(tok, n.BreakNode)

    def continue_(self, tok: Token) -> n.Node:
        return self._loop_control(tok, n.ContinueNode)

    def _loop_control(self, tok: Token, cls: type) -> n.Node:
        nxt = self.next_non_space()
        if nxt.kind != "right":
            self.unexpected(nxt, "{{" + tok.val + "}}")
        if self.range_depth == 0:
            self.fail("{{" + tok.val + "}} outside {{range}}")
        return cls(tok.line)

    def else_(self, tok: Token) -> n.Node:
        peek = self.peek_non_space()
        if peek.kind == "keyword" and peek.val == "if":
            return n.ElseNode(tok.line)  # `{{else if`: the `if` is left for the caller
        self.expect("right", "else")
        return n.ElseNode(tok.line)

    def end(self, tok: Token) -> n.Node:
        self.expect("right", "end")
        return n.EndNode(tok.line)

    def if_(self, tok: Token) -> n.Node:
        return self.control(tok, "if", True)

    def range_(self, tok: Token) -> n.Node:
        return self.control(tok, "range", False)

    def with_(self, tok: Token) -> n.Node:
        return self.control(tok, "with", False)

    def control(self, tok: Token, context: str, allow_else_if: bool) -> n.Node:
        depth = len(self.vars)
        pipe = self.pipeline(context, "right")
        if context == "range":
            self.range_depth += 1
        body, nxt = self.item_list()
        if context == "range":
            self.range_depth -= 1
        else_list = None
        if isinstance(nxt, n.ElseNode):
            peek = self.peek_non_space()
            if allow_else_if and peek.kind == "keyword" and peek.val == "if":
                self.next_non_space()
                else_list = n.ListNode([self.if_(peek)])
            else:
                else_list, nxt = self.item_list()
                if not isinstance(nxt, n.EndNode):
                    self.fail(f"expected end; found {nxt}")
        del self.vars[depth:]
        return n.BranchNode(context, tok.line, pipe, body, else_list)

    def template(self, tok: Token) -> n.Node:
        name = self.template_name(self.next_non_space(), "template clause")
        pipe = None
        if self.next_non_space().kind != "right":
            self.i -= 1
            pipe = self.pipeline("template clause", "right")
        return n.TemplateNode(tok.line, name, pipe)

    def block(self, tok: Token) -> n.Node:
        name = self.template_name(self.next_non_space(), "block clause")
        pipe = self.pipeline("block clause", "right")
        self.sub_tree(name, "block clause")
        return n.TemplateNode(tok.line, name, pipe)

    # -- pipelines
    def pipeline(self, context: str, end: str) -> n.PipeNode:
        pipe = n.PipeNode(line=self.peek_non_space().line)
        while self.peek_non_space().kind == "variable":
            var = self.next_non_space()
            after = self.peek()
            nxt = self.peek_non_space()
            if nxt.kind in ("declare", "assign"):
                self.next_non_space()
                pipe.decl.append(var.val)
                pipe.is_assign = nxt.kind == "assign"
                if pipe.is_assign:
                    self.use_var(var)
                self.vars.append(var.val)
                break
            if nxt.kind == "comma":
                self.next_non_space()
                pipe.decl.append(var.val)
                self.vars.append(var.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().kind in ("variable", "right", "rparen"):
                        continue
                    self.fail("range can only initialize variables")
                self.fail(f"too many declarations in {context}")
            self.i -= 2 if after.kind == "space" else 1
            break
        if len(pipe.decl) == 2 and context != "range":
            self.fail(f"too many declarations in {context}")
        while True:
            tok = self.next_non_space()
            if tok.kind == end:
                self.check_pipeline(pipe, context)
                return pipe
            if tok.kind in _OPERAND_START and not (
                    tok.kind == "keyword" and tok.val != "nil"):
                self.i -= 1
                pipe.cmds.append(self.command())
            else:
                self.unexpected(tok, context)

    def check_pipeline(self, pipe: n.PipeNode, context: str) -> None:
        if not pipe.cmds:
            self.fail(f"missing value for {context}")
        for i, cmd in enumerate(pipe.cmds[1:], start=1):
            if isinstance(cmd.args[0], (n.BoolNode, n.DotNode, n.NilNode, n.NumberNode,
                                        n.StringNode)):
                self.fail(f"non executable command in pipeline stage {i + 1}")

    def command(self) -> n.CommandNode:
        cmd = n.CommandNode(line=self.peek_non_space().line)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.kind == "space":
                continue
            if tok.kind in ("right", "rparen"):
                self.i -= 1
            elif tok.kind != "pipe":
                self.unexpected(tok, "operand")
            break
        if not cmd.args:
            self.fail("empty command")
        return cmd

    def operand(self) -> n.Node | None:
        node = self.term()
        if node is None or self.peek().kind != "field":
            return node
        fields: list[str] = []
        while self.peek().kind == "field":
            fields.append(self.next().val[1:])
        if isinstance(node, n.FieldNode):
            return n.FieldNode(node.idents + tuple(fields), line=node.line)
        if isinstance(node, n.VariableNode):
            return n.VariableNode(node.idents + tuple(fields), line=node.line)
        if isinstance(node, (n.BoolNode, n.StringNode, n.NumberNode, n.NilNode, n.DotNode)):
            self.fail(f'unexpected . after term "{node}"')
        return n.ChainNode(node, tuple(fields), line=node.line)

    def use_var(self, tok: Token) -> None:
        name = tok.val.split(".")[0]
        if name not in self.vars:
            self.fail(f'undefined variable "{name}"', tok)

    def term(self) -> n.Node | None:
        tok = self.next_non_space()
        kind, val, line = tok.kind, tok.val, tok.line
        if kind == "identifier":
            if val not in self.funcs:
                self.fail(f'function "{val}" not defined', tok)
            return n.IdentifierNode(val, line=line)
        if kind == "field":
            return n.DotNode(line=line) if val == "." else n.FieldNode((val[1:],), line=line)
        if kind == "keyword" and val == "nil":
            return n.NilNode(line=line)
        if kind == "variable":
            self.use_var(tok)
            return n.VariableNode((val,), line=line)
        if kind == "bool":
            return n.BoolNode(val == "true", line=line)
        if kind in ("char", "number"):
            try:
                value = ord(unquote(val)) if kind == "char" else number(val)
            except OverflowError as err:
                self.fail(str(err), tok)
            except (ValueError, TypeError):
                self.fail(f"illegal number syntax: {val!r}".replace("'", '"'), tok)
            return n.NumberNode(val, value, line=line)
        if kind == "lparen":
            return self.pipeline("parenthesized pipeline", "rparen")
        if kind in ("string", "rawstring"):
            try:
                return n.StringNode(val, unquote(val), line=line)
            except ValueError:
                self.fail(f"invalid syntax: {val}", tok)
        self.i -= 1
        return None


def parse(text: str, name: str, funcs: Container[str]) -> dict[str, n.ListNode]:
    """{name: tree} for the text and each template it defines; TemplateSyntaxError if bad."""
    return Parser(text, name, funcs).parse()
