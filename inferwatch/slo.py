"""SLO maths shared by the rules and the dashboards: burn-rate windows, factors, bad requests.

The table is the SRE workbook's (and Sloth's google-30d): windows stay fixed and the burn
factor scales with the period, `factor = budget share × period / long window`, which gives
14.4 / 6 / 3 / 1 for 30 days and 13.44 / 5.6 / 2.8 / 0.933 for 28.
"""

from __future__ import annotations

from dataclasses import dataclass

from inferwatch.core.durations import format_duration

H, M, D = 3600.0, 60.0, 86400.0
DEFAULT_PERIOD = 30 * D
# A request that finished with one of these `reason`s spends error budget
# (inferwatch_engine_requests_finished_total{reason}).
BAD_REASONS = ("error", "rejected")
BAD_REASONS_REGEX = "|".join(BAD_REASONS)


@dataclass(frozen=True)
class Burn:
    """One row: alert when both windows burn faster than `factor` times the budget."""

    kind: str  # page or ticket
    budget_share: float
    long: float
    short: float

    def factor(self, period: float) -> float:
        return self.budget_share * period / self.long


TABLE = (Burn("page", 0.02, 1 * H, 5 * M), Burn("page", 0.05, 6 * H, 30 * M),
         Burn("ticket", 0.10, 1 * D, 2 * H), Burn("ticket", 0.10, 3 * D, 6 * H))
WINDOWS = tuple(sorted({w for b in TABLE for w in (b.long, b.short)}))
WINDOW_NAMES = tuple(format_duration(w) for w in WINDOWS)


def fastest_page_factor(period: float = DEFAULT_PERIOD) -> float:
    """The burn rate at which the fastest page fires (14.4 for 30 days)."""
    return max(b.factor(period) for b in TABLE if b.kind == "page")
