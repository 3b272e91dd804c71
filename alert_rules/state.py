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

from alert_rules.evaluate import Alert, RuleState, key_of

VERSION = 1
log = logging.getLogger(__name__)


def dump(states: dict[str, RuleState], saved_at: float) -> str:
    rules = {rule_id: {"health": s.health, "last_error": s.last_error,
                       "last_evaluation": s.last_evaluation,
                       "alerts": [dataclasses.asdict(a) for a in s.active.values()]}
             for rule_id, s in states.items() if s.active or s.last_evaluation is not None}
    return json.dumps({"version": VERSION, "saved_at": saved_at, "rules": rules}, indent=1)


def save(path: Path, states: dict[str, RuleState], saved_at: float) -> None:
    """Write to a temporary file beside `path`, then rename over it (atomic on POSIX)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dump(states, saved_at), encoding="utf-8")
    os.replace(tmp, path)


def restore(path: Path, states: dict[str, RuleState]) -> int:
    """Load saved alerts into the rules that still exist; the number of alerts restored.
    An unreadable file is logged and ignored: alerting must start even without history."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != VERSION:
            raise ValueError(f"unknown state version {data.get('version')!r}")
        saved = data["rules"]
        restored = 0
        for rule_id, entry in saved.items():
            state = states.get(rule_id)
            if state is None:
                continue
            state.health, state.last_error = entry["health"], entry["last_error"]
            state.last_evaluation = entry["last_evaluation"]
            alerts = [Alert(**a) for a in entry["alerts"]]
            state.active = {key_of(a.labels): a for a in alerts}
            restored += len(alerts)
    except FileNotFoundError:
        return 0
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.warning("ignoring alert state file %s: %s", path, err)
        return 0
    return restored
