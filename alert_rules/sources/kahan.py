"""The Kahan-Neumaier compensated loops of Prometheus 2.42's functions.go that the range
functions spend their time in, to the same bits: funcAvgOverTime's running mean and
linearRegression's sums (kahanSumInc inlined). `abs(a) >= abs(b)`, kahanSumInc's test, is
written as two chained comparisons, which answer the same for every pair (NaN and Inf
included) without two calls; where every value is >= 0 (or NaN) one comparison answers the
same, as the running sums then stay >= 0 (or NaN) too."""

from __future__ import annotations

import math
from functools import lru_cache

_INF = math.inf


def avg_over_time(values: list[float]) -> float:
    """funcAvgOverTime. First without Go's Inf checks, which change nothing while the mean
    stays finite; a mean that became ±Inf never turns finite again (Inf plus a finite
    increment stays Inf, Inf - Inf is NaN), so a finite result is Go's, else the loop with
    the checks runs. (`min` >= 0 means no value below 0: a NaN met first makes it NaN.)"""
    mean, c = _mean_nonnegative(values) if min(values) >= 0 else _mean(values)
    if mean - mean == 0.0:  # finite
        return mean + c
    mean = c = count = 0.0
    inf = _INF
    for v in values:
        count += 1
        if (mean == inf or mean == -inf) and (v == mean or v == v and -inf < v < inf):
            continue
        inc = v / count - mean / count
        t = mean + inc
        if -mean <= inc <= mean or mean <= inc <= -mean:  # abs(mean) >= abs(inc)
            c += (mean - t) + inc
        else:
            c += (inc - t) + mean
        mean = t
    return mean if mean == _INF or mean == -_INF else mean + c


def _mean(values: list[float]) -> tuple[float, float]:
    mean = c = count = 0.0
    for v in values:
        count += 1
        inc = v / count - mean / count
        t = mean + inc
        if -mean <= inc <= mean or mean <= inc <= -mean:  # abs(mean) >= abs(inc)
            c += (mean - t) + inc
        else:
            c += (inc - t) + mean
        mean = t
    return mean, c


def _mean_nonnegative(values: list[float]) -> tuple[float, float]:
    """`_mean` of values >= 0: the mean stays >= 0 and each increment >= -mean (v/n >= 0,
    mean/n <= mean, and rounding keeps both), so abs(mean) >= abs(inc) is inc <= mean."""
    mean = c = count = 0.0
    for v in values:
        count += 1
        inc = v / count - mean / count
        t = mean + inc
        if inc <= mean:
            c += (mean - t) + inc
        else:
            c += (inc - t) + mean
        mean = t
    return mean, c


@lru_cache(maxsize=16)
def _x_sums(times: tuple[int, ...], at: int) -> tuple[tuple[float, ...], float, float]:
    """linearRegression's x values (seconds from `at`) and its compensated sums of x and
    x*x: the same for every series of one scrape's times, so computed once for them."""
    xs = tuple([(t - at) / 1e3 for t in times])
    sum_x, sum_x2 = _y_sums(xs, list(xs))  # the sums of v and x*v with v = x
    return xs, sum_x, sum_x2


def linear_regression(times: list[int], values: list[float], at: int) -> tuple[float, float]:
    """linearRegression: four Kahan sums (those of x from _x_sums), each a sequence of its
    own, so summed in separate loops with the same bits."""
    init = values[0]
    if init == init and values.count(init) == len(values):  # Go: no `v != init`
        return (math.nan, math.nan) if math.isinf(init) else (0.0, init)
    xs, sum_x, sum_x2 = _x_sums(tuple(times), at)
    if xs[0] >= 0 and min(values) >= 0:  # x*v >= 0 (or NaN) too
        sum_y, sum_xy = _y_sums_nonnegative(xs, values)
    else:
        sum_y, sum_xy = _y_sums(xs, values)
    n = float(len(values))
    cov_xy = sum_xy - sum_x * sum_y / n
    var_x = sum_x2 - sum_x * sum_x / n
    slope = _div(cov_xy, var_x)
    return slope, sum_y / n - slope * sum_x / n


def _y_sums(xs: tuple[float, ...], values: list[float]) -> tuple[float, float]:
    sum_y = c_y = sum_xy = c_xy = 0.0
    for x, v in zip(xs, values, strict=True):
        s = sum_y + v
        if -sum_y <= v <= sum_y or sum_y <= v <= -sum_y:
            c_y += (sum_y - s) + v
        else:
            c_y += (v - s) + sum_y
        sum_y = s
        xv = x * v
        s = sum_xy + xv
        if -sum_xy <= xv <= sum_xy or sum_xy <= xv <= -sum_xy:
            c_xy += (sum_xy - s) + xv
        else:
            c_xy += (xv - s) + sum_xy
        sum_xy = s
    return sum_y + c_y, sum_xy + c_xy


def _y_sums_nonnegative(xs: tuple[float, ...], values: list[float]) -> tuple[float, float]:
    """`_y_sums` where x and v are >= 0 (or NaN): abs(total) >= abs(inc) is total >= inc."""
    sum_y = c_y = sum_xy = c_xy = 0.0
    for x, v in zip(xs, values, strict=True):
        s = sum_y + v
        if sum_y >= v:
            c_y += (sum_y - s) + v
        else:
            c_y += (v - s) + sum_y
        sum_y = s
        xv = x * v
        s = sum_xy + xv
        if sum_xy >= xv:
            c_xy += (sum_xy - s) + xv
        else:
            c_xy += (xv - s) + sum_xy
        sum_xy = s
    return sum_y + c_y, sum_xy + c_xy


def _div(a: float, b: float) -> float:
    """Go's float division: x/0 is ±Inf or NaN."""
    if b == 0:
        return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a) * \
            math.copysign(1, b)
    return a / b
