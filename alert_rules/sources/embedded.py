"""The embedded source: scrape exporters' /metrics into a bounded Window and evaluate the
compiled rule trees, or a Prometheus rule file's PromQL, there, as a Prometheus that scraped
the same targets would (recording rules and ALERTS written back into the window).

Like Prometheus, every scraped series gets `job` and `instance` (a clashing exported label is
kept as `exported_<name>`), each target has an `up` series, and a failed scrape marks the
target's series stale. The window keeps `retention` of history: a rule reading a longer range
sees what a Prometheus started `retention` ago would see.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from inferwatch.alert_rules.compile import RecordingRule
from inferwatch.alert_rules.evaluate import RuleState, Sample
from inferwatch.alert_rules.promql import Node
from inferwatch.alert_rules.promql_ast import PromQLError
from inferwatch.alert_rules.promql_ast import parse as parse_promql
from inferwatch.alert_rules.sources import SourceError
from inferwatch.alert_rules.sources.evaluator_core import PromQLEvaluator
from inferwatch.alert_rules.sources.promql_eval import EvalError, Evaluator, Labels, Vector
from inferwatch.alert_rules.sources.recording import alert_series, record_samples
from inferwatch.alert_rules.sources.window import Keyed, LabelKey, Window
from inferwatch.core.regex import RegexError
from inferwatch.exposition.parser import parse

ALERT_NAMES = {"ALERTS", "ALERTS_FOR_STATE"}
ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    url: str
    job: str = "inferwatch"

    @property
    def instance(self) -> str:
        return urlsplit(self.url).netloc


class Labeller:
    """One target's parsed samples as the window's (key, labels, value): Prometheus's target
    labels added once per series, not once per scrape (a series' labels are cached while the
    target keeps returning it)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._cache: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[LabelKey, Labels]] = {}

    def samples(self, text: str) -> list[Keyed]:
        """Samples of a text exposition (ParseError, a ValueError, when it is not one)."""
        old, new = self._cache, {}
        out: list[Keyed] = []
        for family in parse(text).values():
            for name, pairs, value in family.samples:
                made = old.get((name, pairs)) or self._make(name, pairs)
                new[(name, pairs)] = made
                out.append((made[0], made[1], value))
        self._cache = new
        return out

    def _make(self, name: str, pairs: tuple[tuple[str, str], ...]) -> tuple[LabelKey, Labels]:
        labels = {"__name__": name}
        for label, value in pairs:
            labels[f"exported_{label}" if label in ("job", "instance") else label] = value
        labels.update(job=self.target.job, instance=self.target.instance)
        return tuple(sorted(labels.items())), labels


class EmbeddedSource:
    """Scrapes on demand (`scrape(now)`), answers instant queries from its window. Each
    target's scrape error is logged when it starts or changes and its recovery once;
    `errors` holds the current ones, `failures` counts them."""

    name = "embedded"

    def __init__(self, targets: list[Target], retention: float, timeout: float = 10.0):
        self.targets = targets
        self.errors: dict[str, str] = {}  # target URL → why its last scrape failed
        self.failures = {t.url: 0 for t in targets}
        self.window = Window(int(retention * 1000))
        self.timeout = timeout
        self._labellers = {t.url: Labeller(t) for t in targets}
        self._session: aiohttp.ClientSession | None = None
        self._memo_t: int | None = None
        self._memo: dict[Node, Vector] = {}
        self.promql = PromQLEvaluator(self.window)  # rule files' PromQL (promql_ast trees)
        self._written: dict[str, bool] = {}  # rule → whether its last write had samples

    async def __aenter__(self) -> EmbeddedSource:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def scrape(self, now: float) -> None:
        """Scrape every target concurrently; samples are stamped with `now` (seconds)."""
        t = int(now * 1000)
        await asyncio.gather(*(self._scrape_one(target, t) for target in self.targets))
        self.window.prune(t)
        self._memo_t = None  # the window changed: results memoised at any time are void
        self.promql.clear()

    async def _scrape_one(self, target: Target, t: int) -> None:
        up = {"__name__": "up", "job": target.job, "instance": target.instance}
        up_key = tuple(sorted(up.items()))
        try:
            text = await self._fetch(target.url)
            samples = self._labellers[target.url].samples(text)
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            self._failed(target.url, f"{type(err).__name__}: {err}".rstrip(": "))
            self.window.ingest_keyed(target.url, [(up_key, up, 0.0)], t)  # all else goes stale
            return
        if self.errors.pop(target.url, None) is not None:
            log.info("scrape works again", extra={"target": target.url})
        self.window.ingest_keyed(target.url, [*samples, (up_key, up, 1.0)], t)

    def _failed(self, url: str, error: str) -> None:
        self.failures[url] += 1
        if self.errors.get(url) != error:
            log.warning("scrape failed", extra={"target": url, "error": error})
        self.errors[url] = error

    def failure_counts(self) -> dict[tuple[str, str], int]:
        return {("scrape", url): n for url, n in self.failures.items()}

    async def _fetch(self, url: str) -> str:
        if self._session is None:
            raise RuntimeError("use `async with EmbeddedSource(...)`")
        async with self._session.get(url, headers={"Accept": ACCEPT}) as resp:
            if resp.status != 200:
                raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status)
            return await resp.text()

    async def instant(self, expr: Node | str, ts: float) -> list[Sample]:
        """Evaluate a compiled tree, or PromQL text (a rule file's), at ts."""
        if isinstance(expr, str):
            return self.evaluate_text(expr, ts)
        return self.evaluate(expr, ts)

    def evaluate_text(self, text: str, ts: float) -> list[Sample]:
        try:
            return self.promql.instant(parse_promql(text), int(ts * 1000))
        except (PromQLError, EvalError, RegexError) as err:
            raise SourceError(str(err)) from None

    async def record(self, rule: RecordingRule, rule_id: str, ts: float) -> None:
        """A recording rule: its result written into the window at ts (a series it no longer
        returns goes stale), so that the rules after it, and later ranges, read it."""
        self._write(f"record:{rule_id}", record_samples(rule, self.evaluate_text(rule.expr, ts)),
                    ts, {rule.name})

    def write_alerts(self, state: RuleState, ts: float) -> None:
        """An alerting rule's ALERTS and ALERTS_FOR_STATE series, as Prometheus writes them."""
        self._write(f"alerts:{state.rule.rule_id}", alert_series(state), ts, ALERT_NAMES)

    def _write(self, target: str, samples: list[tuple[Labels, float]], ts: float,
               names: set[str]) -> None:
        """A rule's samples (of the metric `names`) into the window; the PromQL results that
        read those names are forgotten, the others stay memoised for the next rules."""
        if samples or self._written.get(target):
            self.window.ingest(target, samples, int(ts * 1000))
            self.promql.invalidate(names)
            self._memo_t = None
        self._written[target] = bool(samples)

    def evaluate(self, expr: Node, ts: float) -> list[Sample]:
        t = int(ts * 1000)
        if t != self._memo_t:
            self._memo_t, self._memo = t, {}
        try:
            result = Evaluator(self.window, t, self._memo).vector(expr)
        except (EvalError, RegexError) as err:
            raise SourceError(str(err)) from None
        return result
