"""Alerts persisted as they are accepted, so a restart (even kill -9) regroups them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from inferwatch.notifier.alerts import StoredAlert

if TYPE_CHECKING:
    from inferwatch.notifier.storage.sqlite import Database


class AlertStore:
    def __init__(self, db: Database):
        self.db = db

    def put(self, alerts: Iterable[StoredAlert]) -> None:
        rows = [(a.fingerprint, _encode(a), a.updated_at) for a in alerts]
        with self.db.tx() as conn:
            conn.executemany("INSERT OR REPLACE INTO alerts VALUES (?,?,?)", rows)

    def load(self) -> list[StoredAlert]:
        rows = self.db.conn.execute("SELECT body FROM alerts").fetchall()
        return [StoredAlert(**json.loads(r["body"])) for r in rows]

    def delete(self, fingerprints: Iterable[str]) -> None:
        with self.db.tx() as conn:
            conn.executemany("DELETE FROM alerts WHERE fingerprint=?",
                             [(fp,) for fp in fingerprints])


def _encode(a: StoredAlert) -> str:
    """The alert as JSON (dataclasses.asdict deep-copies every map first: ten times slower)."""
    return json.dumps({
        "fingerprint": a.fingerprint, "labels": a.labels, "annotations": a.annotations,
        "starts_at": a.starts_at, "ends_at": a.ends_at, "generator_url": a.generator_url,
        "updated_at": a.updated_at, "timeout": a.timeout})
