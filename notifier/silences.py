"""Silences: matchers plus a time range, persisted, matched as Alertmanager matches them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace

from inferwatch.notifier.db import Database
from inferwatch.notifier.matchers import Matcher, matches_all


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    updated_at: float

    def state(self, now: float) -> str:
        if self.ends_at <= now:
            return "expired"
        return "pending" if self.starts_at > now else "active"

    def mutes(self, labels: Mapping[str, str], now: float) -> bool:
        return self.state(now) == "active" and matches_all(self.matchers, labels)


class SilenceError(ValueError):
    """A silence that cannot be stored, or one that does not exist (`missing`)."""

    def __init__(self, message: str, missing: bool = False):
        super().__init__(message)
        self.missing = missing


class Silences:
    """All silences in memory, written through to the database."""

    def __init__(self, db: Database):
        self.db = db
        rows = db.conn.execute("SELECT body FROM silences").fetchall()
        self._all = {s.id: s for s in (_decode(r["body"]) for r in rows)}

    def all(self) -> list[Silence]:
        return sorted(self._all.values(), key=lambda s: (s.ends_at, s.id))

    def get(self, silence_id: str) -> Silence:
        if silence_id not in self._all:
            raise SilenceError(f"silence {silence_id} not found", missing=True)
        return self._all[silence_id]

    def set(self, silence: Silence, now: float) -> str:
        """Create (no id) or update a silence that has not expired; returns its id."""
        if not silence.matchers:
            raise SilenceError("a silence needs at least one matcher")
        if silence.ends_at <= silence.starts_at:
            raise SilenceError("endsAt must be after startsAt")
        if silence.ends_at <= now:
            raise SilenceError("endsAt is in the past")
        if silence.id:
            old = self.get(silence.id)
            if old.state(now) == "expired":
                raise SilenceError(f"silence {silence.id} has expired and cannot be updated")
        else:
            silence = replace(silence, id=str(uuid.uuid4()))
        self._write(replace(silence, updated_at=now))
        return silence.id

    def expire(self, silence_id: str, now: float) -> None:
        old = self.get(silence_id)
        if old.state(now) == "expired":
            raise SilenceError(f"silence {silence_id} has already expired")
        start = min(old.starts_at, now)
        self._write(replace(old, starts_at=start, ends_at=now, updated_at=now))

    def muted_by(self, labels: Mapping[str, str], now: float) -> list[str]:
        return [s.id for s in self._all.values() if s.mutes(labels, now)]

    def gc(self, before: float) -> None:
        old = [sid for sid, s in self._all.items() if s.ends_at < before]
        with self.db.tx() as conn:
            conn.executemany("DELETE FROM silences WHERE id=?", [(sid,) for sid in old])
        for sid in old:
            del self._all[sid]

    def _write(self, silence: Silence) -> None:
        with self.db.tx() as conn:
            conn.execute("INSERT OR REPLACE INTO silences VALUES (?,?,?)",
                         (silence.id, _encode(silence), silence.ends_at))
        self._all[silence.id] = silence


def _encode(s: Silence) -> str:
    matchers = [[m.name, m.op, m.value] for m in s.matchers]
    return json.dumps({"id": s.id, "matchers": matchers, "starts_at": s.starts_at,
                       "ends_at": s.ends_at, "created_by": s.created_by, "comment": s.comment,
                       "updated_at": s.updated_at})


def _decode(text: str) -> Silence:
    d = json.loads(text)
    matchers = tuple(Matcher.make(*m) for m in d.pop("matchers"))
    return Silence(matchers=matchers, **d)
