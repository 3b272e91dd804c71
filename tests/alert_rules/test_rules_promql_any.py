"""Random PromQL from a grammar of the whole supported language (selectors with every
matcher, offsets, range functions, subqueries, aggregations with by/without, binary and set
operators with bool/on/ignoring/group_left/group_right, label functions, histogram_quantile,
absent, clamp, math and date functions) over random counters, gauges and histograms (resets,
gaps, NaN, ±Inf, -0, stale markers): the same unit-test file through `promtool test rules` and
`inferwatch rules test`, every answer compared. Bit for bit, except where Prometheus itself
is not deterministic or Go's math library is not C's (see promql_grammar). Fixed seeds here;
`INFERWATCH_PROMQL_ANY_SEEDS=1-200` runs more."""

from __future__ import annotations

import math
import os
import random
from pathlib import Path

import pytest

from tests.alert_rules.promql_grammar import Expr, Grammar, input_series, times
from tests.alert_rules.promql_oracle import (
    answers,
    inferwatch,
    promtool,
    same_bits,
    ulps_apart,
    write_suite,
)

EXPRS = 70


def seeds() -> list[int]:
    lo, _, hi = os.environ.get("INFERWATCH_PROMQL_ANY_SEEDS", "1-4").partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def agree(expr: Expr, mine: object, theirs: object) -> str | None:
    """Why the two answers differ (None: they agree)."""
    if isinstance(mine, str) or isinstance(theirs, str):
        both = isinstance(mine, str) and isinstance(theirs, str)
        return None if both else f"error on one side: ours {mine!r}, promtool {theirs!r}"
    assert isinstance(mine, dict) and isinstance(theirs, dict)
    if expr.ranked:  # which of tied series topk keeps depends on the TSDB's series order
        if not expr.text.startswith(("topk", "bottomk")):
            return None  # combined with other series, the other choice changes the result
        if len(mine) != len(theirs):
            return f"{len(mine)} samples, promtool {len(theirs)}"
        def key(v: float) -> tuple[bool, float]:
            return math.isnan(v), 0.0 if math.isnan(v) else v

        pairs = list(zip(sorted(mine.values(), key=key), sorted(theirs.values(), key=key),
                         strict=True))
    else:
        if mine.keys() != theirs.keys():
            return f"labels differ: ours {sorted(mine)}, promtool {sorted(theirs)}"
        pairs = [(mine[k], theirs[k]) for k in mine]
    for a, b in pairs:
        if same_bits(a, b):
            continue
        if expr.chaotic and math.isfinite(a) and math.isfinite(b):
            continue
        if expr.ordered and a == b:  # 0 and -0: the order of a min/max decides
            continue
        close = math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
        if expr.inexact and (ulps_apart(a, b) <= 4 or math.isclose(a, b, rel_tol=1e-9)):
            continue
        if (expr.ordered or expr.ranked) and close:
            continue
        return f"value {a!r}, promtool {b!r}"
    return None


@pytest.mark.ecosystem
@pytest.mark.parametrize("seed", seeds())
def test_random_promql_agrees_with_promtool(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    interval = rng.choice([10, 15, 30])
    series = input_series(rng)
    grammar = Grammar(rng)
    exprs = [grammar.vector(rng.choice([1, 2, 2, 3])) for _ in range(EXPRS)]
    at = times(rng, interval)
    suite = {"rule_files": [], "evaluation_interval": f"{rng.choice([15, 30, 60])}s",
             "tests": [{"interval": f"{interval}s", "input_series": series,
                        "promql_expr_test": [{"expr": e.text, "eval_time": f"{t}s",
                                              "exp_samples": []} for e in exprs for t in at]}]}
    path = write_suite(tmp_path / "t.yml", suite)
    theirs_rc, _, theirs_err = promtool(path)
    mine_rc, _, mine_err = inferwatch(path)
    theirs, mine = answers(theirs_err), answers(mine_err)
    assert mine_rc == theirs_rc
    problems, compared = [], 0
    by_text = {e.text: e for e in exprs}
    for key in sorted(set(theirs) | set(mine)):
        expr = by_text[eval(key[0])]  # noqa: S307 (a Go-quoted string is a Python literal)
        if (key not in mine or key not in theirs) and not expr.ranked:
            problems.append(f"{key}: only {'promtool' if key in theirs else 'ours'} answered "
                            f"{theirs.get(key, mine.get(key))!r}")
            continue
        if key not in mine or key not in theirs:
            continue  # topk's tie-break chose other series, which a join then dropped
        why = agree(expr, mine[key], theirs[key])
        compared += isinstance(mine[key], dict) and len(mine[key])  # type: ignore[arg-type]
        if why:
            problems.append(f"{key}: {why}\n  ours {mine[key]!r}\n  promtool {theirs[key]!r}")
    assert not problems, f"seed {seed}: {len(problems)} differences:\n" + "\n".join(problems[:8])
    assert compared > 300
