"""Go's time.Time as templates see it: String() (`2006-01-02 15:04:05.999999999 -0700 MST`),
Format with Go's reference layouts, Unix, UTC and the calendar accessors."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from inferwatch.notifier.gotemplate.values import Sig

_EPOCH = datetime(1970, 1, 1)
_ZERO_UNIX = -62135596800  # 0001-01-01 00:00:00 UTC, Go's zero Time
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_STD = [  # the layout chunks in the order Go's nextStdChunk tries them at one position
    "January", "Jan", "Monday", "Mon", "MST", "002", "01", "02", "03", "04", "05", "06",
    "15", "1", "2006", "2", "_2006", "__2", "_2", "3", "4", "5", "PM", "pm",
    "-07:00:00", "-070000", "-07:00", "-0700", "-07",
    "Z07:00:00", "Z070000", "Z07:00", "Z0700", "Z07",
]


class Month(int):
    go_type = "time.Month"

    def String(self) -> str:
        return _MONTHS[self - 1]


class Weekday(int):
    go_type = "time.Weekday"

    def String(self) -> str:
        return _DAYS[(self - 1) % 7]


class GoTime:
    """An instant (Unix seconds + nanoseconds) in a zone (offset seconds, name)."""

    go_type = "time.Time"
    go_fields = ("sec", "nsec", "offset", "zone")  # only to compare and print as a struct
    go_methods = {name: Sig() for name in (
        "String", "Unix", "UnixMilli", "UnixMicro", "UnixNano", "UTC", "Local", "IsZero",
        "Year", "Month", "Day", "Hour", "Minute", "Second", "Nanosecond", "YearDay",
        "Weekday")} | {"Format": Sig(("string",))}

    def __init__(self, sec: int, nsec: int = 0, offset: int = 0, zone: str = "UTC"):
        self.sec, self.nsec, self.offset, self.zone = sec, nsec, offset, zone

    @classmethod
    def from_unix(cls, ts: float | None) -> GoTime:
        """A float timestamp, to the microsecond (what a float holds); None is the zero Time."""
        if ts is None:
            return ZERO
        micros = round(ts * 1e6)
        sec = math.floor(micros / 1e6)
        return cls(sec, (micros - sec * 1_000_000) * 1000)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GoTime) and (self.sec, self.nsec, self.offset, self.zone) == (
            other.sec, other.nsec, other.offset, other.zone)

    def __hash__(self) -> int:
        return hash((self.sec, self.nsec))

    def _civil(self) -> datetime:
        return _EPOCH + timedelta(seconds=self.sec + self.offset)

    def String(self) -> str:
        return self.Format("2006-01-02 15:04:05.999999999 -0700 MST")

    def __repr__(self) -> str:
        return f"GoTime({self.String()!r})"

    def Unix(self) -> int:
        return self.sec

    def UnixMilli(self) -> int:
        return self.sec * 1000 + self.nsec // 1_000_000

    def UnixMicro(self) -> int:
        return self.sec * 1_000_000 + self.nsec // 1000

    def UnixNano(self) -> int:
        return self.sec * 1_000_000_000 + self.nsec

    def UTC(self) -> GoTime:
        return GoTime(self.sec, self.nsec)

    def Local(self) -> GoTime:
        return self.UTC()  # the notifier renders in UTC (Alertmanager in its TZ)

    def IsZero(self) -> bool:
        return self.sec == _ZERO_UNIX and self.nsec == 0

    def Year(self) -> int:
        return self._civil().year

    def Month(self) -> Month:
        return Month(self._civil().month)

    def Day(self) -> int:
        return self._civil().day

    def Hour(self) -> int:
        return self._civil().hour

    def Minute(self) -> int:
        return self._civil().minute

    def Second(self) -> int:
        return self._civil().second

    def Nanosecond(self) -> int:
        return self.nsec

    def YearDay(self) -> int:
        return self._civil().timetuple().tm_yday

    def Weekday(self) -> Weekday:
        return Weekday(self._civil().isoweekday())

    def Format(self, layout: str) -> str:
        civil, out, i = self._civil(), [], 0
        while i < len(layout):
            chunk = _chunk(layout, i)
            if chunk is None:
                out.append(layout[i])
                i += 1
                continue
            out.append(self._std(chunk, civil))
            i += len(chunk)
        return "".join(out)

    def _std(self, chunk: str, c: datetime) -> str:
        if chunk[0] in ".," and chunk[1] in "09":
            digits = f"{self.nsec:09d}"[:len(chunk) - 1]
            if chunk[1] == "9":
                digits = digits.rstrip("0")
                return chunk[0] + digits if digits else ""
            return chunk[0] + digits
        if chunk[0] in "-Z":
            return self._zone(chunk)
        hour12 = c.hour % 12 or 12
        values = {
            "January": _MONTHS[c.month - 1], "Jan": _MONTHS[c.month - 1][:3],
            "Monday": _DAYS[c.weekday()], "Mon": _DAYS[c.weekday()][:3],
            "MST": self.zone or self._zone("-0700"),
            "002": f"{c.timetuple().tm_yday:03d}", "__2": f"{c.timetuple().tm_yday:>3d}",
            "01": f"{c.month:02d}", "02": f"{c.day:02d}", "03": f"{hour12:02d}",
            "04": f"{c.minute:02d}", "05": f"{c.second:02d}", "06": f"{c.year % 100:02d}",
            "15": f"{c.hour:02d}", "1": str(c.month), "2006": f"{c.year:04d}",
            "_2006": f"_{c.year:04d}", "2": str(c.day), "_2": f"{c.day:>2d}",
            "3": str(hour12), "4": str(c.minute), "5": str(c.second),
            "PM": "PM" if c.hour >= 12 else "AM", "pm": "pm" if c.hour >= 12 else "am",
        }
        return values[chunk]

    def _zone(self, chunk: str) -> str:
        if chunk[0] == "Z" and self.offset == 0:
            return "Z"
        off = abs(self.offset)
        sign = "-" if self.offset < 0 else "+"
        hh, mm, ss = off // 3600, off // 60 % 60, off % 60
        body = chunk[1:]
        if body == "07":
            return f"{sign}{hh:02d}"
        sep = ":" if ":" in body else ""
        tail = f"{sep}{ss:02d}" if body in ("070000", "07:00:00") else ""
        return f"{sign}{hh:02d}{sep}{mm:02d}{tail}"


def _chunk(layout: str, i: int) -> str | None:
    c = layout[i]
    if c in ".," and i + 1 < len(layout) and layout[i + 1] in "09":
        j = i + 1
        while j < len(layout) and layout[j] == layout[i + 1]:
            j += 1
        if not (j < len(layout) and layout[j].isdigit()):
            return layout[i:j]
        return None
    for std in _STD:
        if layout.startswith(std, i):
            return std
    return None


ZERO = GoTime(_ZERO_UNIX, 0)

