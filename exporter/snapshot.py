"""Render collected families into one immutable snapshot: text and gzip bytes, built once."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterable
from functools import cached_property

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
    """The bytes one scrape gets. The OpenMetrics form is rendered up front when scrapers
    have asked for it before (`openmetrics=True`), else on its first request."""

    def __init__(self, families: Iterable[Metric], created: float | None = None,
                 openmetrics: bool = False):
        self.families = merge(families)
        self.created = time.time() if created is None else created
        self.text = exposition.generate_latest(_Families(self.families))
        self.text_gzip = gzip.compress(self.text, GZIP_LEVEL)
        if openmetrics:
            _ = self.openmetrics_gzip, self.openmetrics

    @cached_property
    def openmetrics(self) -> bytes:
        return om.generate_latest(_Families(self.families))

    @cached_property
    def openmetrics_gzip(self) -> bytes:
        return gzip.compress(self.openmetrics, GZIP_LEVEL)

    def body(self, openmetrics: bool, gzipped: bool) -> bytes:
        if openmetrics:
            return self.openmetrics_gzip if gzipped else self.openmetrics
        return self.text_gzip if gzipped else self.text
