"""Render collected families into one immutable snapshot: text and gzip bytes, built once."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterable

from prometheus_client import exposition
from prometheus_client.core import Metric
from prometheus_client.openmetrics import exposition as om

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # the format rendered
OPENMETRICS_CONTENT_TYPE = om.CONTENT_TYPE_LATEST
GZIP_LEVEL = 6


class _Families:
    """The `collect()` shape prometheus_client's renderers expect."""

    def __init__(self, families: tuple[Metric, ...]):
        self._families = families

    def collect(self):
        return iter(self._families)


def merge(families: Iterable[Metric]) -> tuple[Metric, ...]:
    """One family per name: samples of same-named families (e.g. per target) are joined."""
    merged: dict[str, Metric] = {}
    for fam in families:
        first = merged.get(fam.name)
        if first is None:
            merged[fam.name] = fam
        elif first.type != fam.type:
            raise ValueError(f"family {fam.name} has types {first.type} and {fam.type}")
        else:
            joined = Metric(first.name, first.documentation, first.type, first.unit)
            joined.samples = first.samples + fam.samples
            merged[fam.name] = joined
    return tuple(merged.values())


class Snapshot:
    """The bytes one scrape gets, in the four forms (text or OpenMetrics, plain or gzip).
    Each form is rendered once: up front for the forms in `wanted` (those scrapers asked
    for before, so a scrape never waits on rendering), else on its first request."""

    def __init__(self, families: Iterable[Metric], created: float | None = None,
                 wanted: Iterable[tuple[bool, bool]] = ()):
        self.families = merge(families)
        self.created = time.time() if created is None else created
        self._bodies: dict[tuple[bool, bool], bytes] = {}
        for openmetrics, gzipped in wanted:
            self.body(openmetrics, gzipped)

    @property
    def text(self) -> bytes:
        return self.body(False, False)

    def body(self, openmetrics: bool, gzipped: bool) -> bytes:
        key = (openmetrics, gzipped)
        if key not in self._bodies:
            if gzipped:
                self._bodies[key] = gzip.compress(self.body(openmetrics, False), GZIP_LEVEL)
            else:
                render = om.generate_latest if openmetrics else exposition.generate_latest
                self._bodies[key] = render(_Families(self.families))
        return self._bodies[key]

    def rendered(self) -> set[tuple[bool, bool]]:
        """The forms rendered so far, as (openmetrics, gzipped) pairs."""
        return set(self._bodies)
