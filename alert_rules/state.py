"""Alert state, saved after each cycle and read at start, so that a restart (or a replacement
replica) neither re-pages (firing alerts keep their `startsAt` and last send time) nor loses a
resolve (an alert resolved but not yet sent, or one whose condition cleared while we were down,
is sent as resolved by the next cycle). On disk: a file written atomically. In PostgreSQL
(`rules run --storage.url`, e.g. the notifier's database): PgState, a row per rule,
written when its entry changed; a newer save (by `saved_at`) is never overwritten by an older
one, so two engines of an HA pair sharing the rows keep the newest."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path

from inferwatch.alert_rules.evaluate import Alert, RuleState, key_of

VERSION = 1
log = logging.getLogger(__name__)


class StateError(Exception):
    """The state's database cannot be opened; the message names it without its password."""


def entries(states: dict[str, RuleState]) -> dict[str, dict]:
    return {rule_id: {"health": s.health, "last_error": s.last_error,
                      "last_evaluation": s.last_evaluation,
                      "alerts": [dataclasses.asdict(a) for a in s.active.values()]}
            for rule_id, s in states.items() if s.active or s.last_evaluation is not None}


def dump(states: dict[str, RuleState], saved_at: float) -> str:
    return json.dumps({"version": VERSION, "saved_at": saved_at, "rules": entries(states)},
                      indent=1)


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
        return apply(json.loads(path.read_text(encoding="utf-8")), states)
    except FileNotFoundError:
        return 0
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        log.warning("ignoring alert state file %s: %s", path, err)
        return 0


def apply(data: object, states: dict[str, RuleState]) -> int:
    """Saved alerts (a dump's document) into the rules that still exist; how many. ValueError,
    KeyError, TypeError or AttributeError for a document of the wrong shape."""
    if not isinstance(data, dict) or data.get("version") != VERSION:
        version = data.get("version") if isinstance(data, dict) else None
        raise ValueError(f"unknown state version {version!r}")
    loaded = {rule_id: (entry["health"], entry["last_error"], entry["last_evaluation"],
                        [Alert(**a) for a in entry["alerts"]])
              for rule_id, entry in data["rules"].items() if rule_id in states}
    for rule_id, (health, last_error, last_evaluation, alerts) in loaded.items():
        state = states[rule_id]
        state.health, state.last_error, state.last_evaluation = health, last_error, last_evaluation
        state.active = {key_of(a.labels): a for a in alerts}
    return sum(len(alerts) for *_, alerts in loaded.values())


SCHEMA = """CREATE TABLE IF NOT EXISTS rules_state (
    rule_id TEXT PRIMARY KEY, body TEXT NOT NULL, saved_at DOUBLE PRECISION NOT NULL)"""
SCHEMA_LOCK = 0x1F0A_7E58  # pg_advisory_xact_lock key (the notifier's migrations use ...57)


class PgState:
    """The alert state in PostgreSQL (`rules_state`, one row per rule), on one synchronous
    connection: `restore` at start, `save` after each cycle (in a thread)."""

    def __init__(self, url: str):
        from inferwatch.core.redact import redact

        self.url, self.label = url, redact(url)
        self.conn = None
        self.written: dict[str, str] = {}  # rule id -> the body last written
        self.failing: str | None = None

    def _connect(self):
        import psycopg

        if self.conn is None or self.conn.closed or self.conn.broken:
            self.conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5,
                                        application_name="inferwatch-rules",
                                        options="-c statement_timeout=10000")
            with self.conn.transaction():  # engines starting at once: one creates the table
                self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                self.conn.execute(SCHEMA)
        return self.conn

    def restore(self, states: dict[str, RuleState]) -> int:
        """The saved alerts into the rules that still exist; StateError when the database
        cannot be read (starting without the state would page again)."""
        import psycopg

        try:
            rows = self._connect().execute("SELECT rule_id, body FROM rules_state").fetchall()
        except psycopg.Error as err:
            raise StateError(f"alert state {self.label}: cannot open: {_reason(err)}") from None
        self.written = dict(rows)
        try:
            return apply({"version": VERSION, "rules": {rule_id: json.loads(body)
                                                        for rule_id, body in rows}}, states)
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            log.warning("ignoring alert state in %s: %s", self.label, err)
            return 0

    def save(self, states: dict[str, RuleState], saved_at: float) -> None:
        """Write the rules whose entry changed since the last write; a failure is logged
        once (until the next success) and the rows are written by a later cycle."""
        import psycopg

        changed = {rule_id: body for rule_id, entry in entries(states).items()
                   if self.written.get(rule_id) != (body := json.dumps(entry))}
        if not changed:
            return
        ids = sorted(changed)
        try:
            self._connect().execute(
                "INSERT INTO rules_state (rule_id, body, saved_at) SELECT r, b, %s FROM "
                "unnest(%s::text[], %s::text[]) AS v(r, b) ON CONFLICT (rule_id) DO UPDATE SET "
                "body = excluded.body, saved_at = excluded.saved_at WHERE excluded.saved_at >= "
                "rules_state.saved_at", (saved_at, ids, [changed[i] for i in ids]))
        except psycopg.Error as err:
            self.conn = None
            if _reason(err) != self.failing:
                self.failing = _reason(err)
                log.error("alert state %s: cannot write (%s); retried after the next cycle",
                          self.label, self.failing)
            return
        if self.failing is not None:
            log.warning("alert state %s: writable again", self.label)
            self.failing = None
        self.written.update(changed)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def _reason(err: BaseException) -> str:
    from inferwatch.core.redact import redact

    text = str(err).strip()
    return redact(text.splitlines()[0]) if text else type(err).__name__


def state_url(url: str | None, url_file: str | None) -> str | None:
    """`--storage.url`, or the first line of `--storage.url-file`; SystemExit (status 2)
    naming the flag when the file is unreadable or the URL is not PostgreSQL's."""
    flag = "--storage.url"
    if url_file:
        flag = f"--storage.url-file {url_file}"
        try:
            with open(url_file, encoding="utf-8") as f:
                url = f.readline().strip()
        except OSError as err:
            raise SystemExit(_usage(f"{flag}: {err.strerror or type(err).__name__}")) from None
    if url is not None and not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit(_usage(f"{flag}: not a postgresql:// URL"))
    return url


def _usage(message: str) -> int:
    import sys

    print(f"inferwatch rules run: {message}", file=sys.stderr)
    return 2
