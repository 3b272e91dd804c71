"""Alertmanager's time intervals (`time_intervals`, `mute_time_intervals`) and routes using them.

An interval holds `times`, `weekdays`, `days_of_month` (negative days count from the month's
end), `months`, `years` and a `location`, parsed and evaluated as timeinterval.go of Alertmanager
0.25 does (an unset field matches everything; a set one must match). `RouteTimes` answers, for a
route id of the resolved tree, whether a flush at `now` is muted: inside one of the route's
`mute_time_intervals`, or outside all of its `active_time_intervals`.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field

from inferwatch.core.config import Strict

_DAYS = {d: i for i, d in enumerate(("sunday", "monday", "tuesday", "wednesday", "thursday",
                                     "friday", "saturday"))}
_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_TIME = re.compile(r"^((([01][0-9])|(2[0-3])):[0-5][0-9])$|(^24:00$)")


def _range(text: Any, member) -> tuple[int, int]:
    if not isinstance(text, str):
        raise ValueError(f"expected a string, got {text!r}")
    text = text.lower()
    parts = text.split(":") if ":" in text else [text, text]
    if len(parts) != 2:
        raise ValueError(f"couldn't parse range {text}, invalid format")
    return member(parts[0]), member(parts[1])


def _int(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise ValueError(f'strconv.Atoi: parsing "{text}": invalid syntax') from None


def _weekdays(value: Any) -> tuple[int, int]:
    def member(s: str) -> int:
        if s not in _DAYS:
            raise ValueError(f"{s} is not a valid weekday")
        return _DAYS[s]
    begin, end = _range(value, member)
    if begin > end:
        raise ValueError("start day cannot be before end day")
    return begin, end


def _days(value: Any) -> tuple[int, int]:
    begin, end = _range(value, _int)
    for day in (begin, end):
        if day == 0 or not -31 <= day <= 31:
            raise ValueError(f"{day} is not a valid day of the month: out of range")
    if begin < 0 < end:
        raise ValueError("end day must be negative if start day is negative")
    if (28 + begin if begin < 0 else begin) > (28 + end if end < 0 else end):
        raise ValueError(f"end day {end} is always before start day {begin}")
    return begin, end


def _months(value: Any) -> tuple[int, int]:
    def member(s: str) -> int:
        if s in _MONTHS:
            return _MONTHS[s]
        try:
            return int(s, 10)
        except ValueError:
            raise ValueError(f"{s} is not a valid month") from None
    begin, end = _range(value, member)
    if begin > end:
        raise ValueError(f"end month {end} is before start month {begin}")
    return begin, end


def _years(value: Any) -> tuple[int, int]:
    begin, end = _range(value, _int)
    if begin > end:
        raise ValueError(f"end year {end} is before start year {begin}")
    return begin, end


def _minute(text: str) -> int:
    if not isinstance(text, str) or not _TIME.match(text):
        raise ValueError(f"couldn't parse timestamp {text}, invalid format")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _location(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a time zone name")
    if value in ("", "UTC"):
        return "UTC"
    if value == "Local":
        return "Local"
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value}") from None
    return value


class TimeRange(Strict):
    start_time: str
    end_time: str

    def minutes(self) -> tuple[int, int]:
        return _minute(self.start_time), _minute(self.end_time)


def _time_range(value: Any) -> Any:
    if isinstance(value, dict):
        if not value.get("start_time") or not value.get("end_time"):
            raise ValueError("both start and end times must be provided")
        start, end = _minute(value["start_time"]), _minute(value["end_time"])
        if start >= end:
            raise ValueError("start time cannot be equal or greater than end time")
    return value


Weekdays = Annotated[tuple[int, int], BeforeValidator(_weekdays)]
Days = Annotated[tuple[int, int], BeforeValidator(_days)]
Months = Annotated[tuple[int, int], BeforeValidator(_months)]
Years = Annotated[tuple[int, int], BeforeValidator(_years)]


class TimeIntervalSpec(Strict):
    """One element of an interval's `time_intervals` list."""

    times: list[Annotated[TimeRange, BeforeValidator(_time_range)]] | None = None
    weekdays: list[Weekdays] | None = None
    days_of_month: list[Days] | None = None
    months: list[Months] | None = None
    years: list[Years] | None = None
    location: Annotated[str, BeforeValidator(_location)] | None = None

    def contains(self, ts: float) -> bool:
        """timeinterval.TimeInterval.ContainsTime."""
        zone = self.location or "UTC"
        if zone == "Local":
            t = datetime.fromtimestamp(ts).astimezone()
        else:
            t = datetime.fromtimestamp(ts, UTC if zone == "UTC" else ZoneInfo(zone))
        minute = t.hour * 60 + t.minute
        if self.times is not None and not any(
                a <= minute < b for a, b in (r.minutes() for r in self.times)):
            return False
        if self.days_of_month is not None and not any(
                _in_month(t, b, e) for b, e in self.days_of_month):
            return False
        if self.months is not None and not any(b <= t.month <= e for b, e in self.months):
            return False
        weekday = (t.weekday() + 1) % 7  # Go: Sunday is 0
        if self.weekdays is not None and not any(b <= weekday <= e for b, e in self.weekdays):
            return False
        return self.years is None or any(b <= t.year <= e for b, e in self.years)


def _in_month(t: datetime, begin: int, end: int) -> bool:
    size = calendar.monthrange(t.year, t.month)[1]
    begin = size + begin + 1 if begin < 0 else begin
    end = size + end + 1 if end < 0 else end
    if begin > size:
        return False
    begin, end = max(-size, min(begin, size)), max(-size, min(end, size))
    return begin <= t.day <= end


class NamedInterval(Strict):
    name: str
    time_intervals: list[TimeIntervalSpec] = Field(default_factory=list)


@dataclass(frozen=True)
class RouteTimes:
    """Each route's mute and active interval names, and the intervals, by name."""

    routes: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]
    intervals: Mapping[str, Sequence[TimeIntervalSpec]]
    keys: Mapping[str, str] = field(default_factory=dict)  # route id -> Alertmanager's Key()

    def group_key(self, route_id: str, key: str) -> str:
        """The group key as Alertmanager writes it: its route Key() has no sibling index."""
        am = self.keys.get(route_id)
        return am + key[len(route_id):] if am is not None and key.startswith(route_id) else key

    def _inside(self, name: str, now: float) -> bool:
        return any(spec.contains(now) for spec in self.intervals.get(name, ()))

    def muted(self, route_id: str, now: float) -> bool:
        """Whether a flush of a group on this route sends nothing at `now`."""
        mute, active = self.routes.get(route_id, ((), ()))
        if any(self._inside(name, now) for name in mute):
            return True
        return bool(active) and not any(self._inside(name, now) for name in active)

    def __bool__(self) -> bool:
        return any(m or a for m, a in self.routes.values())


def route_times(route_cfg: Any, intervals: Mapping[str, Sequence[TimeIntervalSpec]]
                ) -> RouteTimes:
    """Walk the configured tree beside the resolved one (same ids as the dispatcher's)."""
    from inferwatch.notifier.routing import build_routes

    table: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    keys: dict[str, str] = {}
    stack = [(route_cfg, build_routes(route_cfg), "")]
    while stack:
        cfg, route, parent = stack.pop()
        table[route.id] = (tuple(cfg.mute_time_intervals), tuple(cfg.active_time_intervals))
        key = "{" + ",".join(str(m) for m in route.matchers) + "}"
        keys[route.id] = key = f"{parent}/{key}" if parent else key
        stack += [(c, r, key) for c, r in zip(cfg.routes, route.routes, strict=True)]
    return RouteTimes(table, dict(intervals), keys)
