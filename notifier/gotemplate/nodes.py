"""The parse tree of a Go template (text/template/parse's nodes), each printing as Go prints it
in an error (`executing "x" at <.Foo>`)."""

from __future__ import annotations

from dataclasses import dataclass, field


class Node:
    line: int


@dataclass
class ListNode(Node):
    nodes: list[Node] = field(default_factory=list)
    line: int = 0

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)


@dataclass
class TextNode(Node):
    text: str
    line: int = 0

    def __str__(self) -> str:
        return repr(self.text)


@dataclass
class DotNode(Node):
    line: int = 0
    def __str__(self) -> str:
        return "."


@dataclass
class NilNode(Node):
    line: int = 0
    def __str__(self) -> str:
        return "nil"


@dataclass
class BoolNode(Node):
    value: bool
    line: int = 0

    def __str__(self) -> str:
        return "true" if self.value else "false"


@dataclass
class NumberNode(Node):
    text: str
    value: int | float
    line: int = 0

    def __str__(self) -> str:
        return self.text


@dataclass
class StringNode(Node):
    quoted: str
    text: str
    line: int = 0

    def __str__(self) -> str:
        return self.quoted


@dataclass
class FieldNode(Node):
    idents: tuple[str, ...]
    line: int = 0

    def __str__(self) -> str:
        return "".join("." + i for i in self.idents)


@dataclass
class VariableNode(Node):
    idents: tuple[str, ...]  # idents[0] is the variable's name, with its `$`
    line: int = 0

    def __str__(self) -> str:
        return ".".join(self.idents)


@dataclass
class IdentifierNode(Node):
    name: str
    line: int = 0

    def __str__(self) -> str:
        return self.name


@dataclass
class ChainNode(Node):
    node: Node
    fields: tuple[str, ...]
    line: int = 0

    def __str__(self) -> str:
        inner = f"({self.node})" if isinstance(self.node, PipeNode) else str(self.node)
        return inner + "".join("." + f for f in self.fields)


@dataclass
class CommandNode(Node):
    args: list[Node] = field(default_factory=list)
    line: int = 0

    def __str__(self) -> str:
        return " ".join(f"({a})" if isinstance(a, PipeNode) else str(a) for a in self.args)


@dataclass
class PipeNode(Node):
    line: int = 0
    decl: list[str] = field(default_factory=list)
    is_assign: bool = False
    cmds: list[CommandNode] = field(default_factory=list)

    def __str__(self) -> str:
        head = ", ".join(self.decl) + (" = " if self.is_assign else " := ") if self.decl else ""
        return head + " | ".join(str(c) for c in self.cmds)


@dataclass
class ActionNode(Node):
    line: int
    pipe: PipeNode

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


@dataclass
class BranchNode(Node):
    kind: str  # if, range, with
    line: int
    pipe: PipeNode
    list: ListNode
    else_list: ListNode | None

    def __str__(self) -> str:
        tail = "{{else}}" + str(self.else_list) if self.else_list is not None else ""
        return "{{" + f"{self.kind} {self.pipe}" + "}}" + str(self.list) + tail + "{{end}}"


@dataclass
class TemplateNode(Node):
    line: int
    name: str
    pipe: PipeNode | None

    def __str__(self) -> str:
        quoted = '"' + self.name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        arg = f" {self.pipe}" if self.pipe is not None else ""
        return "{{template " + quoted + arg + "}}"


@dataclass
class BreakNode(Node):
    line: int

    def __str__(self) -> str:
        return "{{break}}"


@dataclass
class ContinueNode(Node):
    line: int

    def __str__(self) -> str:
        return "{{continue}}"


@dataclass
class EndNode(Node):
    line: int

    def __str__(self) -> str:
        return "{{end}}"


@dataclass
class ElseNode(Node):
    line: int

    def __str__(self) -> str:
        return "{{else}}"


def is_empty_tree(node: Node | None) -> bool:
    """Go's parse.IsEmptyTree: only spaces (and comments), so it never replaces a template."""
    if node is None:
        return True
    if isinstance(node, ListNode):
        return all(is_empty_tree(n) for n in node.nodes)
    if isinstance(node, TextNode):
        return node.text.strip(" \t\r\n\v\f\x85\xa0") == ""
    return False
