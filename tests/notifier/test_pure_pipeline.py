"""Grouping timers, dedup reasons, inhibition and silences as pure functions of their inputs."""

from __future__ import annotations

import pytest

from inferwatch.notifier.alerts import Alert, StoredAlert, fingerprint, merge, to_stored
from inferwatch.notifier.config import InhibitRule
from inferwatch.notifier.grouping import Groups
from inferwatch.notifier.inhibit import Inhibition, Rule
from inferwatch.notifier.matchers import parse_matchers
from inferwatch.notifier.nflog import Entry, dedup_reason
from inferwatch.notifier.routing import Route
from inferwatch.notifier.silences import Silence

ROUTE = Route(id="{}", receiver="r", group_by=("alertname",), group_all=False, group_wait=30,
              group_interval=300, repeat_interval=3600, matchers=(), continue_=False, routes=())


def stored(name: str, start: float = 0.0, end: float | None = None, **labels: str
           ) -> StoredAlert:
    lbl = {"alertname": name, **labels}
    return StoredAlert(fingerprint(lbl), lbl, {}, start, end, "", start)


def test_fingerprint_is_alertmanagers() -> None:
    # model.LabelSet{"alertname": "X"}.Fingerprint() in prometheus/common
    assert fingerprint({}) == "cbf29ce484222325"
    assert fingerprint({"b": "2", "a": "1"}) == fingerprint({"a": "1", "b": "2"})
    assert fingerprint({"a": "1b"}) != fingerprint({"a1": "b"})


def test_group_wait_then_group_interval() -> None:
    groups = Groups()
    g = groups.insert(ROUTE, stored("A", start=100, x="1"), now=100)
    assert groups.due(129.9) == [] and groups.next_flush() == 130
    groups.insert(ROUTE, stored("A", start=110, x="2"), now=110)  # same group, same timer
    assert len(groups) == 1 and len(g.alerts) == 2 and groups.due(130) == [g]
    groups.flushed(g, 130, list(g.alerts.values()))
    assert groups.next_flush() == 430
    groups.insert(ROUTE, stored("A", start=10, x="3"), now=200)  # old alert, already flushed
    assert groups.next_flush() == 430


def test_old_alert_flushes_a_new_group_at_once() -> None:
    groups = Groups()
    groups.insert(ROUTE, stored("A", start=0), now=100)  # started 100s ago > group_wait
    assert groups.next_flush() == 100


def test_flushed_resolved_alerts_leave_and_empty_groups_vanish() -> None:
    groups = Groups()
    firing, done = stored("A", x="1"), stored("A", end=50, x="2")
    g = groups.insert(ROUTE, firing, 0)
    groups.insert(ROUTE, done, 0)
    updated = stored("A", start=0, end=60, x="2")
    sent = list(g.alerts.values())
    g.alerts[updated.fingerprint] = updated  # changed after the snapshot: stays
    groups.flushed(g, 100, sent)
    assert set(g.alerts) == {firing.fingerprint, updated.fingerprint}
    groups.flushed(g, 100, [updated])
    assert set(g.alerts) == {firing.fingerprint}
    g.alerts[firing.fingerprint] = stored("A", end=90, x="1")
    groups.flushed(g, 100, list(g.alerts.values()))
    assert len(groups) == 0


E = Entry
F = frozenset


@pytest.mark.parametrize(("entry", "firing", "resolved", "send_resolved", "now", "reason"), [
    (None, {"a"}, set(), False, 0, "first notification"),
    (None, set(), {"a"}, True, 0, None),  # resolved before anything was sent: silence
    (E(F({"a"}), F(), 0), {"a", "b"}, set(), False, 1, "new alerts added"),
    (E(F(), F({"a"}), 0), {"a"}, set(), False, 1, "first notification"),
    (E(F({"a"}), F(), 0), set(), {"a"}, False, 1, "all alerts resolved"),
    (E(F(), F({"a"}), 0), set(), {"a"}, True, 1, None),
    (E(F({"a", "b"}), F(), 0), {"a"}, {"b"}, True, 1, "some alerts resolved"),
    (E(F({"a", "b"}), F(), 0), {"a"}, {"b"}, False, 1, None),
    (E(F({"a"}), F(), 0), {"a"}, set(), False, 3599, None),
    (E(F({"a"}), F(), 0), {"a"}, set(), False, 3600, None),  # strictly after, as Alertmanager
    (E(F({"a"}), F(), 0), {"a"}, set(), False, 3600.001, "repeat interval elapsed"),
])
def test_dedup_reasons(entry, firing, resolved, send_resolved, now, reason) -> None:
    assert dedup_reason(entry, firing, resolved, send_resolved, 3600, now) == reason


def rule(src: str, tgt: str, *equal: str) -> Rule:
    return Rule.from_config(InhibitRule(source_matchers=[src], target_matchers=[tgt],
                                        equal=list(equal)))


def test_inhibition_needs_a_firing_source_with_equal_labels() -> None:
    r = rule('severity="page"', 'severity="ticket"', "slo")
    page = stored("Burn", severity="page", slo="ttft")
    ticket = {"alertname": "Burn", "severity": "ticket", "slo": "ttft"}
    assert Inhibition([r], [page], 1).inhibited_by(ticket) == page.fingerprint
    assert Inhibition([r], [page], 1).inhibited_by({**ticket, "slo": "itl"}) is None
    resolved_page = stored("Burn", end=0.5, severity="page", slo="ttft")
    assert Inhibition([r], [resolved_page], 1).inhibited_by(ticket) is None


def test_missing_equal_labels_count_as_equal() -> None:
    r = rule('severity="page"', 'severity="ticket"', "slo")
    assert Inhibition([r], [stored("A", severity="page")], 1).inhibited_by(
        {"alertname": "B", "severity": "ticket"}) is not None


def test_an_alert_matching_both_sides_cannot_inhibit_its_like() -> None:
    r = rule('alertname="X"', 'alertname="X"')
    one = stored("X", pod="1")
    assert Inhibition([r], [one], 1).inhibited_by({"alertname": "X", "pod": "2"}) is None


def test_silence_states_and_matching() -> None:
    s = Silence("id", tuple(parse_matchers('alertname="A", pod=~"p-[0-9]+"')), 10, 20, "me",
                "c", 0)
    assert [s.state(t) for t in (5, 10, 19.9, 20)] == ["pending", "active", "active", "expired"]
    assert s.mutes({"alertname": "A", "pod": "p-12"}, 15)
    assert not s.mutes({"alertname": "A", "pod": "p-12x"}, 15)
    assert not s.mutes({"alertname": "A", "pod": "p-12"}, 25)


def test_api_alert_defaults_and_merge() -> None:
    a = to_stored(Alert({"alertname": "A"}), now=100, resolve_timeout=300)
    assert (a.starts_at, a.ends_at, a.timeout) == (100, 400, True)
    again = to_stored(Alert({"alertname": "A"}, starts_at=150), now=200, resolve_timeout=300)
    assert merge(a, again).starts_at == 100  # the earliest start wins
    done = to_stored(Alert({"alertname": "A"}, ends_at=250), now=260, resolve_timeout=300)
    assert merge(again, done).resolved(260)
    webhook = to_stored(Alert({"alertname": "A"}), now=100, resolve_timeout=None)
    assert webhook.ends_at is None and not webhook.resolved(10**10)
