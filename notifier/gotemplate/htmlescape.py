"""Go's html/template escaper (Go 1.19 escape.go) over our parse trees: each action gets the
escaping functions of the HTML context it prints in, each `{{template}}` call runs a copy of the
called template escaped for the context of the call (`NAME$htmltemplate_CONTEXT`), text nodes
lose their comments. `escape(trees, name)` returns the trees to execute with HTML_FUNCS.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from inferwatch.notifier.gotemplate import htmlcontext as hc
from inferwatch.notifier.gotemplate import nodes as n
from inferwatch.notifier.gotemplate.htmlcontext import Context, HTMLEscapeError
from inferwatch.notifier.gotemplate.htmlfuncs import EQUIVALENT, PREDEFINED

_URL_STATES = (hc.URL,)  # Go's CSS URL states are among its CSS contexts, refused here


class _Escaper:
    def __init__(self, trees: Mapping[str, n.ListNode]):
        self.source = trees
        self.out: dict[str, n.ListNode] = dict(trees)
        self.done: dict[str, Context] = {}  # escaped name: the context it ends in

    def tree(self, c: Context, name: str, where: str) -> tuple[Context, str]:
        """Escape template `name` for context `c`; (its end context, the name to call)."""
        mangled = name if c == Context() else f"{name}$htmltemplate_{c}"
        if mangled in self.done:
            return self.done[mangled], mangled
        tree = self.source.get(name)
        if tree is None:
            raise HTMLEscapeError(f'html/template:{where}: no such template "{name}"')
        body = copy.deepcopy(tree)
        self.done[mangled] = c  # a recursive call is assumed to end where it starts, as in Go
        end = self.list(c, body)
        self.done[mangled] = end
        self.out[mangled] = body
        return end, mangled

    def list(self, c: Context, node: n.ListNode | None) -> Context:
        if node is None:
            return c
        for child in node.nodes:
            c = self.node(c, child)
        return c

    def node(self, c: Context, node: n.Node) -> Context:
        if isinstance(node, n.TextNode):
            c, node.text = hc.escape_text(c, node.text)
            return c
        if isinstance(node, n.ActionNode):
            return self.action(c, node)
        if isinstance(node, n.BranchNode):
            return self.branch(c, node)
        if isinstance(node, n.TemplateNode):
            end, node.name = self.tree(c, node.name, str(node.line))
            return end
        if isinstance(node, n.ListNode):
            return self.list(c, node)
        return c  # break, continue

    def branch(self, c: Context, node: n.BranchNode) -> Context:
        body = copy.deepcopy(node.list) if node.kind == "range" else None
        c0 = self.list(c, node.list)
        if body is not None:
            again = self.list(c0, body)  # the body may run twice: it must end where it began
            c0 = _join(c0, again, node)
        return _join(c0, self.list(c, node.else_list), node)

    def action(self, c: Context, node: n.ActionNode) -> Context:
        if node.pipe.decl:
            return c
        c = hc.nudge(c)
        for pos, cmd in enumerate(node.pipe.cmds):
            first = cmd.args[0]
            if isinstance(first, n.IdentifierNode) and first.name in PREDEFINED and (
                    pos < len(node.pipe.cmds) - 1 or
                    (c.state == hc.ATTR and c.delim == hc.SPACE and first.name == "html")):
                raise HTMLEscapeError(f'html/template:{node.line}:{node}: predefined escaper '
                                      f'"{first.name}" disallowed in template')
        s = []
        if c.state in _URL_STATES:
            if c.url_part == hc.UNKNOWN:
                raise HTMLEscapeError(f"html/template:{node.line}:{node}: {node} appears in an "
                                      "ambiguous context within a URL")
            if c.url_part == hc.PART_NONE:
                s.append("_html_template_urlfilter")
            s.append("_html_template_urlescaper" if c.url_part == hc.QUERY
                     else "_html_template_urlnormalizer")
        elif c.state == hc.TEXT:
            s.append("_html_template_htmlescaper")
        elif c.state == hc.RCDATA:
            s.append("_html_template_rcdataescaper")
        elif c.state in (hc.ATTR_NAME, hc.TAG):
            c = Context(hc.ATTR_NAME, c.delim, c.url_part, c.element, c.attr)
            s.append("_html_template_htmlnamefilter")
        elif c.state == hc.HTML_CMT:
            s.append("_html_template_commentescaper")
        elif c.state != hc.ATTR:
            raise HTMLEscapeError(f"html/template:{node.line}:{node}: an action in a {c.state} "
                                  "context (JavaScript, CSS, srcset) is not supported by "
                                  "inferwatch")
        if c.delim == hc.SPACE:
            s.append("_html_template_nospaceescaper")
        elif c.delim != hc.NONE:
            s.append("_html_template_attrescaper")
        _ensure(node.pipe, s)
        return c


def _ensure(pipe: n.PipeNode, s: list[str]) -> None:
    """Go's ensurePipelineContains: the escapers at the end of the pipeline, a predefined
    `html` or `urlquery` at its end standing in for the escaper it is equivalent to."""
    cmds = list(pipe.cmds)
    last = cmds[-1].args[0] if cmds else None
    if isinstance(last, n.IdentifierNode) and last.name in PREDEFINED:
        if len(cmds) == 1 and len(cmds[0].args) > 1:
            head = n.CommandNode([n.IdentifierNode("_eval_args_", last.line),
                                  *cmds[0].args[1:]], cmds[0].line)
            cmds = [head, n.CommandNode([n.IdentifierNode(last.name, last.line)], last.line)]
        dup = False
        for i, esc in enumerate(s):
            if EQUIVALENT.get(esc) == last.name:
                s[i], dup = last.name, True
        if dup:
            cmds = cmds[:-1]
    present = {c.args[0].name for c in cmds if isinstance(c.args[0], n.IdentifierNode)}
    cmds += [n.CommandNode([n.IdentifierNode(name, pipe.line)], pipe.line)
             for name in s if name not in present]
    pipe.cmds = cmds


def _join(a: Context, b: Context, node: n.BranchNode) -> Context:
    if a == b:
        return a
    if Context(a.state, a.delim, b.url_part, a.element, a.attr) == b:
        return Context(a.state, a.delim, hc.UNKNOWN, a.element, a.attr)
    na, nb = hc.nudge(a), hc.nudge(b)
    if not (na == a and nb == b):
        try:
            return _join(na, nb, node)
        except HTMLEscapeError:
            pass
    raise HTMLEscapeError(f"html/template:{node.line}: {{{{{node.kind}}}}} branches end in "
                          f"different contexts: {a}, {b}")


def escape(trees: Mapping[str, n.ListNode], name: str) -> dict[str, n.ListNode]:
    """The set with template `name` (and all it calls) escaped as html/template escapes it."""
    esc = _Escaper(trees)
    end, _ = esc.tree(Context(), name, "1")
    if end.state != hc.TEXT:
        raise HTMLEscapeError(f'html/template: "{name}" ends in a non-text context: {end}')
    return esc.out
