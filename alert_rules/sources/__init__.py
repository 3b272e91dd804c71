"""Where rule expressions are evaluated: a Prometheus-compatible HTTP API, or the embedded
scraper. Both answer `instant(expr, ts)`; `outcome` turns that into what the state machine
needs (samples, whether there was data at all, or the error)."""

from __future__ import annotations

from typing import Protocol

from inferwatch.alert_rules.compile import CompiledAlert
from inferwatch.alert_rules.evaluate import Outcome, Sample
from inferwatch.alert_rules.promql import Node


class SourceError(Exception):
    """A query failed: the rule's `on_error` policy decides what its alerts do."""


class Source(Protocol):
    async def instant(self, expr: Node | str, ts: float) -> list[Sample]: ...


async def outcome(source: Source, alert: CompiledAlert, ts: float) -> Outcome:
    """Evaluate one alert's condition at ts; when it is empty, ask whether any data exists."""
    try:
        samples = await source.instant(alert.raw if alert.expr is None else alert.expr, ts)
        if samples or alert.data is None:
            return Outcome(tuple(samples))
        return Outcome((), has_data=bool(await source.instant(alert.data, ts)))
    except SourceError as err:
        return Outcome(error=str(err))
