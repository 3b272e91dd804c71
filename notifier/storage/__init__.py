"""The notifier's storage: one interface (base), SQLite (the default) and PostgreSQL backends.

`open_storage` picks the backend: a `postgres://` or `postgresql://` URL selects PostgreSQL,
anything else is the directory of the SQLite database.
"""

from __future__ import annotations

import socket
from pathlib import Path

from inferwatch.notifier.storage.base import Cluster, Storage, StorageError

__all__ = ["Cluster", "Storage", "StorageError", "is_url", "open_storage"]


def is_url(spec: str | Path) -> bool:
    return isinstance(spec, str) and spec.startswith(("postgres://", "postgresql://"))


def open_storage(spec: str | Path, cluster: Cluster | None = None) -> Storage:
    """The backend for a URL or a directory; SQLite opens here, PostgreSQL in `open()`."""
    if is_url(spec):
        from inferwatch.notifier.storage.postgres import PostgresStorage

        cluster = cluster or Cluster()
        cluster.replica = cluster.replica or socket.gethostname()
        return PostgresStorage(str(spec), cluster)
    from inferwatch.notifier.storage.sqlite import SqliteStorage

    return SqliteStorage(spec)
