"""Alerts: the public input type, the stored form, fingerprints and merging (Alertmanager's).

As Alertmanager's API does, a label with an empty value is dropped before the alert is
fingerprinted (`{a="1", b=""}` is `{a="1"}`), and a lone surrogate, which has no UTF-8 form,
is read as U+FFFD (what Go's JSON decoder makes of `"\\ud800"`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from inferwatch.core.regex import without_surrogates

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1
_SEPARATOR = 0xFF


@dataclass(frozen=True)
class Alert:
    """An alert as a producer sends it; times are Unix seconds, None when unknown.

    A missing `starts_at` means now; a missing `ends_at` means firing until
    now + `global.resolve_timeout` (as Alertmanager treats API v2 alerts).
    """

    labels: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)
    starts_at: float | None = None
    ends_at: float | None = None
    generator_url: str = ""


@dataclass(frozen=True)
class StoredAlert:
    """An alert as the notifier holds it: fingerprinted, with resolved times filled in."""

    fingerprint: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: float
    ends_at: float | None
    generator_url: str
    updated_at: float
    timeout: bool = False  # ends_at came from resolve_timeout, not from the producer

    def resolved(self, now: float) -> bool:
        return self.ends_at is not None and self.ends_at <= now

    def status(self, now: float) -> str:
        return "resolved" if self.resolved(now) else "firing"


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's label-set fingerprint (FNV-1a 64 over sorted pairs), as 16 hex digits."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode():
                h = ((h ^ byte) * _FNV_PRIME) & _MASK
            h = ((h ^ _SEPARATOR) * _FNV_PRIME) & _MASK
    return f"{h:016x}"


def to_stored(alert: Alert, now: float, resolve_timeout: float | None) -> StoredAlert:
    """Fill in defaults as Alertmanager's API does: start now, end after resolve_timeout.

    With resolve_timeout None, an alert without an end stays firing until one is sent.
    """
    labels = {str(k): str(v) for k, v in alert.labels.items() if v != ""}
    annotations = dict(alert.annotations)
    try:
        print_ = fingerprint(labels)
    except UnicodeEncodeError:  # a lone surrogate somewhere
        labels = {without_surrogates(k): without_surrogates(v) for k, v in labels.items()}
        annotations = {without_surrogates(str(k)): without_surrogates(str(v))
                       for k, v in annotations.items()}
        print_ = fingerprint(labels)
    starts = alert.starts_at if alert.starts_at is not None else now
    timeout = alert.ends_at is None and resolve_timeout is not None
    ends = now + resolve_timeout if timeout else alert.ends_at
    return StoredAlert(print_, labels, annotations, starts, ends,
                       alert.generator_url, now, timeout)


def merge(old: StoredAlert, new: StoredAlert) -> StoredAlert:
    """Alertmanager's Alert.Merge when the activity ranges overlap; else the new one wins."""
    if not _overlap(old, new):
        return new
    res = replace(new, starts_at=min(old.starts_at, new.starts_at))
    if new.ends_at is not None and new.ends_at <= new.updated_at:  # the newer one resolves
        if old.ends_at is not None and old.ends_at <= old.updated_at and old.ends_at > new.ends_at:
            res = replace(res, ends_at=old.ends_at)
    elif _later(old.ends_at, new.ends_at) and not old.timeout:
        res = replace(res, ends_at=old.ends_at, timeout=False)
    return res


def _later(a: float | None, b: float | None) -> bool:
    """Whether end time a is after b (None is 'no end yet', after everything)."""
    if a is None:
        return b is not None
    return b is not None and a > b


def _overlap(old: StoredAlert, new: StoredAlert) -> bool:
    old_end = old.ends_at if old.ends_at is not None else float("inf")
    new_end = new.ends_at if new.ends_at is not None else float("inf")
    return old.starts_at <= new_end and new.starts_at <= old_end
