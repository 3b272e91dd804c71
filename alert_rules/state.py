"""Alert state on disk: written atomically after each cycle, read at start, so that a restart
neither re-pages (firing alerts keep their `startsAt` and last send time) nor loses a resolve
(an alert resolved but not yet sent, or one whose condition cleared while we were down, is
sent as resolved by the next cycle)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path

from inferwatch.alert_rules.evaluate import Alert, RuleState, key_of

VERSION = 1
log = logging.getLogger(__name__)


def dump(states: dict[str, RuleState], saved_at: float) -> str:
    rules = {rule_id: {"health": s.health, "last_error": s.last_error,
                       "last_evaluation": s.last_evaluation,
                       "alerts": [dataclasses.asdict(a) for a in s.active.values()]}
             for rule_id, s in states.items() if s.active or s.last_evaluation is not None}
    return json.dumps({"version": VERSION, "saved_at": saved_at, "rules": rules}, indent=1)


def write_atomic(path: Path, text: str) -> None:
    """Write a temporary file beside `path`, fsync it, rename it over `path` and fsync the
    folder: after a crash or power loss the file holds the old state or the new, never a torn
    or empty one (a rename can reach the disk before unsynced data does)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def restore(path: Path, states: dict[str, RuleState]) -> int:
    """Load saved alerts into the rules that still exist; the number of alerts restored.
    An unreadable file is logged and ignored: alerting must start even without history."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("version") != VERSION:
            version = data.get("version") if isinstance(data, dict) else None
            raise ValueError(f"unknown state version {version!r}")
        loaded = {rule_id: (entry["health"], entry["last_error"], entry["last_evaluation"],
                            [Alert(**a) for a in entry["alerts"]])
                  for rule_id, entry in data["rules"].items() if rule_id in states}
    except FileNotFoundError:
        return 0
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        log.warning("ignoring alert state file %s: %s", path, err)
        return 0
    for rule_id, (health, last_error, last_evaluation, alerts) in loaded.items():
        state = states[rule_id]
        state.health, state.last_error, state.last_evaluation = health, last_error, last_evaluation
        state.active = {key_of(a.labels): a for a in alerts}
    return sum(len(alerts) for *_, alerts in loaded.values())
