"""What one group flush sends: Alertmanager's notification pipeline as a pure function.

Inhibited and silenced alerts are dropped; for each channel of the receiver, the dedup stage
compares against the last notification (pending or confirmed) and the template renders the
message. A channel without send_resolved skips resolved alerts and logs an all-resolved group
without sending, as Alertmanager does, so its next firing counts as new. A route's
`mute_time_intervals` / `active_time_intervals` (notifier/timeintervals.py) mute a flush whole:
nothing is sent or logged, as after Alertmanager's time stages return no alerts. An Alertmanager
integration's channel renders its own body (notifier/amnotify.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from inferwatch.notifier.alerts import StoredAlert
from inferwatch.notifier.channels import Channel
from inferwatch.notifier.grouping import AggrGroup
from inferwatch.notifier.inhibit import Inhibition
from inferwatch.notifier.nflog import Entry, dedup_reason
from inferwatch.notifier.outbox import Notification
from inferwatch.notifier.silences import Silences
from inferwatch.notifier.templates import MessageData, render

LastEntry = Callable[[str, int, str], Entry | None]
SEVERE = {"critical", "page", "error"}


@dataclass
class Plan:
    notes: list[Notification] = field(default_factory=list)
    quiet: list[Notification] = field(default_factory=list)  # logged in the nflog, not sent
    reasons: list[str] = field(default_factory=list)
    silenced: int = 0
    inhibited: int = 0


def plan_flush(group: AggrGroup, channels: Sequence[Channel], inhibition: Inhibition,
               silences: Silences, last: LastEntry, now: float,
               external_url: str = "") -> Plan:
    plan = Plan()
    times = next((c.times for c in channels if c.times), None)
    if times is not None and times.muted(group.route.id, now):
        return plan
    kept: list[StoredAlert] = []
    for alert in sorted(group.alerts.values(), key=lambda a: (a.starts_at, a.fingerprint)):
        if inhibition.inhibited_by(alert.labels) is not None:
            plan.inhibited += 1
        elif silences.muted_by(alert.labels, now, alert.fingerprint):
            plan.silenced += 1
        else:
            kept.append(alert)
    if not kept:
        return plan
    firing = {a.fingerprint for a in kept if not a.resolved(now)}
    resolved = {a.fingerprint for a in kept if a.resolved(now)}
    for channel in channels:
        entry = last(channel.receiver, channel.index, group.key)
        reason = dedup_reason(entry, firing, resolved, channel.send_resolved,
                              group.route.repeat_interval, now)
        if reason is None:
            continue
        shown = kept if channel.send_resolved else [a for a in kept if a.fingerprint in firing]
        note = _note(group, channel, shown, firing, resolved, now, external_url)
        (plan.notes if shown else plan.quiet).append(note)
        plan.reasons.append(reason)
    return plan


def _note(group: AggrGroup, channel: Channel, shown: list[StoredAlert], firing: set[str],
          resolved: set[str], now: float, external_url: str) -> Notification:
    title, body = ("", "")
    if shown:
        message = MessageData(channel.receiver, group.key, group.labels, shown, external_url)
        if channel.native is not None:
            if channel.times is not None:
                message = replace(message, group_key=channel.times.group_key(group.route.id,
                                                                             group.key))
            title, body = channel.native.render(message, now)
        else:
            title, body = render(channel.template, message, now)
    return Notification(channel.receiver, channel.index, group.key, title, body,
                        channel.template.format, _notify_type(shown, now),
                        frozenset(firing), frozenset(resolved))


def _notify_type(alerts: list[StoredAlert], now: float) -> str:
    firing = [a for a in alerts if not a.resolved(now)]
    if not firing:
        return "success"
    severe = any(a.labels.get("severity", "").lower() in SEVERE for a in firing)
    return "failure" if severe else "warning"
