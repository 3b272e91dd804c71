"""The lexer of Go's text/template (Go 1.19, as Alertmanager 0.25 is built): `{{ }}` actions,
`{{-`/`-}}` trim markers, comments, and the tokens inside an action.

A port of text/template/parse/lex.go: `tokens(text)` returns the whole list (or raises
`TemplateSyntaxError` with Go's message); spaces inside actions are tokens, as in Go, because
`.A.B` (one chain) and `.A .B` (two arguments) differ only by them.
"""

from __future__ import annotations

from dataclasses import dataclass

LEFT, RIGHT = "{{", "}}"
SPACE_CHARS = " \t\r\n"
KEYWORDS = {"block", "break", "continue", "define", "else", "end", "if", "range", "nil",
            "template", "with"}


class GoTemplateError(ValueError):
    """Any error of a Go template, worded as Go words it."""


class TemplateSyntaxError(GoTemplateError):
    """A parse error, worded as Go's: `template: NAME:LINE: message`."""


@dataclass(frozen=True)
class Token:
    kind: str  # text, left, right, space, field, variable, identifier, keyword, bool, number,
    #            string, rawstring, char, pipe, declare, assign, lparen, rparen, comma, eof
    val: str
    pos: int
    line: int


def _alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdigit()


class Lexer:
    def __init__(self, text: str, name: str = ""):
        self.text, self.name = text, name
        self.pos = self.start = 0
        self.out: list[Token] = []
        self.paren = 0

    def fail(self, msg: str) -> None:
        line = self.text.count("\n", 0, self.start) + 1
        raise TemplateSyntaxError(f"template: {self.name}:{line}: {msg}")

    def emit(self, kind: str, val: str | None = None, start: int | None = None) -> None:
        start = self.start if start is None else start
        val = self.text[start:self.pos] if val is None else val
        self.out.append(Token(kind, val, start, self.text.count("\n", 0, start) + 1))
        self.start = self.pos

    def run(self) -> list[Token]:
        text = self.text
        while True:
            i = text.find(LEFT, self.pos)
            if i < 0:
                if self.pos < len(text):
                    self.pos = len(text)
                    self.emit("text")
                self.emit("eof", "")
                return self.out
            trim = text.startswith("-", i + 2) and i + 3 < len(text) \
                and text[i + 3] in SPACE_CHARS
            end = len(text[self.start:i].rstrip(SPACE_CHARS)) + self.start if trim else i
            if end > self.start:
                self.pos = end
                self.emit("text")
            self.start = self.pos = i
            self.pos += 2
            self.emit("left")
            if trim:
                self.pos += 2
                self.start = self.pos
            self.action()

    def _at_right(self) -> tuple[bool, bool]:
        """(at a right delimiter, with a trim marker before it)."""
        t, p = self.text, self.pos
        if p + 1 < len(t) and t[p] in SPACE_CHARS and t.startswith("-" + RIGHT, p + 1):
            return True, True
        return t.startswith(RIGHT, p), False

    def _close(self, trim: bool) -> None:
        if trim:
            self.pos += 2
            self.start = self.pos
        self.pos += 2
        self.emit("right", RIGHT)
        if trim:
            rest = self.text[self.pos:]
            self.pos += len(rest) - len(rest.lstrip(SPACE_CHARS))
            self.start = self.pos

    def action(self) -> None:
        t = self.text
        if t.startswith("/*", self.pos):
            j = t.find("*/", self.pos + 2)
            if j < 0:
                self.fail("unclosed comment")
            self.pos = j + 2
            at, trim = self._at_right()
            if not at:
                self.fail("comment ends before closing delimiter")
            self.out.pop()  # the comment leaves no action behind
            self._close(trim)
            self.out.pop()
            return
        while True:
            at, trim = self._at_right()
            if at and self.paren == 0:
                self._close(trim)
                return
            if at and not trim:
                self.fail("unclosed left paren")
            if self.pos >= len(t):
                self.fail("unclosed action")
            c = t[self.pos]
            if c in SPACE_CHARS:
                while self.pos < len(t) and t[self.pos] in SPACE_CHARS:
                    at, _ = self._at_right()
                    if at:
                        break
                    self.pos += 1
                self.emit("space")
            elif c == "=":
                self.pos += 1
                self.emit("assign")
            elif c == ":":
                if not t.startswith(":=", self.pos):
                    self.fail("expected :=")
                self.pos += 2
                self.emit("declare")
            elif c == "|":
                self.pos += 1
                self.emit("pipe")
            elif c == '"':
                self._quoted('"', "string", "unterminated quoted string")
            elif c == "`":
                j = t.find("`", self.pos + 1)
                if j < 0:
                    self.fail("unterminated raw quoted string")
                self.pos = j + 1
                self.emit("rawstring")
            elif c == "'":
                self._quoted("'", "char", "unterminated character constant")
            elif c == "$":
                self.pos += 1
                self._word("variable")
            elif c == "." and not (self.pos + 1 < len(t) and t[self.pos + 1].isdigit()):
                self.pos += 1
                self._word("field")
            elif c in "+-." or c.isdigit():
                self._number()
            elif _alnum(c):
                self._word("identifier")
            elif c == "(":
                self.pos += 1
                self.paren += 1
                self.emit("lparen")
            elif c == ")":
                self.pos += 1
                self.paren -= 1
                if self.paren < 0:
                    self.fail("unexpected right paren")
                self.emit("rparen")
            elif c == ",":
                self.pos += 1
                self.emit("comma")
            else:
                self.fail(f"unrecognized character in action: U+{ord(c):04X} {c!r}")

    def _quoted(self, quote: str, kind: str, unterminated: str) -> None:
        t, p = self.text, self.pos + 1
        while True:
            if p >= len(t) or t[p] == "\n":
                self.fail(unterminated)
            if t[p] == "\\":
                p += 2
                continue
            if t[p] == quote:
                break
            p += 1
        self.pos = p + 1
        self.emit(kind)

    def _word(self, kind: str) -> None:
        t = self.text
        while self.pos < len(t) and _alnum(t[self.pos]):
            self.pos += 1
        word = t[self.start:self.pos]
        if not self._at_terminator():
            self.fail(f"bad character U+{ord(t[self.pos]):04X} {t[self.pos]!r}")
        if kind == "identifier":
            kind = "keyword" if word in KEYWORDS else "bool" if word in ("true", "false") \
                else "identifier"
        self.emit(kind)

    def _at_terminator(self) -> bool:
        t, p = self.text, self.pos
        if p >= len(t):
            return True
        return t[p] in SPACE_CHARS + ".,|:)(" or t.startswith(RIGHT, p)

    def _number(self) -> None:
        t, p = self.text, self.pos
        if t[p] in "+-":
            p += 1
        digits = "0123456789_"
        if t.startswith(("0x", "0X"), p):
            p, digits = p + 2, "0123456789abcdefABCDEF_"
        elif t.startswith(("0o", "0O"), p):
            p, digits = p + 2, "01234567_"
        elif t.startswith(("0b", "0B"), p):
            p, digits = p + 2, "01_"
        while p < len(t) and t[p] in digits:
            p += 1
        if p < len(t) and t[p] == ".":
            p += 1
            while p < len(t) and t[p] in digits:
                p += 1
        exp = "pP" if "a" in digits else "eE"
        if p < len(t) and t[p] in exp:
            p += 1
            if p < len(t) and t[p] in "+-":
                p += 1
            while p < len(t) and t[p] in "0123456789_":
                p += 1
        if p < len(t) and t[p] == "i":
            p += 1
        self.pos = p
        if p < len(t) and _alnum(t[p]):
            self.pos += 1
            self.fail(f"bad number syntax: {t[self.start:self.pos]!r}")
        self.emit("number")


def tokens(text: str, name: str = "") -> list[Token]:
    return Lexer(text, name).run()
