"""Alertmanager's orders as sort keys: model.LabelSet.Before (fewer labels first; then, over
the union of the names in order, the set lacking a name first, else the smaller value) and
types.AlertSlice.Less (by `job`, then `instance`, a set lacking one after, then LabelSet.Before).

A key instead of a comparison: two sets of equal size differ first at some position of their
sorted (name, value) pairs; where the names differ there, the set with the greater name lacks
the other's smaller one, so it sorts first: names compare reversed, values as they are."""

from __future__ import annotations

from collections.abc import Mapping

ALERT_KEYS_KEPT = 100_000  # alert keys remembered by fingerprint; past it the memo starts again

_alert_keys: dict[str, tuple] = {}


def _reversed(name: str) -> tuple[int, ...]:
    """A key that orders names (code point by code point, as Go's bytes of UTF-8) reversed;
    the terminator puts a name after every longer one it begins."""
    return (*(-ord(c) for c in name), 1)


def labelset_key(labels: Mapping[str, str]) -> tuple:
    """model.LabelSet.Before as a key."""
    return len(labels), tuple((_reversed(n), v) for n, v in sorted(labels.items()))


def alert_key(fingerprint: str, labels: Mapping[str, str]) -> tuple:
    """types.AlertSlice.Less as a key, remembered by the labels' fingerprint."""
    key = _alert_keys.get(fingerprint)
    if key is None:
        if len(_alert_keys) >= ALERT_KEYS_KEPT:
            _alert_keys.clear()
        job, instance = labels.get("job"), labels.get("instance")
        key = _alert_keys[fingerprint] = (job is None, job or "", instance is None,
                                          instance or "", labelset_key(labels))
    return key
