"""The service driven by an injected clock, without its loops: flush, supersede, gc, metrics."""

from __future__ import annotations

from inferwatch.notifier import Alert, Notifier
from inferwatch.notifier.service import RESOLVED_KEEP, RETENTION
from tests.notifier.helpers import load

CONFIG = """
route: {receiver: hook, group_by: [alertname]}
receivers:
  - name: hook
    urls: ["json://127.0.0.1:9/never-called"]
"""


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_in_process_alerts_flush_supersede_and_are_forgotten(tmp_path) -> None:
    clock = Clock(1000.0)
    n = Notifier(load(tmp_path, CONFIG), tmp_path / "data", clock=clock)
    await n.receive([Alert({"alertname": "A"}, {"summary": "s"})])  # the rules engine's path
    assert n.metrics.registry.get_sample_value("inferwatch_notifier_alerts_received_total",
                                               {"source": "rules"}) == 1
    assert n.groups.next_flush() == 1030  # Alertmanager's default group_wait
    clock.now = 1030
    n.flush(n.groups.due(clock.now), clock.now)
    assert n.outbox.counts() == {"pending": 1}

    clock.now = 1100
    await n.receive([Alert({"alertname": "A"}, ends_at=1090)])
    assert n.groups.due(1329) == [] and n.groups.next_flush() == 1330  # group_interval 5m
    clock.now = 1330
    n.flush(n.groups.due(clock.now), clock.now)
    assert n.outbox.counts() == {"pending": 1, "superseded": 1}  # the resolution replaces it
    assert len(n.groups) == 0  # the resolved alert went out: the group is gone
    snap = n.snapshot()
    assert (snap.outbox_pending, snap.alerts["resolved"], snap.groups) == (1, 1, 0)

    clock.now = 1340
    assert n.snapshot().oldest_pending_age == 10
    n.gc(1090 + RESOLVED_KEEP - 1)
    assert list(n.active) != []  # not resolved long enough yet
    n.gc(1090 + RESOLVED_KEEP + 1)
    assert n.active == {} and n.store.load() == []
    n.gc(1330 + RETENTION + 1)
    assert n.outbox.counts() == {"pending": 1}  # pending rows are never collected
    n.db.close()


async def test_firing_alert_without_end_resolves_after_resolve_timeout(tmp_path) -> None:
    clock = Clock(0.0)
    n = Notifier(load(tmp_path, CONFIG + "global: {resolve_timeout: 1m}\n"), tmp_path / "d",
                 clock=clock)
    await n.receive([Alert({"alertname": "A"})])
    alert = n.active[next(iter(n.active))]
    assert (alert.resolved(59.9), alert.resolved(60)) == (False, True)
    n.db.close()


def test_groups_notified_before_a_restart_are_known_after_it(tmp_path) -> None:
    from inferwatch.notifier.db import Database
    from inferwatch.notifier.nflog import NotificationLog
    from inferwatch.notifier.outbox import Notification, Outbox

    def note(group: str) -> Notification:
        return Notification("hook", 0, group, "t", "b", "text", "info", frozenset({"f1"}),
                            frozenset())

    db = Database(tmp_path)
    Outbox(db).enqueue([note("pending")], 10.0, 60.0, quiet=[note("quiet")])
    assert NotificationLog(db).last("hook", 0, "new") is None
    db.close()
    db = Database(tmp_path)  # a restart: the set comes back from the pending rows and the nflog
    log, outbox = NotificationLog(db), Outbox(db)
    assert {g for _, _, g in db.notified} == {"pending", "quiet"}
    entries = [log.last("hook", 0, group) for group in ("pending", "quiet")]
    assert all(e is not None and e.firing == {"f1"} for e in entries)
    outbox.enqueue([note("pending")], 20.0, 60.0)  # supersedes the pending one
    assert outbox.counts() == {"pending": 1, "superseded": 1}
    db.close()


async def test_gc_forgets_groups_whose_log_and_outbox_rows_are_collected(tmp_path) -> None:
    clock = Clock(1000.0)
    n = Notifier(load(tmp_path, CONFIG), tmp_path / "data", clock=clock)
    await n.receive([Alert({"alertname": "B"})])
    clock.now = 1060
    n.flush(n.groups.due(clock.now), clock.now)
    row = n.outbox.due(clock.now, 1, set())[0]
    n.outbox.delivered([(row, clock.now)])
    assert len(n.db.notified) == 1
    n.gc(1060 + RETENTION - 1)
    assert len(n.db.notified) == 1
    n.gc(1060 + RETENTION + 1)
    assert n.db.notified == set()  # no set entry for each group ever notified
    n.db.close()
