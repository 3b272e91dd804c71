"""Alerts persisted as they are accepted, so a restart (even kill -9) regroups them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict

from notifier.alerts import StoredAlert
from notifier.db import Database


class AlertStore:
    def __init__(self, db: Database):
        self.db = db

    def put(self, alerts: Iterable[StoredAlert]) -> None:
        rows = [(a.fingerprint, json.dumps(asdict(a)), a.updated_at) for a in alerts]
        with self.db.tx() as conn:
            conn.executemany("INSERT OR REPLACE INTO alerts VALUES (?,?,?)", rows)

    def load(self) -> list[StoredAlert]:
        rows = self.db.conn.execute("SELECT body FROM alerts").fetchall()
        return [StoredAlert(**json.loads(r["body"])) for r in rows]

    def delete(self, fingerprints: Iterable[str]) -> None:
        with self.db.tx() as conn:
            conn.executemany("DELETE FROM alerts WHERE fingerprint=?",
                             [(fp,) for fp in fingerprints])
