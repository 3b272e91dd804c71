"""The notifier's storage interface: alerts, silences, group leases and schedule, notification
log, outbox.

Two backends implement it: SQLite (notifier/storage/sqlite.py, the embedded default, one
replica) and PostgreSQL (notifier/storage/postgres.py, any number of replicas sharing the
state; each group's flushes owned by one replica at a time through a lease in the database).

The Notifier calls the async methods; the delivery worker and the HTTP API use the `outbox`
and `silences` objects synchronously (memory, or a short write for a silence).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inferwatch.notifier.alerts import StoredAlert
    from inferwatch.notifier.nflog import Entry
    from inferwatch.notifier.outbox import Notification
    from inferwatch.notifier.silences import Silences

log = logging.getLogger(__name__)

LastEntry = Callable[[str, int, str], "Entry | None"]
# given the last notification of each (receiver, channel, group), what to queue and what to
# log as decided without sending: (notes, quiet)
Planner = Callable[[LastEntry], "tuple[list[Notification], list[Notification]]"]


class StorageError(Exception):
    """The storage cannot be opened or written; the message names it (without secrets)."""


def reason(err: BaseException) -> str:
    """The database's or the OS's words for an error, without a traceback."""
    if isinstance(err, OSError):
        return err.strerror or type(err).__name__
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


class StorageHealth:
    """Failed accesses: counted by operation, logged once per change (failing, other error, ok)."""

    def __init__(self, path: object):
        self.path = path  # what log lines name: a file, or a redacted URL
        self.failing: str | None = None  # the current error, None while writes succeed
        self.count: Callable[[str], None] = lambda op: None  # set by whoever owns metrics

    def error(self, op: str, err: BaseException) -> StorageError:
        """Count and (on a change) log a failed access; the error to raise, naming the store."""
        self.count(op)
        text = reason(err)
        if text != self.failing:
            log.error("storage %s: cannot write (%s); held in memory and retried with backoff",
                      self.path, text)
            self.failing = text
        return StorageError(f"storage {self.path}: {text}")

    def ok(self) -> None:
        if self.failing is not None:
            log.warning("storage %s: writable again", self.path)
            self.failing = None


@dataclass
class Cluster:
    """This replica's name and lease timing (PostgreSQL; SQLite has one replica, no leases)."""

    replica: str = ""
    lease: float = 10.0  # a group lease or an outbox claim not renewed for this long expires
    poll: float = 0.25  # how often to look for other replicas' alerts and notifications
    keepalive: float = 5.0  # the LISTEN connection must answer a query this often
    hooks: dict[str, Any] = field(default_factory=dict)  # metrics, set by the Notifier


class Storage(ABC):
    """What the Notifier needs from a backend."""

    errors: tuple[type[BaseException], ...]  # the backend's own access errors
    health: StorageHealth
    outbox: Any  # Outbox's synchronous interface (due, next_attempt, delivered, ... counts)
    silences: Silences
    shared = False  # True when other replicas share the state (leases matter)
    cluster = Cluster()
    metrics: Any = None  # the Notifier's Metrics, set by it
    deliverer_wake: Any = None  # the delivery worker's asyncio.Event, set by the Notifier
    slots = 64  # outbox rows to hold claimed at once: twice the delivery concurrency
    send_timeout = 10.0  # one delivery attempt's timeout (delivery.timeout)

    @property
    def label(self) -> str:
        return str(self.health.path)

    async def open(self) -> None:
        """Connect and migrate (SQLite did both when constructed)."""
        return None

    @abstractmethod
    async def close(self) -> None: ...

    def connected(self) -> bool:
        return True

    @abstractmethod
    async def put_alerts(self, batch: Mapping[str, StoredAlert]) -> Sequence[StoredAlert]:
        """Store alerts (merged with stored copies another replica wrote); what was stored."""

    @abstractmethod
    async def load_alerts(self) -> list[StoredAlert]: ...

    async def changes(self) -> list[StoredAlert]:
        """Alerts other replicas stored since the last call; silences reloaded too."""
        return []

    async def wait_changes(self, timeout: float) -> None:
        """Return when another replica may have stored alerts or silences, or after
        `timeout` (the poll)."""
        await asyncio.sleep(timeout)

    async def own(self, keys: Sequence[str], now: float) -> tuple[set[str], dict[str, float]]:
        """The group keys (among `keys`) whose flushes this replica owns now, and the time of
        the next flush (or look) of those the shared group schedule puts after `now`."""
        return set(keys), {}

    def held(self) -> set[str]:
        """The group keys whose leases this replica holds."""
        return set()

    async def release(self, keys: Iterable[str]) -> None:
        """Give up the leases of groups that are gone."""
        return None

    @abstractmethod
    async def flush(self, keys: Sequence[str], plan: Planner, now: float, deadline: float,
                    schedule: Mapping[str, float] | None = None) -> set[str]:
        """In one transaction: read the last notification of each group, `plan`, queue the
        notes, log the quiet ones and record `schedule` (each group's next flush); the group
        keys it was done for (a lease lost meanwhile leaves its group out). The backend's
        error when nothing could be written. SQLite records no schedule: one replica, whose
        restart rebuilds the groups from the alerts as Alertmanager's does."""

    @abstractmethod
    async def gc(self, now: float, alerts: Iterable[str], before: float) -> None:
        """Delete the `alerts` and log, outbox and silence rows older than `before`."""

    def background(self) -> list[Any]:
        """Coroutines to run while the notifier runs (lease renewal, claims, marks)."""
        return []
