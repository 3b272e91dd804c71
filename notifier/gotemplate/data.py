"""The data Alertmanager 0.25 passes to notification templates (template.Data and its parts),
and `notification_data`, which builds it from what the notifier has (a MessageData).

As Alertmanager's template.Data: `.Receiver` is regexp.QuoteMeta of the receiver's name, a
firing alert's `.EndsAt` is Go's zero time (the dispatcher clears it), alerts are in the order
of Alertmanager's AlertSlice (job, then instance, then the label sets), and `.CommonLabels` /
`.CommonAnnotations` hold what every alert shares.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from inferwatch.notifier.gotemplate.gotime import ZERO, GoTime
from inferwatch.notifier.gotemplate.values import Sig, StringList
from inferwatch.notifier.labelorder import alert_key

if TYPE_CHECKING:
    from inferwatch.notifier.alerts import StoredAlert
    from inferwatch.notifier.templates import MessageData


@dataclass(frozen=True)
class Pair:
    Name: str
    Value: str
    go_type = "template.Pair"
    go_fields = ("Name", "Value")


class Pairs(list):
    go_type = "template.Pairs"
    go_methods = {"Names": Sig(), "Values": Sig()}

    def Names(self) -> StringList:
        return StringList(p.Name for p in self)

    def Values(self) -> StringList:
        return StringList(p.Value for p in self)


class KV(dict):
    """map[string]string with Alertmanager's methods; a missing key reads as ""."""

    go_type = "template.KV"
    go_zero = ""
    go_methods = {"SortedPairs": Sig(), "Names": Sig(), "Values": Sig(),
                  "Remove": Sig(("[]string",))}

    def SortedPairs(self) -> Pairs:
        keys = sorted(k for k in self if k != "alertname")
        if "alertname" in self:
            keys.insert(0, "alertname")
        return Pairs(Pair(k, self[k]) for k in keys)

    def Remove(self, keys: Iterable[str] | None) -> KV:
        drop = set(keys or ())
        return KV({k: v for k, v in self.items() if k not in drop})

    def Names(self) -> StringList:
        return self.SortedPairs().Names()

    def Values(self) -> StringList:
        return self.SortedPairs().Values()


@dataclass(frozen=True, eq=False)
class Alert:
    Status: str
    Labels: KV
    Annotations: KV
    StartsAt: GoTime
    EndsAt: GoTime
    GeneratorURL: str
    Fingerprint: str
    go_type = "template.Alert"
    go_fields = ("Status", "Labels", "Annotations", "StartsAt", "EndsAt", "GeneratorURL",
                 "Fingerprint")


class AlertList(list):
    go_type = "[]template.Alert"


class Alerts(list):
    go_type = "template.Alerts"
    go_methods = {"Firing": Sig(), "Resolved": Sig()}

    def Firing(self) -> AlertList:
        return AlertList(a for a in self if a.Status == "firing")

    def Resolved(self) -> AlertList:
        return AlertList(a for a in self if a.Status == "resolved")


@dataclass(eq=False)
class Data:
    Receiver: str
    Status: str
    Alerts: Alerts = field(default_factory=Alerts)
    GroupLabels: KV = field(default_factory=KV)
    CommonLabels: KV = field(default_factory=KV)
    CommonAnnotations: KV = field(default_factory=KV)
    ExternalURL: str = ""
    go_type = "*template.Data"
    go_fields = ("Receiver", "Status", "Alerts", "GroupLabels", "CommonLabels",
                 "CommonAnnotations", "ExternalURL")


_META = re.compile(r"([\\.+*?()|\[\]{}^$])")


def quote_meta(s: str) -> str:
    """Go's regexp.QuoteMeta."""
    return _META.sub(r"\\\1", s)


def am_order(alerts: Sequence[StoredAlert]) -> list[StoredAlert]:
    """Alerts in the order Alertmanager's dispatcher sorts each notification's."""
    return sorted(alerts, key=lambda a: alert_key(a.fingerprint, a.labels))


def _common(maps: Sequence[Mapping[str, str]]) -> KV:
    if not maps:
        return KV()
    first = maps[0]
    return KV({k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])})


def template_alert(a: StoredAlert, now: float) -> Alert:
    resolved = a.ends_at is not None and a.ends_at <= now
    return Alert(
        Status="resolved" if resolved else "firing",
        Labels=KV(a.labels), Annotations=KV(a.annotations),
        StartsAt=GoTime.from_unix(a.starts_at),
        EndsAt=GoTime.from_unix(a.ends_at) if resolved else ZERO,
        GeneratorURL=a.generator_url, Fingerprint=a.fingerprint)


def notification_data(message: MessageData, now: float) -> Data:
    """template.Data for one notification of a group, as Alertmanager's Template.Data builds it."""
    ordered = am_order(message.alerts)
    alerts = Alerts(template_alert(a, now) for a in ordered)
    return Data(
        Receiver=quote_meta(message.receiver),
        Status="firing" if any(a.Status == "firing" for a in alerts) else "resolved",
        Alerts=alerts,
        GroupLabels=KV(message.group_labels),
        CommonLabels=_common([a.labels for a in ordered]),
        CommonAnnotations=_common([a.annotations for a in ordered]),
        ExternalURL=message.external_url)


def sample_data() -> Data:
    """A small notification, to check a template at load (render it once, fail early)."""
    start = GoTime(1_700_000_000)
    alert = Alert("firing", KV(alertname="Sample", severity="page"),
                  KV(summary="s", description="d"), start, ZERO, "http://g", "0" * 16)
    labels: dict[str, Any] = {"alertname": "Sample"}
    return Data("r", "firing", Alerts([alert]), KV(labels), KV(alert.Labels),
                KV(alert.Annotations), "http://am")
