"""The SQLite database, now notifier/storage/sqlite.py; these names stay importable from here."""

from __future__ import annotations

from inferwatch.notifier.storage.base import StorageError, StorageHealth, reason
from inferwatch.notifier.storage.sqlite import Database

__all__ = ["Database", "StorageError", "StorageHealth", "reason"]
