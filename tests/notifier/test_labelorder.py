"""The sort keys of notifier/labelorder.py give the orders of Alertmanager's comparisons, written
here as Go writes them (model.LabelSet.Before, types.AlertSlice.Less), over random label sets
that share names, values and prefixes of names."""

from __future__ import annotations

import functools
import random

from inferwatch.notifier.alerts import fingerprint
from inferwatch.notifier.labelorder import alert_key, labelset_key


def go_before(ls: dict[str, str], o: dict[str, str]) -> bool:
    if len(ls) != len(o):
        return len(ls) < len(o)
    for ln in sorted([*ls, *o]):  # Go sorts the names of both, duplicates kept
        if ln not in ls:
            return True
        if ln not in o:
            return False
        if ls[ln] != o[ln]:
            return ls[ln] < o[ln]
    return False


def go_alert_less(a: dict[str, str], b: dict[str, str]) -> bool:
    for key in ("job", "instance"):
        if key not in a and key not in b:
            continue
        if key not in a:
            return False
        if key not in b:
            return True
        if a[key] != b[key]:
            return a[key] < b[key]
    return go_before(a, b)


def label_sets(rng: random.Random, n: int) -> list[dict[str, str]]:
    names = ["a", "ab", "b", "job", "instance", "a_b", "Z", "zz", "é"]
    values = ["", "0", "1", "10", "x", "xé", "ÿ"]
    out = []
    for _ in range(n):
        picked = rng.sample(names, rng.randint(0, 4))
        out.append({k: rng.choice(values[1:]) for k in picked})
    return out


def as_cmp(less):
    return functools.cmp_to_key(lambda x, y: -1 if less(x, y) else (1 if less(y, x) else 0))


def test_labelset_key_orders_as_go_before() -> None:
    rng = random.Random(7)
    for _ in range(200):
        sets = label_sets(rng, 12)
        assert sorted(sets, key=labelset_key) == sorted(sets, key=as_cmp(go_before))


def test_alert_key_orders_as_alertslice_less_and_pairwise() -> None:
    rng = random.Random(11)
    for _ in range(200):
        sets = label_sets(rng, 12)
        keyed = sorted(sets, key=lambda ls: alert_key(fingerprint(ls), ls))
        assert keyed == sorted(sets, key=as_cmp(go_alert_less))
        a, b = sets[0], sets[1]
        assert (alert_key(fingerprint(a), a) < alert_key(fingerprint(b), b)) == \
            go_alert_less(a, b)
