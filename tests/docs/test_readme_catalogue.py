"""README's metric table is generated from the catalogue and must not be stale."""

from __future__ import annotations

from inferwatch import catalog
from inferwatch.catalog_doc import render_table, with_table
from tests.support.procs import ROOT


def test_readme_table_is_current():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert with_table(text) == text, "stale: run `python -m inferwatch.catalog_doc README.md`"


def test_table_lists_every_spec_once():
    table = render_table()
    for spec in catalog.all_specs():
        assert table.count(f"| `{spec.name}` |") == 1
