"""Template sets as Go's text/template keeps them, and Alertmanager's Template on top.

`Templates` is a set of named trees: `parse` adds a text's top-level template and its
`define`s (a later definition replaces an earlier one unless it is empty, as Go's
AddParseTree), `execute` runs one. `AlertmanagerTemplates` is Alertmanager 0.25's
template.Template: the shipped default.tmpl and email.tmpl first, then the user's `templates:`
globs, and `execute_text` as its ExecuteTextString (a clone, the text parsed as template "");
`execute_html` is its ExecuteHTMLString, the same with html/template's contextual escaping
(notifier/gotemplate/htmlescape.py).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

from inferwatch.notifier.gotemplate import nodes as n
from inferwatch.notifier.gotemplate.execute import execute
from inferwatch.notifier.gotemplate.funcs import FUNCS, Func
from inferwatch.notifier.gotemplate.htmlescape import escape
from inferwatch.notifier.gotemplate.htmlfuncs import HTML_FUNCS
from inferwatch.notifier.gotemplate.parser import parse

DEFAULT_FILES = ("default.tmpl", "email.tmpl")


class Templates:
    def __init__(self, funcs: Mapping[str, Func] | None = None):
        self.funcs: Mapping[str, Func] = FUNCS if funcs is None else funcs
        self.trees: dict[str, n.ListNode] = {}

    def parse(self, text: str, name: str = "") -> Templates:
        """Add the text (as template `name`) and what it defines; TemplateSyntaxError if bad."""
        return self.add(parse(text, name, self.funcs))

    def add(self, trees: Mapping[str, n.ListNode]) -> Templates:
        for tname, tree in trees.items():
            old = self.trees.get(tname)
            if old is not None and n.is_empty_tree(tree):
                continue
            self.trees[tname] = tree
        return self

    def parse_files(self, paths: Iterable[str]) -> Templates:
        """Go's ParseFiles: each file is the template named by its base name."""
        for path in paths:
            with open(path, encoding="utf-8") as f:
                self.parse(f.read(), os.path.basename(path))
        return self

    def clone(self) -> Templates:
        copy = Templates(self.funcs)
        copy.trees = dict(self.trees)
        return copy

    def names(self) -> list[str]:
        return sorted(self.trees)

    def execute(self, name: str, data: Any) -> str:
        """The output of template `name`; TemplateExecError if it fails."""
        return execute(self.trees, self.funcs, name, data)


def default_text(file: str) -> str:
    """One of the templates Alertmanager 0.25 ships, as stored in this package."""
    return resources.files(__package__).joinpath(file).read_text(encoding="utf-8")


class AlertmanagerTemplates:
    """Alertmanager's template.Template (the text half): defaults, then the user's files."""

    def __init__(self, paths: Iterable[str] = ()):
        self.base = Templates()
        for file in DEFAULT_FILES:
            self.base.parse(default_text(file), "")
        for pattern in paths:
            matched = sorted(glob.glob(pattern))
            self.base.parse_files(matched)  # an empty match is allowed, as in Alertmanager

    def execute_text(self, text: str, data: Any) -> str:
        """ExecuteTextString: "" for "", else the text parsed into a clone and run."""
        if text == "":
            return ""
        return self._with(text).execute("", data)

    def execute_html(self, text: str, data: Any) -> str:
        """ExecuteHTMLString: as execute_text, escaped as html/template escapes (an
        HTMLEscapeError, a GoTemplateError, where it would refuse the template)."""
        if text == "":
            return ""
        return execute(escape(self._with(text).trees, ""), HTML_FUNCS, "", data)

    def _with(self, text: str) -> Templates:
        tmpl = self.base.clone()
        trees = parse(text, "", tmpl.funcs)
        main = trees[""]
        tmpl.add(trees)
        tmpl.trees[""] = main  # Go runs the new template even when it is only spaces
        return tmpl

    def check(self, text: str) -> None:
        """Parse the text against the set (TemplateSyntaxError), without running it."""
        if text:
            self.base.clone().parse(text, "")
