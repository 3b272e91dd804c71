"""Message templates: Python format strings over a fixed set of fields, with defaults per channel.

Group fields: {subject} {status} {STATUS} {receiver} {group_key} {alertname} {num_firing}
{num_resolved} {group_labels} {common_labels} {common_annotations} {external_url} {alerts}
{firing} {resolved} (the last three: alerts rendered by the `alert` template, under a heading).
Alert fields: {status} {alertname} {labels} {annotations} {labels_text} {summary} {description}
{runbook_url} {dashboard_url} {generator_url} {links} {starts_at} {ends_at} {fingerprint}.
Label maps allow `{labels[severity]}` (empty when absent); attribute access is refused.
"""

from __future__ import annotations

import _string  # the parser behind str.format, to resolve fields without attribute access
import string
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from notifier.alerts import StoredAlert


class TemplateError(ValueError):
    """A template that names an unknown field or uses attribute access."""


class LabelMap(dict):
    """A label map that reads as `a=b, c=d` and answers "" for a missing key."""

    def __missing__(self, key: str) -> str:
        return ""

    def __format__(self, spec: str) -> str:
        return format(", ".join(f"{k}={v}" for k, v in sorted(self.items())), spec)


class _Formatter(string.Formatter):
    def get_value(self, key: int | str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if isinstance(key, int) or key not in kwargs:
            raise TemplateError(f"unknown field {{{key}}}")
        return kwargs[key]

    def get_field(self, field_name: str, args: Sequence[Any],
                  kwargs: Mapping[str, Any]) -> tuple[Any, str]:
        first, rest = _string.formatter_field_name_split(field_name)
        obj = self.get_value(first, args, kwargs)
        for is_attr, key in rest:
            if is_attr or not isinstance(obj, LabelMap):
                raise TemplateError(f"{{{field_name}}}: only label[key] lookups are allowed")
            obj = obj[key]
        return obj, first


_FORMATTER = _Formatter()


@dataclass(frozen=True)
class Template:
    title: str
    body: str
    alert: str
    format: str  # apprise body format: text, markdown or html
    heading_firing: str = "Firing:\n"
    heading_resolved: str = "Resolved:\n"


DEFAULTS = {
    "slack": Template(
        title="{subject}",
        body="{firing}{resolved}",
        alert="• **{alertname}** {summary}\n{description}{labels_text}{links}\n",
        format="markdown",  # apprise turns it into Slack's mrkdwn
        heading_firing="**Firing**\n", heading_resolved="**Resolved**\n"),
    "email": Template(
        title="{subject}",
        body="{firing}{resolved}\nSent by inferwatch notifier for receiver {receiver}.\n",
        alert="- **{alertname}** {summary}  \n{description}{labels_text}{links}\n",
        format="markdown",
        heading_firing="## Firing\n\n", heading_resolved="## Resolved\n\n"),
    "default": Template(
        title="{subject}",
        body="{firing}{resolved}",
        alert="- {alertname} [{labels_text}] {summary}{description}{links}\n",
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


def alert_fields(a: StoredAlert, now: float, fmt: str) -> dict[str, Any]:
    style = _STYLE["text" if fmt == "text" else "markdown"]
    labels, ann = LabelMap(a.labels), LabelMap(a.annotations)
    urls = [("Runbook", ann["runbook_url"]), ("Dashboard", ann["dashboard_url"]),
            ("Source", a.generator_url)]
    pattern, joiner = style["link"]
    links = joiner.join(pattern.format(name=n, url=u) for n, u in urls if u)
    shown = LabelMap({k: v for k, v in a.labels.items() if k != "alertname"})
    return {
        "status": a.status(now), "alertname": labels["alertname"], "labels": labels,
        "annotations": ann, "summary": ann["summary"], "fingerprint": a.fingerprint,
        "description": _wrap(ann["description"], style["description"]),
        "labels_text": _wrap(format(shown).replace(", ", " "), style["labels_text"]),
        "runbook_url": ann["runbook_url"], "dashboard_url": ann["dashboard_url"],
        "generator_url": a.generator_url, "links": ("\n" + links) if links else "",
        "starts_at": _iso(a.starts_at), "ends_at": _iso(a.ends_at if a.resolved(now) else None),
    }


def _wrap(text: str, affixes: tuple[str, str]) -> str:
    return f"{affixes[0]}{text}{affixes[1]}" if text else ""


@dataclass(frozen=True)
class Group:
    """What a notification is about: one group's alerts after silencing and inhibition."""

    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    alerts: Sequence[StoredAlert]
    external_url: str = ""


def render(tpl: Template, group: Group, now: float) -> tuple[str, str]:
    """(title, body) for a group; TemplateError for a bad template."""
    firing = [a for a in group.alerts if not a.resolved(now)]
    resolved = [a for a in group.alerts if a.resolved(now)]
    fields = _group_fields(group, firing, resolved)
    part = {"firing": firing, "resolved": resolved}
    rendered = {k: "".join(_FORMATTER.vformat(tpl.alert, (), alert_fields(a, now, tpl.format))
                           for a in v) for k, v in part.items()}
    fields["alerts"] = rendered["firing"] + rendered["resolved"]
    fields["firing"] = tpl.heading_firing + rendered["firing"] if firing else ""
    fields["resolved"] = (("\n" if firing else "") + tpl.heading_resolved + rendered["resolved"]
                          if resolved else "")
    return (_FORMATTER.vformat(tpl.title, (), fields).strip(),
            _FORMATTER.vformat(tpl.body, (), fields))


def _group_fields(group: Group, firing: list[StoredAlert],
                  resolved: list[StoredAlert]) -> dict[str, Any]:
    common = _common([a.labels for a in group.alerts])
    status = "firing" if firing else "resolved"
    extra = [v for k, v in sorted(common.items()) if k not in group.group_labels]
    subject = (f"[{status.upper()}{':' + str(len(firing)) if firing else ''}] "
               + " ".join(v for _, v in sorted(group.group_labels.items()))
               + (f" ({' '.join(extra)})" if extra else ""))
    return {
        "subject": subject, "status": status, "STATUS": status.upper(),
        "receiver": group.receiver, "group_key": group.group_key,
        "alertname": common.get("alertname", ""), "num_firing": len(firing),
        "num_resolved": len(resolved), "group_labels": LabelMap(group.group_labels),
        "common_labels": LabelMap(common),
        "common_annotations": LabelMap(_common([a.annotations for a in group.alerts])),
        "external_url": group.external_url,
    }


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def check(tpl: Template) -> None:
    """Render against a sample group, so a bad template fails at load, not at 3 a.m."""
    sample = StoredAlert("0" * 16, {"alertname": "Sample", "severity": "page"},
                         {"summary": "s", "runbook_url": "http://r"}, 0.0, None, "http://g", 0.0)
    render(tpl, Group("r", "{}:{}", {"alertname": "Sample"}, [sample]), 1.0)
