"""Message templates: Python format strings over a fixed set of fields, with defaults per channel.

Group fields: {subject} {status} {STATUS} {receiver} {group_key} {alertname} {num_firing}
{num_resolved} {group_labels} {common_labels} {common_annotations} {external_url} {alerts}
{firing} {resolved} (the last three: alerts rendered by the `alert` template, under a heading).
Alert fields: {status} {alertname} {labels} {annotations} {labels_text} {summary} {description}
{context} {runbook_url} {dashboard_url} {generator_url} {silence_url} {links} {starts_at} {ends_at}
{fingerprint}. {dashboard_url} has the rule packs' relative range pinned around the alert and
{silence_url} opens the notifier page's silence form prefilled with the alert's labels (under
`global.external_url`; empty without one); {links} lists runbook, dashboard, source and silence
(email's as `Name: <url>` lines, so that the text part apprise makes from the HTML keeps them);
{context} is the `context` annotation: the figures the rule packs query at fire time (queue,
running requests, TTFT p95, preemptions/s), shown by the built-in formats after the description.
Label maps allow `{labels[severity]}` (empty when absent); attribute access is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from inferwatch.notifier import alertlinks
from inferwatch.notifier.alerts import StoredAlert
from inferwatch.notifier.formatting import LabelMap, TemplateError, fill, parse

__all__ = ["DEFAULTS", "MessageData", "LabelMap", "Template", "TemplateError", "check", "render"]


@dataclass(frozen=True)
class Template:
    title: str
    body: str
    alert: str
    format: str  # apprise body format: text, markdown or html
    heading_firing: str = "Firing:\n"
    heading_resolved: str = "Resolved:\n"
    link: tuple[str, str] | None = None  # (pattern, joiner) of {links}; None: the format's


DEFAULTS = {
    "slack": Template(
        title="{subject}",
        body="{firing}{resolved}",
        alert="• **{alertname}** {summary}\n{description}{context}{labels_text}{links}\n",
        format="markdown",  # apprise turns it into Slack's mrkdwn
        heading_firing="**Firing**\n", heading_resolved="**Resolved**\n"),
    "email": Template(
        title="{subject}",
        body="{firing}{resolved}\nSent by inferwatch notifier for receiver {receiver}.\n",
        alert="- **{alertname}** {summary}  \n{description}{context}{labels_text}{links}\n",
        format="markdown",
        heading_firing="## Firing\n\n", heading_resolved="## Resolved\n\n",
        # the URL as an autolink: apprise makes the text part from the HTML and keeps no href
        link=("{name}: <{url}>", "  \n")),
    "default": Template(
        title="{subject}",
        body="{firing}{resolved}",
        alert="- {alertname} [{labels_text}] {summary}{description}{context}{links}\n",
        format="text"),
}
_STYLE = {  # (prefix, suffix) for optional parts, by template format
    "markdown": {"labels_text": ("`", "`\n"), "description": ("", "  \n"),
                 "link": ("[{name}]({url})", " · ")},
    "text": {"labels_text": ("", ""), "description": (" — ", ""),
             "link": ("{name}: {url}", ", ")},
}


def _iso(ts: float | None) -> str:
    return "" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


@dataclass(frozen=True)
class AlertView:
    """One alert as the `alert` template sees it: fields computed only when named."""

    alert: StoredAlert
    now: float
    style: dict[str, tuple[str, str]]
    external_url: str = ""

    def field(self, name: str) -> Any:
        """The value of a field; KeyError for an unknown one."""
        return _ALERT_FIELDS[name](self)

    def labels_text(self) -> str:
        shown = LabelMap({k: v for k, v in self.alert.labels.items() if k != "alertname"})
        return _wrap(format(shown).replace(", ", " "), self.style["labels_text"])

    def dashboard_url(self) -> str:
        url, a = self.alert.annotations.get("dashboard_url", ""), self.alert
        return alertlinks.dashboard_url(url, a.starts_at, a.ends_at if a.resolved(self.now)
                                        else None) if url else ""

    def silence_url(self) -> str:
        return alertlinks.silence_url(self.external_url, self.alert.labels)

    def links(self) -> str:
        a, ann = self.alert, self.alert.annotations
        urls = [("Runbook", ann.get("runbook_url", "")), ("Dashboard", self.dashboard_url()),
                ("Source", a.generator_url), ("Silence", self.silence_url())]
        pattern, joiner = self.style["link"]
        links = joiner.join(pattern.format(name=n, url=u) for n, u in urls if u)
        return ("\n" + links) if links else ""


_ALERT_FIELDS: dict[str, Callable[[AlertView], Any]] = {
    "status": lambda v: v.alert.status(v.now),
    "alertname": lambda v: v.alert.labels.get("alertname", ""),
    "labels": lambda v: LabelMap(v.alert.labels),
    "annotations": lambda v: LabelMap(v.alert.annotations),
    "labels_text": AlertView.labels_text,
    "summary": lambda v: v.alert.annotations.get("summary", ""),
    "description": lambda v: _wrap(v.alert.annotations.get("description", ""),
                                   v.style["description"]),
    "context": lambda v: _wrap(v.alert.annotations.get("context", ""), v.style["description"]),
    "runbook_url": lambda v: v.alert.annotations.get("runbook_url", ""),
    "dashboard_url": AlertView.dashboard_url,
    "silence_url": AlertView.silence_url,
    "generator_url": lambda v: v.alert.generator_url,
    "links": AlertView.links,
    "starts_at": lambda v: _iso(v.alert.starts_at),
    "ends_at": lambda v: _iso(v.alert.ends_at if v.alert.resolved(v.now) else None),
    "fingerprint": lambda v: v.alert.fingerprint,
}


def _wrap(text: str, affixes: tuple[str, str]) -> str:
    return f"{affixes[0]}{text}{affixes[1]}" if text else ""


@dataclass(frozen=True)
class MessageData:
    """What a notification is about: one group's alerts after silencing and inhibition."""

    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    alerts: Sequence[StoredAlert]
    external_url: str = ""


class GroupView:
    """A group as the title and body templates see it: fields computed only when named."""

    def __init__(self, tpl: Template, group: MessageData, now: float):
        self.tpl, self.group, self.now = tpl, group, now
        self.firing = [a for a in group.alerts if not a.resolved(now)]
        self.resolved = [a for a in group.alerts if a.resolved(now)]
        self.status = "firing" if self.firing else "resolved"

    def field(self, name: str) -> Any:
        """The value of a field; KeyError for an unknown one."""
        return _GROUP_FIELDS[name](self)

    @cached_property
    def common(self) -> dict[str, str]:
        return _common([a.labels for a in self.group.alerts])

    @cached_property
    def shown_firing(self) -> str:
        return _render_alerts(self.tpl, self.firing, self.now, self.group.external_url)

    @cached_property
    def shown_resolved(self) -> str:
        return _render_alerts(self.tpl, self.resolved, self.now, self.group.external_url)

    def subject(self) -> str:
        labels = self.group.group_labels
        extra = [v for k, v in sorted(self.common.items()) if k not in labels]
        count = f":{len(self.firing)}" if self.firing else ""
        return (f"[{self.status.upper()}{count}] "
                + " ".join(v for _, v in sorted(labels.items()))
                + (f" ({' '.join(extra)})" if extra else ""))

    def firing_text(self) -> str:
        return self.tpl.heading_firing + self.shown_firing if self.firing else ""

    def resolved_text(self) -> str:
        if not self.resolved:
            return ""
        return ("\n" if self.firing else "") + self.tpl.heading_resolved + self.shown_resolved


_GROUP_FIELDS: dict[str, Callable[[GroupView], Any]] = {
    "subject": GroupView.subject,
    "status": lambda v: v.status,
    "STATUS": lambda v: v.status.upper(),
    "receiver": lambda v: v.group.receiver,
    "group_key": lambda v: v.group.group_key,
    "alertname": lambda v: v.common.get("alertname", ""),
    "num_firing": lambda v: len(v.firing),
    "num_resolved": lambda v: len(v.resolved),
    "group_labels": lambda v: LabelMap(v.group.group_labels),
    "common_labels": lambda v: LabelMap(v.common),
    "common_annotations": lambda v: LabelMap(_common([a.annotations for a in v.group.alerts])),
    "external_url": lambda v: v.group.external_url,
    "alerts": lambda v: v.shown_firing + v.shown_resolved,
    "firing": GroupView.firing_text,
    "resolved": GroupView.resolved_text,
}


def _render_alerts(tpl: Template, alerts: Sequence[StoredAlert], now: float,
                   external_url: str = "") -> str:
    parts, style = parse(tpl.alert), _STYLE["text" if tpl.format == "text" else "markdown"]
    if tpl.link is not None:
        style = {**style, "link": tpl.link}
    return "".join(fill(parts, AlertView(a, now, style, external_url).field) for a in alerts)


def render(tpl: Template, group: MessageData, now: float) -> tuple[str, str]:
    """(title, body) for a group; TemplateError for a bad template."""
    view = GroupView(tpl, group, now)
    return fill(parse(tpl.title), view.field).strip(), fill(parse(tpl.body), view.field)


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def check(tpl: Template) -> None:
    """Render against a sample group, so a bad template fails at load, not at 3 a.m."""
    sample = StoredAlert("0" * 16, {"alertname": "Sample", "severity": "page"},
                         {"summary": "s", "runbook_url": "http://r"}, 0.0, None, "http://g", 0.0)
    render(tpl, MessageData("r", "{}:{}", {"alertname": "Sample"}, [sample]), 1.0)
    _render_alerts(tpl, [sample], 1.0)  # even when the body leaves the alerts out
