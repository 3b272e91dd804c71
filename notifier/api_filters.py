"""GET /api/v2/alerts, /api/v2/alerts/groups and /api/v2/silences as Alertmanager 0.25 answers.

Query parameters: `filter` (repeated matchers, RE2 for `=~`), `receiver` (an anchored RE2
pattern over the receivers an alert routes to), and the booleans `active`, `silenced`,
`inhibited` and `unprocessed` (all true by default; a false one leaves out alerts in that
state). Resolved alerts are never listed. Alerts come sorted by fingerprint; groups by their
labels (Alertmanager's LabelSet.Before), then receiver, their alerts by `job`, `instance`,
then labels; silences active first (by end), then pending (by start), then expired (latest
end first).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from inferwatch.core.regex import Anchored, RegexError, anchored
from inferwatch.notifier.alerts import StoredAlert
from inferwatch.notifier.apiv2 import RequestError
from inferwatch.notifier.inhibit import Inhibition
from inferwatch.notifier.labelorder import alert_key, labelset_key
from inferwatch.notifier.matchers import Matcher, MatcherError, matches_all, parse_matchers
from inferwatch.notifier.payloads import rfc3339
from inferwatch.notifier.service import Notifier
from inferwatch.notifier.silences import Silence

if TYPE_CHECKING:
    from inferwatch.notifier.grouping import AggrGroup

log = logging.getLogger(__name__)
_FLAGS = ("active", "silenced", "inhibited", "unprocessed")


@dataclass(frozen=True)
class AlertQuery:
    matchers: tuple[Matcher, ...]
    receiver: Anchored | None
    active: bool = True
    silenced: bool = True
    inhibited: bool = True
    unprocessed: bool = True


def _bool(query: Mapping[str, str], name: str) -> bool:
    """Alertmanager 0.25 reads anything but a false value (`false`, `0`, `f`...) as true."""
    return query.get(name, "true").lower() not in ("false", "0", "f", "n", "no", "off")


def filter_matchers(filters: list[str]) -> tuple[Matcher, ...]:
    """The `filter` parameters as matchers; 400 (Alertmanager's "bad matcher format")."""
    try:
        return tuple(m for f in filters for m in parse_matchers(f))
    except MatcherError as err:
        raise RequestError(400, f"bad matcher format: {err}") from None


def alert_query(query: Any) -> AlertQuery:
    """The parameters of GET /api/v2/alerts and /alerts/groups (an aiohttp MultiDict)."""
    receiver = None
    if query.get("receiver"):
        try:
            receiver = anchored(query["receiver"])
        except RegexError as err:
            raise RequestError(400, f"failed to parse receiver param: {err}") from None
    flags = {name: _bool(query, name) for name in _FLAGS}
    return AlertQuery(filter_matchers(query.getall("filter", [])), receiver, **flags)


class View:
    """One instant of the notifier, as the alert listings see it."""

    def __init__(self, notifier: Notifier):
        self.n = notifier
        self.now = notifier.clock()
        self.firing = [a for a in notifier.active.values() if not a.resolved(self.now)]
        self.inhibition = Inhibition(notifier.rules, self.firing, self.now)
        self._status: dict[str, dict[str, Any]] = {}

    def status(self, alert: StoredAlert) -> dict[str, Any]:
        if alert.fingerprint not in self._status:
            self._status[alert.fingerprint] = self.n.status_of(alert, self.inhibition, self.now)
        return self._status[alert.fingerprint]

    def keep(self, alert: StoredAlert, q: AlertQuery) -> bool:
        """Alertmanager's alertFilter (the status is computed only when a state is left out)."""
        if alert.resolved(self.now):
            return False
        if not (q.active and q.unprocessed and q.silenced and q.inhibited):
            status = self.status(alert)
            if not q.active and status["state"] == "active":
                return False
            if not q.unprocessed and status["state"] == "unprocessed":
                return False
            if not q.silenced and status["silencedBy"]:
                return False
            if not q.inhibited and status["inhibitedBy"]:
                return False
        return matches_all(q.matchers, alert.labels)

    def alert_json(self, alert: StoredAlert, receivers: list[str]) -> dict[str, Any]:
        return {"labels": alert.labels, "annotations": alert.annotations,
                "startsAt": rfc3339(alert.starts_at), "endsAt": rfc3339(alert.ends_at),
                "updatedAt": rfc3339(alert.updated_at), "generatorURL": alert.generator_url,
                "fingerprint": alert.fingerprint,
                "receivers": [{"name": r} for r in receivers], "status": self.status(alert)}

    def alerts(self, q: AlertQuery) -> list[dict[str, Any]]:
        out = []
        for alert in sorted(self.firing, key=lambda a: a.fingerprint):
            receivers = [r.receiver for r in self.n.routes_for(alert.labels)]
            if q.receiver is not None and not any(q.receiver.matches(r) for r in receivers):
                continue
            if self.keep(alert, q):
                out.append(self.alert_json(alert, receivers))
        return out

    def matched(self, q: AlertQuery) -> list[tuple[AggrGroup, list[StoredAlert]]]:
        """The live aggregation groups with the alerts `q` keeps, as Dispatcher.Groups orders
        them (groups by labels, then receiver; alerts by _alert_order); empty ones left out."""
        found = []
        for group in self.n.groups:
            if q.receiver is not None and not q.receiver.matches(group.route.receiver):
                continue
            alerts = sorted((a for a in group.alerts.values() if self.keep(a, q)),
                            key=lambda a: alert_key(a.fingerprint, a.labels))
            if alerts:
                found.append((group, alerts))
        found.sort(key=lambda g: (labelset_key(g[0].labels), g[0].route.receiver))
        return found

    def groups(self, q: AlertQuery) -> list[dict[str, Any]]:
        """Alertmanager's Dispatcher.Groups over the live aggregation groups."""
        receivers: dict[str, list[str]] = {}
        for group in self.n.groups:
            for fp in group.alerts:
                receivers.setdefault(fp, []).append(group.route.receiver)
        return [{"labels": group.labels, "receiver": {"name": group.route.receiver},
                 "alerts": [self.alert_json(a, receivers[a.fingerprint]) for a in alerts]}
                for group, alerts in self.matched(q)]


def silence_order(silence: Silence, now: float) -> tuple:
    """Alertmanager's SortSilences: active by end, pending by start, expired latest first."""
    state = silence.state(now)
    if state == "active":
        return (0, silence.ends_at, silence.id)
    if state == "pending":
        return (1, silence.starts_at, silence.id)
    return (2, -silence.ends_at, silence.id)


def silence_pins(silence: Silence, wanted: tuple[Matcher, ...]) -> bool:
    """Alertmanager 0.25's silence filter, as measured against it: each wanted matcher must be
    one of the silence's own (same name, operator and value): `job=~"x.*"` lists a silence
    with `job=~"x.*"`, while `job="x.*"` and `job=~"x"` do not."""
    return all(w in silence.matchers for w in wanted)
