"""The pure state machine: Prometheus's pending/firing/resolved, `for`, `keep_firing_for`,
resend timing, and the no-data and error policies. Time is a number passed in."""

from __future__ import annotations

import math

import pytest

from inferwatch.alert_rules.compile import CompiledAlert
from inferwatch.alert_rules.evaluate import (
    ERROR_ALERT,
    FIRING,
    INACTIVE,
    NO_DATA_ALERT,
    PENDING,
    Outcome,
    RuleState,
    due,
    step,
)

X = {"__name__": "m", "target": "x"}
Y = {"__name__": "m", "target": "y"}


def rule(for_: float = 0, keep: float = 0, no_data: str = "ok",
         on_error: str = "error", severity: str = "warning") -> RuleState:
    return RuleState(CompiledAlert(
        rule_id="g/A", name="A", expr=None, raw="m > 1", data=None, for_=for_,
        keep_firing_for=keep,
        labels=(("severity", severity), ("target", "override-{{ $labels.target }}")),
        annotations=(("summary", "{{ $labels.target }} at {{ $value }}"),), no_data=no_data,
        on_error=on_error, group="g"))


def hit(*samples: tuple[dict, float]) -> Outcome:
    return Outcome(samples=tuple(samples))


def states(state: RuleState) -> dict[str, str]:
    return {a.labels["alertname"] + ":" + a.sample_labels.get("target", ""): a.state
            for a in state.active.values()}


def run(state: RuleState, outcomes: list[Outcome], interval: float = 30) -> list[dict[str, str]]:
    seen = []
    for i, outcome in enumerate(outcomes):
        step(state, outcome, i * interval)
        seen.append(states(state))
    return seen


def test_labels_and_annotations() -> None:
    state = rule()
    step(state, hit((X, 2.5)), 0)
    (alert,) = state.active.values()
    assert alert.labels == {"alertname": "A", "severity": "warning", "target": "override-x"}
    assert alert.annotations == {"summary": "x at 2.5"}
    assert (alert.state, alert.fired_at, alert.active_at) == (FIRING, 0, 0)


def test_for_holds_pending_and_a_gap_restarts_it() -> None:
    state = rule(for_=60)
    seen = run(state, [hit((X, 2)), hit((X, 2)), hit(), hit((X, 2)), hit((X, 2)), hit((X, 2))])
    assert seen == [{"A:x": PENDING}, {"A:x": PENDING}, {}, {"A:x": PENDING}, {"A:x": PENDING},
                    {"A:x": FIRING}]
    (alert,) = state.active.values()
    assert (alert.active_at, alert.fired_at) == (90, 150)


def test_keep_firing_for_bridges_a_gap_then_resolves() -> None:
    state = rule(keep=60)
    seen = run(state, [hit((X, 2)), hit(), hit(), hit((X, 2)), hit(), hit(), hit()])
    assert [s["A:x"] for s in seen] == [FIRING, FIRING, FIRING, FIRING, FIRING, FIRING, INACTIVE]
    (alert,) = state.active.values()
    assert (alert.resolved_at, alert.fired_at) == (180, 0)


def test_resolved_alert_is_kept_fifteen_minutes_and_a_return_starts_afresh() -> None:
    state = rule()
    step(state, hit((X, 2)), 0)
    step(state, hit(), 30)
    step(state, hit(), 30 + 900)
    assert states(state) == {"A:x": INACTIVE}
    step(state, hit(), 31 + 900)
    assert states(state) == {}
    step(state, hit((X, 2)), 1000)
    step(state, hit(), 1030)
    step(state, hit((X, 3)), 1060)
    (alert,) = state.active.values()
    assert (alert.state, alert.active_at, alert.value) == (FIRING, 1060, 3)


def test_duplicate_label_sets_are_an_evaluation_error() -> None:
    state = rule()
    step(state, hit(({"__name__": "m1", "target": "x"}, 2), ({"__name__": "m2", "target": "x"}, 2)),
         0)
    assert state.health == "error" and "same labelset" in state.last_error
    assert states(state) == {f"{ERROR_ALERT}:": FIRING}


@pytest.mark.parametrize(("policy", "kind", "expected"), [
    ("ok", "nodata", {"A:x": INACTIVE}),
    ("keep_last", "nodata", {"A:x": FIRING, "A:y": PENDING}),
    ("alerting", "nodata", {"A:x": FIRING, "A:y": FIRING}),
    ("nodata", "nodata", {"A:x": FIRING, "A:y": PENDING, f"{NO_DATA_ALERT}:": PENDING}),
    ("ok", "error", {"A:x": INACTIVE}),
    ("keep_last", "error", {"A:x": FIRING, "A:y": PENDING}),
    ("alerting", "error", {"A:x": FIRING, "A:y": FIRING}),
    ("error", "error", {"A:x": FIRING, "A:y": PENDING, f"{ERROR_ALERT}:": PENDING}),
])
def test_no_data_and_error_policies(policy: str, kind: str, expected: dict) -> None:
    state = rule(for_=60, **({"no_data": policy} if kind == "nodata" else {"on_error": policy}))
    trouble = Outcome(has_data=False) if kind == "nodata" else Outcome(error="timeout")
    run(state, [hit((X, 2)), hit((X, 2)), hit((X, 2), (Y, 2))])
    step(state, trouble, 90)
    step(state, trouble, 120)
    assert states(state) == expected
    assert state.health == kind


def test_synthetic_alert_fires_after_for_and_resolves_when_data_returns() -> None:
    state = rule(for_=60, no_data="nodata")
    seen = run(state, [Outcome(has_data=False)] * 3 + [hit()])
    assert [s.get(f"{NO_DATA_ALERT}:") for s in seen] == [PENDING, PENDING, FIRING, INACTIVE]
    synthetic = next(iter(state.active.values()))
    assert synthetic.labels == {"alertname": NO_DATA_ALERT, "rule": "A", "group": "g",
                                "severity": "warning"}
    assert synthetic.annotations["summary"] == "rule A (g/A) returned no data"


def test_a_failed_query_alerts_under_its_own_name_never_with_the_rule_labels() -> None:
    state = rule(severity="critical")  # e.g. GPULost: an outage must not page as one
    step(state, Outcome(error="query failed: ClientConnectorError: refused"), 0)
    (synthetic,) = state.active.values()
    assert synthetic.labels == {"alertname": ERROR_ALERT, "rule": "A", "group": "g",
                                "severity": "warning"}
    assert synthetic.annotations["error"] == "query failed: ClientConnectorError: refused"
    assert "refused" in synthetic.annotations["description"]
    assert state.health == "error"
    step(state, hit(), 30)  # the query works again: the error alert resolves
    assert [a.state for a in state.active.values()] == [INACTIVE]


def test_alerting_policy_with_no_alerts_raises_one_with_the_rule_labels() -> None:
    state = rule(no_data="alerting")
    step(state, Outcome(has_data=False), 0)
    (alert,) = state.active.values()
    assert alert.state == FIRING and math.isnan(alert.value)
    assert alert.labels == {"alertname": "A", "severity": "warning", "target": "override-"}


def test_resend_timing_follows_prometheus() -> None:
    state = rule(for_=30)
    sent = []
    for ts, outcome in [(0, hit((X, 2))), (30, hit((X, 2))), (60, hit((X, 2))),
                        (90, hit((X, 2))), (120, hit((X, 2))), (150, hit()), (180, hit()),
                        (210, hit()), (240, hit())]:
        step(state, outcome, ts)
        sent.append([(a.state, a.valid_until) for a in due(state, ts, 60, 30)])
    assert sent == [[], [(FIRING, 270)], [], [], [(FIRING, 360)], [(INACTIVE, 390)], [], [],
                    [(INACTIVE, 480)]]
