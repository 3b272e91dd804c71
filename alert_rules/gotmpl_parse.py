"""The parser of alert_rules.gotmpl: Go's text/template (Go 1.19) actions, lexed and parsed
into Pipe/Cmd/Branch nodes; `define`/`template`/`block` are refused. A name not among the
caller's functions is a parse error, as in Go."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class TemplateError(Exception):
    """A parse or execution error, worded as Go's text/template words it."""


_TOKEN = re.compile(r"""\s*(?:
    (?P<str>"(?:[^"\\\n]|\\.)*")|(?P<raw>`[^`]*`)|(?P<char>'(?:[^'\\]|\\.)')|
    (?P<num>[-+]?(?:0[xX][0-9a-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][-+]?\d+)?))|
    (?P<decl>:=)|(?P<assign>=)|(?P<pipe>\|)|(?P<lp>\()|(?P<rp>\))|(?P<comma>,)|
    (?P<var>\$[A-Za-z0-9_]*)|(?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)|(?P<dot>\.)|
    (?P<ident>[A-Za-z_][A-Za-z0-9_]*))""", re.X)
_CHAIN = re.compile(r"(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_ESC = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a", "b": "\b",
        "f": "\f", "v": "\v", "0": "\0"}
KEYWORDS = {"if", "else", "end", "with", "range", "break", "continue", "define", "template",
            "block"}


@dataclass
class Cmd:
    args: list[tuple[str, Any]]  # (kind, payload): str/num/bool/nil/dot/field/var/ident/pipe


@dataclass
class Pipe:
    cmds: list[Cmd]
    decl: list[str] = field(default_factory=list)
    assign: bool = False


@dataclass
class Branch:  # if / with / range
    kind: str
    pipe: Pipe
    body: list[Any]
    orelse: list[Any]


def _unquote(tok: str) -> str:
    out, i = [], 1
    while i < len(tok) - 1:
        c = tok[i]
        if c == "\\":
            n = tok[i + 1]
            if n in _ESC:
                out.append(_ESC[n])
                i += 2
                continue
            if n in "xuU":
                width = {"x": 2, "u": 4, "U": 8}[n]
                out.append(chr(int(tok[i + 2:i + 2 + width], 16)))
                i += 2 + width
                continue
            raise TemplateError(f"unquote: invalid escape \\{n}")
        out.append(c)
        i += 1
    return "".join(out)


def _number(text: str) -> int | float:
    clean = text.replace("_", "")
    try:
        return int(clean, 0)
    except ValueError:
        return float(clean)


def _lex_action(text: str) -> list[tuple[str, str]]:
    toks, pos = [], 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise TemplateError(f"unexpected {text[pos:].strip()[:1]!r} in command")
        kind = m.lastgroup or ""
        toks.append((kind, m.group(kind)))
        pos = m.end()
        if kind in ("var", "rp", "ident") and pos < len(text):
            chain = _CHAIN.match(text, pos)
            if chain:
                toks.append(("chain", chain.group(0)))
                pos = chain.end()
    return toks


def _actions(text: str) -> list[tuple[str, str]]:
    """('text', s) and ('action', inner) pieces, trim markers applied."""
    out: list[tuple[str, str]] = []
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            out.append(("text", text[pos:]))
            return out
        chunk = text[pos:start]
        inner_start = start + 2
        if text.startswith("- ", inner_start) or text[inner_start:inner_start + 2] in ("-\t",
                                                                                       "-\n"):
            chunk, inner_start = chunk.rstrip(" \t\r\n"), inner_start + 1
        out.append(("text", chunk))
        end = text.find("}}", inner_start)
        comment = text[inner_start:].lstrip().startswith("/*")
        if comment:
            close = text.find("*/", inner_start)
            end = text.find("}}", close) if close >= 0 else -1
        if end < 0:
            raise TemplateError("unclosed action" if not comment else "unclosed comment")
        inner, after = text[inner_start:end], end + 2
        if inner.endswith(" -") or inner[-2:] in ("\t-", "\n-"):
            inner = inner[:-1]
            rest = text[after:]
            after += len(rest) - len(rest.lstrip(" \t\r\n"))
        if not comment:
            out.append(("action", inner))
        pos = after


class Parser:
    def __init__(self, text: str, funcs: Mapping[str, Any]):
        self.pieces, self.i, self.funcs = _actions(text), 0, funcs

    def parse(self) -> list[Any]:
        body, stop = self._list()
        if stop is not None:
            raise TemplateError(f"unexpected {{{{{stop[0]}}}}}")
        return body

    def _list(self) -> tuple[list[Any], tuple[str, list[tuple[str, str]]] | None]:
        body: list[Any] = []
        while self.i < len(self.pieces):
            kind, text = self.pieces[self.i]
            self.i += 1
            if kind == "text":
                if text:
                    body.append(text)
                continue
            toks = _lex_action(text)
            if not toks:
                raise TemplateError("missing value for command")
            head = toks[0][1] if toks[0][0] == "ident" else ""
            if head in ("end", "else"):
                return body, (head, toks[1:])
            if head in ("define", "template", "block"):
                raise TemplateError(f"{{{{{head}}}}} is not supported in alert templates")
            if head in ("break", "continue"):
                body.append(head)
            elif head in ("if", "with", "range"):
                body.append(self._branch(head, toks[1:]))
            else:
                body.append(self._pipe(toks))
        return body, None

    def _branch(self, kind: str, toks: list[tuple[str, str]]) -> Branch:
        pipe = self._pipe(toks, allow_decl=True)
        body, stop = self._list()
        orelse: list[Any] = []
        if stop is None:
            raise TemplateError(f"unexpected EOF in {kind}")
        if stop[0] == "else":
            rest = stop[1]
            if rest and rest[0] == ("ident", "if"):  # Go 1.19: `else if`, not `else with`
                orelse = [self._branch("if", rest[1:])]  # consumes the shared end
            else:
                orelse, stop = self._list()
                if stop is None or stop[0] != "end":
                    raise TemplateError(f"expected end; found {stop}")
        return Branch(kind, pipe, body, orelse)

    def _pipe(self, toks: list[tuple[str, str]], allow_decl: bool = True) -> Pipe:
        decl: list[str] = []
        assign = False
        vars_ = [i for i, t in enumerate(toks[:4]) if t[0] in ("decl", "assign")]
        if vars_ and allow_decl:
            head = toks[:vars_[0]]
            names = [t[1] for t in head if t[0] == "var"]
            if not names or len(names) != len([t for t in head if t[0] != "comma"]):
                raise TemplateError("bad variable declaration")
            decl, assign, toks = names, toks[vars_[0]][0] == "assign", toks[vars_[0] + 1:]
        cmds, args = [], []
        depth_toks: list[tuple[str, str]] = []
        depth = 0
        for tok in toks:
            if depth:
                if tok[0] == "lp":
                    depth += 1
                elif tok[0] == "rp":
                    depth -= 1
                    if not depth:
                        args.append(("pipe", self._pipe(depth_toks, allow_decl=False)))
                        depth_toks = []
                        continue
                depth_toks.append(tok)
                continue
            if tok[0] == "lp":
                depth = 1
            elif tok[0] == "pipe":
                if not args:
                    raise TemplateError("missing command")
                cmds.append(Cmd(args))
                args = []
            elif tok[0] == "rp":
                raise TemplateError("unexpected right paren")
            elif tok[0] == "chain":
                if not args:
                    raise TemplateError("unexpected field chain")
                args[-1] = ("chain", (args[-1], tok[1][1:].split(".")))
            else:
                args.append(self._operand(tok))
        if depth:
            raise TemplateError("unclosed left paren")
        if not args:
            raise TemplateError("missing value for command")
        cmds.append(Cmd(args))
        return Pipe(cmds, decl, assign)

    def _operand(self, tok: tuple[str, str]) -> tuple[str, Any]:
        kind, text = tok
        if kind in ("str", "raw"):
            return "lit", _unquote(text) if kind == "str" else text[1:-1]
        if kind == "char":
            return "lit", ord(_unquote('"' + text[1:-1] + '"'))
        if kind == "num":
            return "lit", _number(text)
        if kind == "field":
            return "field", text[1:].split(".")
        if kind in ("dot", "var"):
            return kind, text
        if kind == "ident":
            if text in ("true", "false"):
                return "lit", text == "true"
            if text == "nil":
                return "nil", None
            if text in KEYWORDS or text not in self.funcs:
                raise TemplateError(f'function "{text}" not defined')
            return "ident", text
        raise TemplateError(f"unexpected {text!r} in operand")


def parse(text: str, funcs: Mapping[str, Any]) -> list[Any]:
    return Parser(text, funcs).parse()
