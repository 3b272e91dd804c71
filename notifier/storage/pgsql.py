"""Batches for the PostgreSQL backend's statements: one text parameter per batch.

A statement that writes many rows reads them from `json_to_recordset(%s::json)`: the rows go
to the server as one text, made by the json module's C encoder, instead of one array per
column that psycopg dumps element by element (the bulk of a flush's CPU with 500 groups).
Floats keep their value (JSON carries Python's shortest repr, which float8 reads back exactly).
A list of keys goes as an array literal made with str methods (`text_array`, for a
`%s::text[]` parameter): some 30 times cheaper than psycopg's dumping of a list of str.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence


class Rows:
    """A recordset's columns, `("name", "sqltype")` in order, and its SQL and parameter."""

    def __init__(self, *columns: tuple[str, str]):
        self.names = [name for name, _ in columns]
        typed = ", ".join(f"{name} {kind}" for name, kind in columns)
        self.names_sql = ", ".join(self.names)
        self._from = f"json_to_recordset(%s::json) AS {{alias}}({typed})"

    def source(self, alias: str = "v") -> str:
        """The FROM item; its `%s` takes `param(rows)`."""
        return self._from.format(alias=alias)

    def param(self, rows: Iterable[Sequence]) -> str:
        names = self.names
        return json.dumps([dict(zip(names, row, strict=True)) for row in rows],
                          ensure_ascii=False, separators=(",", ":"))


def text_array(items: Iterable[str]) -> str:
    """The literal of a text[] (for a `%s::text[]` parameter): every element double-quoted,
    its backslashes and double quotes escaped, as PostgreSQL's array input reads them."""
    return "{" + ",".join(['"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
                           for s in items]) + "}"
