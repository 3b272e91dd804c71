"""The fast compensated loops (alert_rules.sources.kahan) against functions.go transcribed
line by line (kahanSumInc with its `math.Abs` test, funcAvgOverTime's Inf checks,
linearRegression in one loop): the same bits for random sequences of values >= 0, of both
signs, and with NaN, ±Inf, -0, huge and tiny values mixed in."""

from __future__ import annotations

import math
import random

from inferwatch.alert_rules.sources.kahan import avg_over_time, linear_regression


def kahan_sum_inc(inc: float, total: float, c: float) -> tuple[float, float]:
    t = total + inc
    if abs(total) >= abs(inc):
        c += (total - t) + inc
    else:
        c += (inc - t) + total
    return t, c


def go_avg_over_time(values: list[float]) -> float:
    mean = count = c = 0.0
    for v in values:
        count += 1
        if math.isinf(mean):
            if math.isinf(v) and (mean > 0) == (v > 0):
                continue
            if not math.isinf(v) and not math.isnan(v):
                continue
        mean, c = kahan_sum_inc(v / count - mean / count, mean, c)
    return mean if math.isinf(mean) else mean + c


def go_linear_regression(times: list[int], values: list[float], at: int) -> tuple[float, float]:
    n = sum_x = c_x = sum_y = c_y = sum_xy = c_xy = sum_x2 = c_x2 = 0.0
    init, const = values[0], True
    for i, (t, v) in enumerate(zip(times, values, strict=True)):
        if const and i > 0 and v != init:
            const = False
        n += 1.0
        x = (t - at) / 1e3
        sum_x, c_x = kahan_sum_inc(x, sum_x, c_x)
        sum_y, c_y = kahan_sum_inc(v, sum_y, c_y)
        sum_xy, c_xy = kahan_sum_inc(x * v, sum_xy, c_xy)
        sum_x2, c_x2 = kahan_sum_inc(x * x, sum_x2, c_x2)
    if const:
        return (math.nan, math.nan) if math.isinf(init) else (0.0, init)
    sum_x, sum_y, sum_xy, sum_x2 = sum_x + c_x, sum_y + c_y, sum_xy + c_xy, sum_x2 + c_x2
    cov_xy = sum_xy - sum_x * sum_y / n
    var_x = sum_x2 - sum_x * sum_x / n
    if var_x == 0:
        slope = math.nan if cov_xy == 0 or math.isnan(cov_xy) else \
            math.copysign(math.inf, cov_xy) * math.copysign(1, var_x)
    else:
        slope = cov_xy / var_x
    return slope, sum_y / n - slope * sum_x / n


ODD = [math.nan, math.inf, -math.inf, -0.0, 0.0, 1.7976931348623157e308, 5e-324, 1e-300]


def sequences(rng: random.Random) -> list[list[float]]:
    out = []
    for case in range(400):
        n = rng.randint(1, 60)
        scale = rng.choice((1.0, 1e-9, 1e9, 1e300, 1e-300))
        low = 0.0 if case % 2 else -1.0
        values = [rng.uniform(low, 1.0) * scale for _ in range(n)]
        if case % 5 == 0:
            values[rng.randrange(n)] = rng.choice(ODD)
        if case % 7 == 0:
            values = [float(rng.randint(0, 3)) for _ in range(n)]  # repeats and constants
        if case % 3 == 0:  # magnitudes mixed: increments larger than the running sum
            values = [v * rng.choice((1e-20, 1.0, 1e20)) for v in values]
        out.append(values)
    return out


def same(a: float, b: float) -> bool:
    return a.hex() == b.hex()


def test_avg_over_time_gives_go_s_bits() -> None:
    for values in sequences(random.Random(5)):
        assert same(avg_over_time(values), go_avg_over_time(values)), values


def test_linear_regression_gives_go_s_bits() -> None:
    rng = random.Random(6)
    for values in sequences(rng):
        times = sorted(rng.sample(range(0, 600_000, 250), len(values)))
        for at in (times[0], times[-1] + 15_000):  # deriv's and predict_linear's x origin
            got = linear_regression(times, values, at)
            want = go_linear_regression(times, values, at)
            assert same(got[0], want[0]) and same(got[1], want[1]), (values, at)
