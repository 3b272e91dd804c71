"""Silences: matchers plus a time range, persisted, matched as Alertmanager matches them.

`Silences.set` follows Alertmanager 0.25's `Silences.Set`: matcher names must be valid label
names and not every matcher may match the empty string; a new silence starting in the past
starts now; an update that Alertmanager cannot apply in place (other matchers, a moved start of
an active silence, an expired silence) expires the old silence and creates a new one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from inferwatch.notifier.matchers import Matcher, matches_all, valid_label_name
from inferwatch.notifier.silenceindex import SilenceIndex

if TYPE_CHECKING:
    from inferwatch.notifier.storage.sqlite import Database


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


CACHE_LIMIT = 100_000  # label sets remembered; past it the cache starts again


class Silences:
    """All silences in memory, written through to the database (`db`: the storage's
    silence_rows, save_silence and delete_silences).

    `muted_by` looks candidates up in a SilenceIndex (notifier/silenceindex.py) built on first
    use after a change, and remembers per label set which silences' matchers match it until the
    silences change, as Alertmanager's silencer remembers them per fingerprint and store
    version; only the state (active at `now`) is decided on every call."""

    def __init__(self, db: Database, rows: list[str] | None = None):
        self.db = db
        self.reload(db.silence_rows() if rows is None else rows)

    def reload(self, rows: list[str]) -> None:
        """Replace the silences held by the stored ones (another replica may have written)."""
        self._all = {s.id: s for s in (_decode(body) for body in rows)}
        self._changed()

    def _changed(self) -> None:
        self._index: SilenceIndex | None = None
        self._matching: dict[object, list[Silence]] = {}

    def all(self) -> list[Silence]:
        return sorted(self._all.values(), key=lambda s: (s.ends_at, s.id))

    def get(self, silence_id: str) -> Silence:
        if silence_id not in self._all:  # made by another replica since the last reload?
            self.reload(self.db.silence_rows())
        if silence_id not in self._all:
            raise SilenceError(f"silence {silence_id} not found", missing=True)
        return self._all[silence_id]

    def set(self, silence: Silence, now: float) -> str:
        """Create (no id) or update a silence; returns its id (a new one when replaced)."""
        check(silence)
        if silence.ends_at <= silence.starts_at:
            raise SilenceError("start time must be before end time (endsAt must be after "
                               "startsAt)")
        if silence.ends_at < now:
            raise SilenceError("end time can't be in the past")
        if silence.id:
            old = self.get(silence.id)
            if _can_update(old, silence, now):
                self._write(replace(silence, updated_at=now))
                return silence.id
            if old.state(now) != "expired":
                self.expire(old.id, now)
        silence = replace(silence, id=str(uuid.uuid4()), starts_at=max(silence.starts_at, now))
        self._write(replace(silence, updated_at=now))
        return silence.id

    def expire(self, silence_id: str, now: float) -> None:
        old = self.get(silence_id)
        if old.state(now) == "expired":
            raise SilenceError(f"silence {silence_id} has already expired")
        start = min(old.starts_at, now)
        self._write(replace(old, starts_at=start, ends_at=now, updated_at=now))

    def muted_by(self, labels: Mapping[str, str], now: float,
                 fingerprint: str | None = None) -> list[str]:
        """The ids of the silences active at `now` that match `labels`; the matches are
        remembered by the labels' `fingerprint` where the caller has it (as Alertmanager's
        silencer keys them), else by the label set."""
        key: object = fingerprint if fingerprint is not None else frozenset(labels.items())
        matching = self._matching.get(key)
        if matching is None:
            if self._index is None:
                self._index = SilenceIndex(self._all.values())
            if len(self._matching) >= CACHE_LIMIT:
                self._matching.clear()
            found = (self._all[sid] for sid in self._index.candidates(labels))
            matching = sorted((s for s in found if matches_all(s.matchers, labels)),
                              key=lambda s: s.id)
            self._matching[key] = matching
        return [s.id for s in matching if s.starts_at <= now < s.ends_at]

    def gc(self, before: float) -> None:
        old = [sid for sid, s in self._all.items() if s.ends_at < before]
        self.db.delete_silences(old)
        for sid in old:
            del self._all[sid]
        if old:
            self._changed()

    def _write(self, silence: Silence) -> None:
        self.db.save_silence(silence.id, _encode(silence), silence.ends_at)
        self._all[silence.id] = silence
        self._changed()


def check(silence: Silence) -> None:
    """Alertmanager's validateSilence: SilenceError when it would refuse these matchers."""
    if not silence.matchers:
        raise SilenceError("silence invalid: at least one matcher required")
    for i, m in enumerate(silence.matchers):
        if not valid_label_name(m.name):
            raise SilenceError(f"silence invalid: invalid label matcher {i}: invalid label "
                               f"name {m.name!r}")
    if all(m.matches({}) for m in silence.matchers):
        raise SilenceError("silence invalid: at least one matcher must not match the empty "
                           "string")


def _can_update(old: Silence, new: Silence, now: float) -> bool:
    """Alertmanager's canUpdate: whether `new` may replace `old` under the same id."""
    if old.matchers != new.matchers:
        return False
    state = old.state(now)
    if state == "active":
        return new.starts_at == old.starts_at and new.ends_at >= now
    return state == "pending" and new.starts_at >= now


def _encode(s: Silence) -> str:
    matchers = [[m.name, m.op, m.value] for m in s.matchers]
    return json.dumps({"id": s.id, "matchers": matchers, "starts_at": s.starts_at,
                       "ends_at": s.ends_at, "created_by": s.created_by, "comment": s.comment,
                       "updated_at": s.updated_at})


def _decode(text: str) -> Silence:
    d = json.loads(text)
    matchers = tuple(Matcher.make(*m) for m in d.pop("matchers"))
    return Silence(matchers=matchers, **d)
