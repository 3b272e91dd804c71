"""Alertmanager's timing rules as pure functions: group_by inheritance, lingering empty groups,
repeats counted strictly from the logged send time (the differential suite checks the same
against a real Alertmanager)."""

from __future__ import annotations

import pytest

from inferwatch.notifier.alerts import StoredAlert, fingerprint
from inferwatch.notifier.config import RouteConfig
from inferwatch.notifier.db import Database
from inferwatch.notifier.grouping import CLEANUP_EVERY, Groups
from inferwatch.notifier.nflog import Entry, NotificationLog, dedup_reason
from inferwatch.notifier.outbox import Notification, Outbox
from inferwatch.notifier.routing import build_routes


def tree(child: dict, parent_group_by: list[str] | None) -> tuple:
    root = build_routes(RouteConfig.model_validate({
        "receiver": "r", "group_by": parent_group_by,
        "routes": [{**child, "routes": [{"matchers": ['x="1"']}]}]}))
    return root.routes[0], root.routes[0].routes[0]


@pytest.mark.parametrize("parent, child, expected", [
    (["alertname", "team"], {"group_by": []}, (("alertname", "team"), False)),
    (["alertname", "team"], {}, (("alertname", "team"), False)),
    (["alertname"], {"group_by": ["pod"]}, (("pod",), False)),
    (["alertname"], {"group_by": ["..."]}, (("alertname",), True)),
    (["..."], {"group_by": []}, ((), True)),
    (["..."], {"group_by": ["pod"]}, (("pod",), False)),
    (None, {"group_by": []}, ((), False)),
])
def test_group_by_inheritance_is_alertmanagers(parent, child, expected) -> None:
    route, grandchild = tree(child, parent)
    assert (route.group_by, route.group_all) == expected
    assert (grandchild.group_by, grandchild.group_all) == expected  # absent: inherited again


def alert(end: float | None = None, start: float = 0.0) -> StoredAlert:
    labels = {"alertname": "A"}
    return StoredAlert(fingerprint(labels), labels, {}, start, end, "", start)


def route(wait: float = 1.0, interval: float = 2.0):
    return build_routes(RouteConfig(receiver="r", group_by=["alertname"], group_wait=wait,
                                    group_interval=interval))


def test_a_group_made_by_another_replicas_alert_waits_a_lease_longer() -> None:
    """Its writer flushes it first; this replica looks once the writer's lease would have run
    out, even for an alert older than group_wait (which its writer flushes at once)."""
    r, groups = route(wait=1.0), Groups(started=0.0)
    groups.insert(r, alert(start=10.0), now=10.0, later=5.0)
    assert groups.next_flush() == 16.0
    old = Groups(started=0.0)
    old.insert(r, alert(start=0.0), now=10.0, later=5.0)
    assert old.next_flush() == 15.0
    own = Groups(started=0.0)  # received here: group_wait only, and an old alert at once
    own.insert(r, alert(start=10.0), now=10.0)
    own.insert(r, alert(start=0.0), now=10.5, later=5.0)  # an old alert from elsewhere:
    assert own.next_flush() == 11.0  # its writer flushes at once; here, group_wait as before


def test_an_emptied_group_lingers_on_its_ticks_until_cleanup() -> None:
    r, groups = route(), Groups(started=0.0)
    g = groups.insert(r, alert(), now=0.0)
    assert groups.next_flush() == 1.0
    groups.flushed(g, 1.0, list(g.alerts.values()))
    resolved = alert(end=2.0)
    groups.insert(r, resolved, now=2.5)
    groups.flushed(g, 3.0, [resolved])  # the resolution went out: empty
    assert len(groups) == 0 and groups.next_flush() is None  # no ticks while empty
    back = groups.insert(r, alert(start=6.1), now=6.1)  # ticks ran on: 5, 7
    assert back is g and groups.next_flush() == 7.0  # not 6.1 + group_wait
    assert len(groups) == 1


def test_after_a_cleanup_tick_a_returning_alert_starts_a_new_group() -> None:
    r, groups = route(), Groups(started=0.0)
    g = groups.insert(r, alert(), now=0.0)
    groups.flushed(g, 1.0, [])
    done = alert(end=1.5)
    groups.insert(r, done, now=1.5)
    groups.flushed(g, 3.0, [done])
    again = groups.insert(r, alert(start=CLEANUP_EVERY + 1), now=CLEANUP_EVERY + 1)
    assert again is not g and groups.next_flush() == CLEANUP_EVERY + 2  # group_wait
    assert groups.cleanup(CLEANUP_EVERY * 2) == 0  # the new group is live


def test_cleanup_forgets_lingering_groups() -> None:
    r, groups = route(), Groups(started=0.0)
    g = groups.insert(r, alert(end=0.5), now=0.0)
    groups.flushed(g, 1.0, list(g.alerts.values()))
    assert groups.cleanup(CLEANUP_EVERY - 1) == 0
    assert groups.cleanup(CLEANUP_EVERY) == 1


def test_repeat_is_strictly_after_the_interval() -> None:
    entry = Entry(frozenset({"a"}), frozenset(), 10.0)
    assert dedup_reason(entry, {"a"}, set(), False, 4.0, 14.0) is None  # Before(now - repeat)
    assert dedup_reason(entry, {"a"}, set(), False, 4.0, 14.001) == "repeat interval elapsed"


def note(firing: str) -> Notification:
    return Notification("r", 0, "g", "t", "b", "text", "info", frozenset({firing}), frozenset())


def test_the_log_keeps_the_send_time_and_the_newest_decision(tmp_path) -> None:
    db = Database(tmp_path)
    outbox, log = Outbox(db), NotificationLog(db)
    outbox.enqueue([note("old")], 10.0, 60.0)
    old = outbox.due(10.0, 1, set())[0]
    assert log.last("r", 0, "g").at == 10.0  # pending: its decision time
    outbox.enqueue([note("new")], 12.0, 60.0)  # supersedes it while it is on its way
    new = outbox.due(12.0, 1, set())[0]
    outbox.delivered([(new, 12.5)])
    assert log.last("r", 0, "g") == Entry(frozenset({"new"}), frozenset(), 12.5)  # sent at
    outbox.delivered([(old, 13.0)])  # the older one lands later: it does not win
    assert log.last("r", 0, "g") == Entry(frozenset({"new"}), frozenset(), 12.5)
    db.close()


def test_a_log_from_before_sent_at_is_migrated(tmp_path) -> None:
    import sqlite3

    conn = sqlite3.connect(tmp_path / "notifier.db")
    conn.execute("CREATE TABLE nflog (receiver TEXT NOT NULL, channel INTEGER NOT NULL, "
                 "group_key TEXT NOT NULL, outbox_id INTEGER NOT NULL, firing TEXT NOT NULL, "
                 "resolved TEXT NOT NULL, at REAL NOT NULL, "
                 "PRIMARY KEY (receiver, channel, group_key))")
    conn.execute("""INSERT INTO nflog VALUES ('r', 0, 'g', 1, '["a"]', '[]', 5.0)""")
    conn.commit()
    conn.close()
    db = Database(tmp_path)
    assert NotificationLog(db).last("r", 0, "g") == Entry(frozenset({"a"}), frozenset(), 5.0)
    db.close()
