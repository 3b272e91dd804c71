"""Request bodies: Alertmanager's API v2 alerts and silences, and its webhook payload v4.

Unknown fields are ignored (newer senders add fields); a malformed body raises PayloadError with
one line per problem, such as `0.labels: Field required`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)

from inferwatch.notifier.alerts import Alert
from inferwatch.notifier.matchers import Matcher, MatcherError
from inferwatch.notifier.silences import Silence

ZERO_YEAR = 1  # Go's zero time, 0001-01-01T00:00:00Z, means "not set"


class PayloadError(ValueError):
    """A request body that cannot be accepted; the message says why."""


def _in_utc_range(ts: datetime) -> datetime:
    """A time we can store and write back as RFC 3339 UTC (9999-12-31T23:59:59-12:00 is not)."""
    try:
        ts.astimezone(UTC)
    except OverflowError:
        raise ValueError("time out of range in UTC") from None
    return ts


def _alert_time(ts: datetime) -> datetime:
    return ts if ts.year <= ZERO_YEAR else _in_utc_range(ts)  # Go's zero time: unset


AlertTime = Annotated[AwareDatetime, AfterValidator(_alert_time)]
SilenceTime = Annotated[AwareDatetime, AfterValidator(_in_utc_range)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PostableAlert(_Lenient):
    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = {}
    startsAt: AlertTime | None = None  # noqa: N815 - Alertmanager's field names
    endsAt: AlertTime | None = None  # noqa: N815
    generatorURL: str = ""  # noqa: N815


class WebhookAlert(PostableAlert):
    status: Literal["firing", "resolved"]


class WebhookMessage(_Lenient):
    version: Literal["4"]
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupKey: str = ""  # noqa: N815
    alerts: list[WebhookAlert]


class PostableMatcher(_Lenient):
    name: str = Field(min_length=1)
    value: str
    isRegex: bool  # noqa: N815
    isEqual: bool = True  # noqa: N815


class PostableSilence(_Lenient):
    id: str = ""
    matchers: list[PostableMatcher] = Field(min_length=1)
    startsAt: SilenceTime  # noqa: N815
    endsAt: SilenceTime  # noqa: N815
    createdBy: str = Field(min_length=1)  # noqa: N815
    comment: str = Field(min_length=1)


_ALERTS = TypeAdapter(list[PostableAlert])


def seconds(ts: datetime | None) -> float | None:
    """Unix seconds, with Go's zero time read as unset."""
    return None if ts is None or ts.year <= ZERO_YEAR else ts.timestamp()


def rfc3339(ts: float | None) -> str:
    if ts is None:
        return "0001-01-01T00:00:00Z"
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _load(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PayloadError(f"body is not JSON: {err}") from None
    except RecursionError:  # a few thousand '[' fit under the size cap
        raise PayloadError("body is not JSON: nested too deeply") from None


def _validate(model: Any, data: Any) -> Any:
    try:
        return model.validate_python(data) if isinstance(model, TypeAdapter) \
            else model.model_validate(data)
    except ValidationError as err:
        lines = [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                 for e in err.errors()[:20]]
        raise PayloadError("; ".join(lines)) from None


def _alert(a: PostableAlert, ends: float | None) -> Alert:
    starts = seconds(a.startsAt)
    if starts is not None and ends is not None and ends < starts:
        raise PayloadError(f"alert {a.labels}: endsAt is before startsAt")
    return Alert(a.labels, a.annotations, starts, ends, a.generatorURL)


def parse_alerts(body: bytes) -> list[Alert]:
    """POST /api/v2/alerts: a JSON array of postable alerts."""
    return [_alert(a, seconds(a.endsAt)) for a in _validate(_ALERTS, _load(body))]


def parse_webhook(body: bytes, now: float) -> list[Alert]:
    """An Alertmanager webhook (version 4): firing alerts carry no end; resolved ones do."""
    message: WebhookMessage = _validate(WebhookMessage, _load(body))
    return [_alert(a, None if a.status == "firing" else (seconds(a.endsAt) or now))
            for a in message.alerts]


def parse_silence(body: bytes) -> Silence:
    s: PostableSilence = _validate(PostableSilence, _load(body))
    try:
        matchers = tuple(Matcher.make(m.name, _op(m.isRegex, m.isEqual), m.value)
                         for m in s.matchers)
    except MatcherError as err:
        raise PayloadError(f"matchers: {err}") from None
    if all(m.matches({}) for m in matchers):
        raise PayloadError("matchers: at least one matcher must not match the empty string")
    return Silence(s.id, matchers, s.startsAt.timestamp(), s.endsAt.timestamp(), s.createdBy,
                   s.comment, 0.0)


def _op(regex: bool, equal: bool) -> str:
    return {(False, True): "=", (False, False): "!=", (True, True): "=~",
            (True, False): "!~"}[(regex, equal)]


def silence_json(s: Silence, now: float) -> dict[str, Any]:
    """Alertmanager's gettableSilence."""
    return {"id": s.id, "status": {"state": s.state(now)}, "updatedAt": rfc3339(s.updated_at),
            "matchers": [{"name": m.name, "value": m.value, "isRegex": "~" in m.op,
                          "isEqual": not m.op.startswith("!")} for m in s.matchers],
            "startsAt": rfc3339(s.starts_at), "endsAt": rfc3339(s.ends_at),
            "createdBy": s.created_by, "comment": s.comment}
