"""SLOs and alerts: error budget left, burn rate per window, objective against actual.

Two SLIs from the catalogue's engine counters: availability (requests that did not finish with
reason error or rejected) and TTFT latency (requests whose first token came within a canonical
TTFT bucket bound, so `le` always names a real bucket). Burn-rate windows follow the SRE
workbook's multiwindow table (5m/1h page, 30m/6h, 2h/1d and 6h/3d tickets).
"""

from __future__ import annotations

from collections.abc import Callable

from inferwatch import catalog as c
from inferwatch import slo
from inferwatch.dashboards import board
from inferwatch.dashboards import panels as p
from inferwatch.dashboards.promql import Query, bucket_bound, or_zero, ratio, sum_rate

OBJECTIVES = ("0.9", "0.95", "0.99", "0.995", "0.999")
OBJECTIVE_DEFAULT = "0.99"
TTFT_BOUNDS = tuple(bucket_bound(b) for b in c.ENGINE_TTFT.buckets)
TTFT_DEFAULT = bucket_bound(1)
WINDOWS = ("7d", "28d", "30d")
WINDOW_DEFAULT = "30d"
BURN_WINDOWS = slo.WINDOW_NAMES
BUDGET_STEPS = (("red", None), ("orange", 0.0), ("green", 0.25))
BURN_STEPS = (("green", None), ("orange", 1.0), ("red", slo.fastest_page_factor()))


def bad_ratio_availability(window: str) -> str:
    """Fraction of finished requests that ended in error or were rejected."""
    bad = or_zero(sum_rate(c.ENGINE_REQUESTS_FINISHED, window=window,
                           regex={"reason": slo.BAD_REASONS_REGEX}))
    return ratio(bad, sum_rate(c.ENGINE_REQUESTS_FINISHED, window=window))


def good_ratio_ttft(bound: str, window: str) -> str:
    """Fraction of requests whose first token came within `bound` seconds."""
    within = sum_rate(c.ENGINE_TTFT, series="_bucket", window=window, eq={"le": bound})
    return ratio(within, sum_rate(c.ENGINE_TTFT, series="_count", window=window))


def bad_ratio_ttft(bound: str, window: str) -> str:
    return f"1 - ({good_ratio_ttft(bound, window)})"


def budget_left(bad_ratio: str, objective: str) -> str:
    """1 = untouched, 0 = spent, below 0 = overspent."""
    return f"1 - ({bad_ratio}) / (1 - {objective})"


def burn_rate(bad_ratio: str, objective: str = "$objective") -> str:
    """How fast the budget burns: 1 spends it exactly over the SLO window."""
    return f"({bad_ratio}) / (1 - {objective})"


def sli_row(name: str, bad: Callable[[str], str], good_text: str) -> p.Row:
    """Budget, actual against objective, and burn rates for one SLI."""
    return p.Row(name, [
        p.stat(f"{name}: error budget left", f"Budget left over $slo_window at the $objective "
               f"objective. Good events: {good_text}.",
               Query(budget_left(bad("$slo_window"), "$objective")), p.RATIO,
               steps=BUDGET_STEPS, w=6, h=8),
        p.timeseries(f"{name}: actual against objective", f"SLI over the last hour against "
                     f"the objective. Good events: {good_text}.",
                     [Query(f"1 - ({bad('1h')})", "actual (1h)"),
                      Query("vector($objective)", "objective")],
                     p.RATIO, max=1, steps=p.LOW_IS_BAD, w=8, h=8),
        p.timeseries(f"{name}: burn rate", "Budget burn rate per window: above 1 the budget "
                     "runs out before the SLO window ends; 14.4 over 1h pages.",
                     [Query(burn_rate(bad(w)), w) for w in BURN_WINDOWS], p.COUNT,
                     steps=BURN_STEPS, w=10, h=8),
    ])


def build():
    """The SLOs and alerts dashboard."""
    objective = board.custom_variable("objective", "Objective", OBJECTIVES, OBJECTIVE_DEFAULT)
    ttft = board.custom_variable("ttft_slo", "TTFT objective (s)", TTFT_BOUNDS, TTFT_DEFAULT)
    window = board.custom_variable("slo_window", "SLO window", WINDOWS, WINDOW_DEFAULT)
    rows = [
        sli_row("Availability", bad_ratio_availability,
                f"requests not finished with reason {slo.BAD_REASONS_REGEX}"),
        sli_row("TTFT", lambda w: bad_ratio_ttft("$ttft_slo", w),
                "requests with a first token within $ttft_slo s"),
        p.Row("Alerts", [p.alert_list("Firing and pending alerts", "Alerts from every rule "
                                      "source Grafana knows (Prometheus rules included).",
                                      w=24)]),
    ]
    return board.dashboard(
        "inferwatch / SLOs and alerts", board.UID_SLOS,
        "Error budget left, burn rate per window and objective against actual, per SLI.",
        rows, [objective, ttft, window])
