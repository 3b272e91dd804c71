"""Silences.muted_by through the index and its cache answers exactly as trying every silence."""

from __future__ import annotations

import random

import pytest

from inferwatch.notifier import silenceindex
from inferwatch.notifier.matchers import Matcher
from inferwatch.notifier.silenceindex import SilenceIndex
from inferwatch.notifier.silences import Silence, Silences

NAMES = ("alertname", "pod", "team", "env")
VALUES = ("", "a", "ab", "p-1", "p-12", "x\ny", "é", "\ud800")
PATTERNS = ("a.*", ".*", "", "p-[0-9]+", "(?i)A", "p-1|ab", "x.y", "\\pL", "[[:alpha:]]+")


class _Rows:
    def silence_rows(self) -> list[str]:
        return []

    def save_silence(self, *args: object) -> None:
        pass

    def delete_silences(self, ids: list[str]) -> None:
        pass


def _matcher(rng: random.Random) -> Matcher:
    op = rng.choice(("=", "!=", "=~", "!~"))
    value = rng.choice(PATTERNS if "~" in op else VALUES[:7])
    return Matcher.make(rng.choice(NAMES), op, value)


def _silences(rng: random.Random, count: int) -> list[Silence]:
    found: list[Silence] = []
    while len(found) < count:
        matchers = tuple(_matcher(rng) for _ in range(rng.randint(1, 3)))
        if len(found) > 1 and all(m.matches({}) for m in matchers):
            continue  # only two that match everything (read, as they can never be set)
        start = rng.choice((0.0, 50.0, 150.0))  # active, active from 50, pending until 150
        found.append(Silence(f"s{len(found):03}", matchers, start, rng.choice((40.0, 1e9)),
                             "t", "", 0))
    return found


def _labels(rng: random.Random) -> dict[str, str]:
    return {n: rng.choice(VALUES) for n in NAMES if rng.random() < 0.8}


def _brute(silences: list[Silence], labels: dict[str, str], now: float) -> list[str]:
    return sorted(s.id for s in silences if s.mutes(labels, now))


@pytest.mark.parametrize("seed", range(5))
def test_index_and_cache_agree_with_every_silence_tried(seed: int) -> None:
    rng = random.Random(seed)
    every = _silences(rng, 80)
    store = Silences(_Rows())
    store._all = {s.id: s for s in every}
    store._changed()
    label_sets = [_labels(rng) for _ in range(400)]
    muted = checks = 0
    for now in (10.0, 45.0, 100.0, 200.0, 10.0):  # the cache keeps matching, not the state
        for labels in label_sets:
            want = _brute(every, labels, now)
            assert store.muted_by(labels, now) == want, (labels, now)
            muted, checks = muted + len(want), checks + len(every)
    assert 0.01 < muted / checks < 0.5


def test_a_change_is_seen_at_once() -> None:
    store = Silences(_Rows())
    labels = {"alertname": "A", "pod": "p-1"}
    assert store.muted_by(labels, 10) == []
    sid = store.set(Silence("", (Matcher.make("pod", "=~", "p-.*"),), 0, 100, "t", "", 0), 10)
    assert store.muted_by(labels, 10) == [sid]
    store.expire(sid, 20)
    assert store.muted_by(labels, 20) == []
    other = store.set(Silence("", (Matcher.make("alertname", "=", "A"),), 30, 100, "t", "", 0),
                      25)
    assert store.muted_by(labels, 29) == [] and store.muted_by(labels, 30) == [other]
    store.gc(before=1000)
    assert store.muted_by(labels, 30) == []


def test_a_set_the_dfa_gives_up_on_falls_back_to_each_regex() -> None:
    silences = [Silence(f"s{i}", (Matcher.make("pod", "=~", f"p-{i}.*"),), 0, 9, "t", "", 0)
                for i in range(20)]
    index = SilenceIndex(silences)
    assert sorted(index.candidates({"pod": "p-12"})) == ["s1", "s12"]

    class GaveUp:
        def Match(self, data: bytes) -> list[int]:  # noqa: N802 (the binding's name)
            return []

    [chunk] = index.regex["pod"]
    chunk.set._set = GaveUp()
    assert sorted(index.candidates({"pod": "p-12"})) == ["s1", "s12"]


def test_sets_are_chunked_and_one_over_budget_is_tried_regex_by_regex(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(silenceindex, "CHUNK", 7)
    tight = silenceindex.re2.Options()
    tight.log_errors, tight.max_mem = False, 1 << 10  # too small for any Set to compile
    silences = [Silence(f"s{i}", (Matcher.make("pod", "=~", f"p-{i}"),), 0, 9, "t", "", 0)
                for i in range(20)]
    assert [len(c.pairs) for c in SilenceIndex(silences).regex["pod"]] == [7, 7, 6]
    monkeypatch.setattr(silenceindex, "_OPTIONS", tight)
    index = SilenceIndex(silences)
    assert all(c.set is None for c in index.regex["pod"])
    assert index.candidates({"pod": "p-13"}) == ["s13"]
