"""API v2 request bodies read as Alertmanager 0.25 reads them, with its status codes.

Alertmanager's go-swagger layer answers 400 to a body it cannot decode (bad JSON, a wrong
type) and 422 to one that decodes but lacks a required field or breaks a declared format (an
empty body, an alert without `labels`, a `generatorURL` that is no URI). Its handler then
checks each alert on its own, after dropping the labels whose value is empty: an invalid label
or annotation name, no label left, or an end before the start refuses that alert (400) while
the valid alerts of the same request are kept. A lone surrogate in a JSON string (no UTF-8
form) is read as U+FFFD, as Go's decoder reads it.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from inferwatch.core.regex import without_surrogates
from inferwatch.notifier.alerts import Alert
from inferwatch.notifier.matchers import Matcher, MatcherError, valid_label_name
from inferwatch.notifier.payloads import PostableAlert, PostableSilence, seconds
from inferwatch.notifier.silences import Silence

log = logging.getLogger(__name__)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_ALERTS = TypeAdapter(list[PostableAlert] | None)


class RequestError(ValueError):
    """A request Alertmanager would refuse, with the status it would answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class _Silence(PostableSilence):
    """Alertmanager requires createdBy and comment, but accepts them empty."""

    createdBy: str  # noqa: N815 - Alertmanager's field names
    comment: str


_SILENCE = TypeAdapter(_Silence)


def decode(body: bytes, what: str) -> Any:
    """The JSON body; 422 when empty (go-swagger's "… in body is required"), else 400."""
    if not body.strip():
        raise RequestError(422, f"{what} in body is required")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RequestError(400, f"body is not JSON: {err}") from None
    except RecursionError:  # a few thousand '[' fit under the size cap
        raise RequestError(400, "body is not JSON: nested too deeply") from None
    return _no_surrogates(data) if _SURROGATE_ESCAPE.search(body) else data


def _no_surrogates(data: Any) -> Any:
    if isinstance(data, str):
        return without_surrogates(data)
    if isinstance(data, list):
        return [_no_surrogates(v) for v in data]
    if isinstance(data, dict):
        return {without_surrogates(k): _no_surrogates(v) for k, v in data.items()}
    return data


def _validate(adapter: TypeAdapter, data: Any, required: frozenset[str]) -> Any:
    """Pydantic's reading; 422 when every problem is of a kind swagger validates, else 400."""
    try:
        return adapter.validate_python(data)
    except ValidationError as err:
        errors = err.errors()
        lines = [f"{'.'.join(str(p) for p in e['loc'] if p != 'list[PostableAlert]') or 'body'}"
                 f": {e['msg']}" for e in errors[:20]]
        status = 422 if all(e["type"] in required for e in errors) else 400
        raise RequestError(status, "; ".join(lines)) from None


@dataclass
class AlertBatch:
    """The alerts Alertmanager would keep, and the reasons it refuses the others."""

    alerts: list[Alert]
    refused: list[str]


def read_alerts(body: bytes) -> AlertBatch:
    """POST /api/v2/alerts."""
    posted = _validate(_ALERTS, decode(body, "alerts"), frozenset({"missing"})) or []
    for i, a in enumerate(posted):
        if a.generatorURL and not _is_uri(a.generatorURL):
            raise RequestError(422, f"{i}.generatorURL in body must be of type uri: "
                                    f"{a.generatorURL!r}")
    batch = AlertBatch([], [])
    for a in posted:
        try:
            batch.alerts.append(_alert(a))
        except RequestError as err:
            batch.refused.append(str(err))
    if batch.refused:
        log.debug("refused %d of %d alerts: %s", len(batch.refused), len(posted),
                  batch.refused[0])
    return batch


def _is_uri(text: str) -> bool:
    """go-openapi's `uri` format (Go's url.ParseRequestURI): absolute URI or absolute path."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        return False
    return text.startswith("/") or _URI_SCHEME.match(text) is not None


def _alert(a: PostableAlert) -> Alert:
    """One alert as Alertmanager's postAlertsHandler and model.Alert.Validate check it."""
    labels = {k: v for k, v in a.labels.items() if v != ""}
    starts, ends = seconds(a.startsAt), seconds(a.endsAt)
    if starts is None and ends is not None:
        starts = ends  # Alertmanager: an alert sent with only an end started then
    if starts is not None and ends is not None and ends < starts:
        raise RequestError(400, f"start time must be before end time: alert {labels} has "
                                "endsAt is before startsAt")
    for name in sorted(labels):
        if not valid_label_name(name):
            raise RequestError(400, f"invalid label set: invalid name {name!r}")
    if not labels:
        raise RequestError(400, "at least one label pair required")
    for name in sorted(a.annotations):
        if not valid_label_name(name):
            raise RequestError(400, f"invalid annotations: invalid name {name!r}")
    return Alert(labels, a.annotations, starts, ends, a.generatorURL)


def read_silence(body: bytes) -> Silence:
    """POST /api/v2/silences, up to what `Silences.set` checks against the stored ones."""
    s: _Silence = _validate(_SILENCE, decode(body, "silence"),
                            frozenset({"missing", "too_short"}))
    try:
        matchers = tuple(Matcher.make(m.name, _op(m.isRegex, m.isEqual), m.value)
                         for m in s.matchers)
    except MatcherError as err:
        raise RequestError(400, f"silence invalid: matchers: {err}") from None
    return Silence(s.id, matchers, s.startsAt.timestamp(), s.endsAt.timestamp(), s.createdBy,
                   s.comment, 0.0)


def _op(regex: bool, equal: bool) -> str:
    return {(False, True): "=", (False, False): "!=", (True, True): "=~",
            (True, False): "!~"}[(regex, equal)]


def is_uuid(text: str) -> bool:
    """The silenceID path parameter's declared format (else Alertmanager answers 422)."""
    return re.fullmatch(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                        r"[0-9a-fA-F]{12}", text) is not None
