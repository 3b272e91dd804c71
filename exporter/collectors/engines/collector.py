"""EngineCollector: scrape every engine target over one shared session, map each onto the
catalogue, and report per target `engine_up`, the scrape duration and the provenance of each
concept.

Each target is isolated: its scrape is its own task, bounded by its own timeout, the body-size
cap and its limits (`limits.py`: samples, labels), and a run of the collector waits for the
due scrapes only up to its budget, below the loop's timeout. A target that hangs, errs, returns
garbage, an endless body or a page over a limit is marked down with a reason logged once per
change, and never delays the others: every run reports every target's latest families. A page
that does not match its declared kind is down too, logged with the kind detected. Parsing
and normalising run in a worker thread, one at a time per target. Each target runs on its own
interval; between its scrapes its last families are reported again. A concept that had a
native source and loses it is logged and published as `source_lost`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from prometheus_client.core import Metric
from yarl import URL

from inferwatch.core.redact import redact
from inferwatch.exporter.collectors.engines import publish
from inferwatch.exporter.collectors.engines.detect import detect, matches
from inferwatch.exporter.collectors.engines.info import INFO_INTERVAL, InfoFetcher
from inferwatch.exporter.collectors.engines.info import families as info_families
from inferwatch.exporter.collectors.engines.info_parse import Facts, from_families
from inferwatch.exporter.collectors.engines.kinds import AUTO, MAPPINGS, metrics_paths
from inferwatch.exporter.collectors.engines.limits import LimitExceeded, Limits, clip
from inferwatch.exporter.collectors.engines.normalise import Normalised, normalise
from inferwatch.exporter.collectors.engines.scrape import NotFound, ScrapeError, fetch
from inferwatch.exporter.collectors.engines.targets import Target
from inferwatch.exposition.parser import Family, ParseError, parse

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
TIMEOUT_MARGIN = 1.0  # the collector's own timeout above its slowest target's
WAIT_MARGIN = 0.5  # a run waits for its scrapes this long past the slowest target's timeout
SLOW_SHARE = 0.5  # a run does not wait for a target whose last scrape took this share of
# its timeout
MODEL_CHARS = 200  # of a model name in a log line


@dataclass(frozen=True)
class ScrapeTarget:
    """A target with its own interval and timeout (None: the collector's)."""

    target: Target
    interval: float | None = None
    timeout: float | None = None
    limits: Limits | None = None  # None: the collector's


@dataclass
class _State:
    """What the collector knows of one target."""

    target: Target
    interval: float
    timeout: float
    limits: Limits
    engine: str
    shown: str  # the target URL as labels and logs show it: without credentials
    url: str = ""  # the URL that served metrics last (after trying the candidate paths)
    up: bool | None = None
    error: str = ""
    sources: publish.Provenance = field(default_factory=dict)
    lost: publish.Provenance = field(default_factory=dict)
    families: list[Metric] = field(default_factory=list)
    next_due: float = 0.0
    reason: str = ""  # what `error` is logged by: the limit's name for a limit, else error
    problems: frozenset[str] = frozenset()  # the normaliser's, logged when they change
    exceeded: dict[str, int] = field(default_factory=publish.no_limits_exceeded)
    task: asyncio.Task | None = None  # the scrape in progress
    role: str = "both"  # the engine's, else the target's, else both
    busy: asyncio.Future | None = None  # its worker thread (which a timeout cannot stop)
    duration: float = 0.0  # of its last scrape, seconds


class EngineCollector:
    """All engine targets of this exporter; `set_targets` replaces them (discovery)."""

    name = "engines"

    def __init__(self, targets: Iterable[Target | ScrapeTarget], interval: float = 10.0,
                 timeout: float = 5.0, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 clock: Callable[[], float] = time.monotonic,
                 discovered: Callable[[], Iterable[Target]] | None = None,
                 limits: Limits | None = None, info_interval: float = INFO_INTERVAL):
        """`discovered`, when given, is read every cycle (Kubernetes discovery) and its
        targets are scraped beside the static ones, with the default `limits`.
        `info_interval`: seconds between two fetches of a target's info endpoints."""
        self.default_interval, self.default_timeout = interval, timeout
        self.default_limits = limits or Limits()
        self._static = list(targets)
        self._discovered = discovered
        self.max_body_bytes = max_body_bytes
        self._clock = clock
        self._states: dict[Target, _State] = {}
        self._session: aiohttp.ClientSession | None = None
        self._closing: asyncio.Task | None = None
        self._info = InfoFetcher(info_interval, clock=clock)  # on their own interval
        self._page_facts: dict[Target, Facts] = {}  # of each target's config-info families
        # set by the collector loop: called when a scrape no run waited for lands, so that
        # its series are published then rather than at the next run
        self.on_update: Callable[[], None] | None = None
        self._waiting = False  # a run is waiting for its scrapes
        self.set_targets(targets)
        self.interval = min([interval, *(s.interval for s in self._states.values())])

    @classmethod
    def from_config(cls, cfg: Any, engines: Iterable[Any],
                    discovered: Callable[[], Iterable[Target]] | None = None) -> EngineCollector:
        """From `collectors.engines` (EnginesCollectorConfig) and the `engines` targets
        (EngineTarget): intervals, timeouts and limits, each target's over the defaults."""
        defaults = Limits().override(cfg)
        targets = [ScrapeTarget(Target(e.kind, e.url, e.namespace, e.pod, e.role), e.interval,
                                e.timeout, defaults.override(e)) for e in engines]
        return cls(targets, interval=cfg.interval, timeout=cfg.timeout,
                   max_body_bytes=cfg.max_body_bytes, discovered=discovered, limits=defaults,
                   info_interval=cfg.info_interval)

    @property
    def timeout(self) -> float:
        """The loop's bound on a whole run: the slowest target's timeout plus a margin."""
        slowest = max([self.default_timeout, *(s.timeout for s in self._states.values())])
        return slowest + TIMEOUT_MARGIN

    def set_targets(self, targets: Iterable[Target | ScrapeTarget]) -> None:
        """Scrape these targets from now on; known ones keep their state."""
        states = {}
        for item in targets:
            st = item if isinstance(item, ScrapeTarget) else ScrapeTarget(item)
            states[st.target] = self._states.get(st.target) or _State(
                st.target, st.interval or self.default_interval,
                st.timeout or self.default_timeout, st.limits or self.default_limits,
                st.target.kind, redact(st.target.url), role=st.target.role or "both")
        for gone in self._states.keys() - states.keys():
            task = self._states[gone].task
            if task is not None:
                task.cancel()
            self._info.forget(gone)  # a target that comes back is fetched afresh
            self._page_facts.pop(gone, None)
        self._states = states

    async def collect(self) -> list[Metric]:
        if self._discovered is not None:
            self.set_targets([*self._static, *self._discovered()])
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(
                total=self.timeout), raise_for_status=False)
        now = self._clock()
        for state in self._states.values():
            if state.next_due <= now and (state.task is None or state.task.done()):
                state.next_due = now + state.interval
                state.task = asyncio.create_task(self._scrape(self._session, state),
                                                 name=f"engine-scrape {state.shown[:200]}")
                state.task.add_done_callback(_retrieve)
        waited = [s.task for s in self._states.values()
                  if s.task and not s.task.done() and _waited_for(s)]
        if waited:  # the others keep their last families until theirs land (on_update)
            self._waiting = True
            try:
                await asyncio.wait(waited, timeout=self.timeout - TIMEOUT_MARGIN + WAIT_MARGIN)
            finally:
                self._waiting = False
        return self.families()

    def families(self) -> list[Metric]:
        """Every target's latest series (health, samples, provenance, model facts)."""
        return [f for s in self._states.values() for f in [*s.families, *self._facts(s)]]

    def _facts(self, state: _State) -> list[Metric]:
        """The model facts of a target that is up, starting its info fetch when due (never
        awaited): a down target publishes its health only."""
        if not state.up or state.engine not in MAPPINGS:
            return []
        assert self._session is not None
        self._info.start_due(self._session, state.target, state.engine,
                             state.url or state.target.url, state.timeout, state.shown)
        ident = publish.Identity(state.engine, state.shown, _extra(state.target), state.role)
        return info_families(ident, _model(state.sources),
                             self._page_facts.get(state.target, Facts()),
                             self._info.states.get(state.target))

    async def _scrape(self, session: aiohttp.ClientSession, state: _State) -> None:
        """One target: never raises, always leaves `up` and the duration in its families."""
        start = time.perf_counter()
        error = reason = ""
        norm = None
        try:
            async with asyncio.timeout(state.timeout):
                norm = await self._scrape_once(session, state)
        except TimeoutError:
            error = f"timed out after {state.timeout:g}s"
        except LimitExceeded as err:
            error, reason = str(err), err.limit
            state.exceeded[err.limit] += 1
        except (ScrapeError, ParseError) as err:
            error = str(err)
        except Exception as err:  # a bug on one target's input must not fail the others
            error = redact(f"crashed: {type(err).__name__}: {err}")
            log.debug("engine target=%s crashed", state.shown, exc_info=True)
        duration = time.perf_counter() - start
        self._report(state, error, reason)
        if norm is not None:  # the engine's own word on its role over the config's
            state.role = norm.role or state.target.role or "both"
        ident = publish.Identity(state.engine, state.shown, _extra(state.target), state.role)
        limited = publish.limits_exceeded(ident, state.exceeded)
        state.duration = duration
        if norm is None:
            state.families = [*publish.health(ident, _model(state.sources), False, duration),
                              *limited]
        else:
            _track(state, norm)
            state.families = [*publish.health(ident, _model(norm.sources), True, duration),
                              *limited, *publish.series(ident, norm),
                              *publish.provenance(ident, norm.sources, state.lost,
                                                  len(norm.unmapped))]
        if not self._waiting and self.on_update is not None:
            self.on_update()  # landed after its run returned: published now

    async def _scrape_once(self, session: aiohttp.ClientSession, state: _State) -> Normalised:
        body = await self._fetch_metrics(session, state)
        families = await _in_thread(state, _parse, body, self.max_body_bytes, state.limits)
        engine = _engine(state, families)
        self._page_facts[state.target] = from_families(families)
        mapping = MAPPINGS[engine]
        model = await self._info_model(session, state, engine) if mapping.model_from_info else ""
        norm = await _in_thread(state, normalise, families, mapping, model or "unknown")
        problems = frozenset(norm.problems)
        for problem in sorted(problems - state.problems):
            log.warning("engine target=%s: %s", state.shown, clip(problem))
        state.problems = problems
        return norm

    async def _fetch_metrics(self, session: aiohttp.ClientSession, state: _State) -> bytes:
        """The body, trying each candidate path when the URL names none."""
        candidates = [state.url] if state.url else _candidates(state.target)
        for url in candidates[:-1]:
            try:
                body = await fetch(session, url, state.timeout, self.max_body_bytes)
            except NotFound:
                continue
            state.url = url
            return body
        body = await fetch(session, candidates[-1], state.timeout, self.max_body_bytes)
        state.url = candidates[-1]
        return body

    async def _info_model(self, session: aiohttp.ClientSession, state: _State,
                          engine: str) -> str:
        """The served model's name from the info endpoints' fetch (started now when due, on
        its own interval and timeout); "" until they answer. Only a target's first scrape
        waits for that fetch, a quarter of its timeout at most, so that its first series
        carry the model when the engine answers at once; a hanging endpoint delays nothing."""
        self._info.start_due(session, state.target, engine, state.url or state.target.url,
                             state.timeout, state.shown)
        info = self._info.states.get(state.target)
        if info is None:
            return ""
        if info.up is None and info.task is not None and not info.task.done():
            await asyncio.wait({info.task}, timeout=state.timeout / 4)
        return info.facts.model

    def _report(self, state: _State, error: str, reason: str = "") -> None:
        """Log a target going down (with the reason) or coming back, once per change: a
        limit is logged once while the target stays over it, whatever the counts."""
        reason = reason or error
        if error and reason != state.reason:
            log.warning("engine target=%s down: %s", state.shown, clip(error))
        elif not error and state.up is False:
            log.info("engine target=%s is up again", state.shown)
        state.up, state.error, state.reason = not error, error, reason

    def _cancel(self) -> list[asyncio.Task]:
        tasks = [s.task for s in self._states.values() if s.task and not s.task.done()]
        tasks += self._info.cancel()
        for task in tasks:
            task.cancel()
        return tasks

    def close(self) -> None:
        """Cancel the scrapes and close the shared session on the running loop (the
        collector loop's stop)."""
        tasks = self._cancel()
        if self._session is not None and not self._session.closed:
            self._closing = asyncio.get_running_loop().create_task(self._close(tasks))
            self._closing.add_done_callback(_retrieve)

    async def _close(self, tasks: list[asyncio.Task]) -> None:
        if tasks:
            await asyncio.wait(tasks)
        if self._session is not None:
            await self._session.close()

    async def aclose(self) -> None:
        await self._close(self._cancel())


def _parse(body: bytes, max_bytes: int, limits: Limits) -> dict[str, Family]:
    """The parsed body, or LimitExceeded (the sample count checked before parsing)."""
    limits.check_body(body)
    families = parse(body, max_bytes=max_bytes)
    limits.check_families(families, limits.label_checks_needed(body))
    return families


async def _in_thread(state: _State, fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args) in a worker thread, one at a time per target: a thread that outlived its
    scrape's timeout (it cannot be stopped) fails the next scrape instead of piling up."""
    if state.busy is not None and not state.busy.done():
        raise ScrapeError("the previous scrape's parsing is still running")
    state.busy = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    state.busy.add_done_callback(_retrieve)
    return await asyncio.shield(state.busy)


def _waited_for(state: _State) -> bool:
    """A run waits for a target's scrape unless its last one was slow (half its timeout or
    more, a timeout included): a target that hangs or takes long delays no other's series."""
    return state.duration < SLOW_SHARE * state.timeout


def _retrieve(fut: asyncio.Future) -> None:
    """Consume an outcome nobody may await any more (a cancelled or timed-out scrape)."""
    if not fut.cancelled():
        fut.exception()


def _candidates(target: Target) -> list[str]:
    url = URL(target.url)
    if url.path not in ("", "/"):
        return [target.url]
    return [str(url.with_path(p)) for p in metrics_paths(target.kind)]


def _engine(state: _State, families: dict[str, Family]) -> str:
    """The configured kind, or the detected one for `auto` (ScrapeError when unknown). A
    declared kind the page does not match is a ScrapeError naming the kind detected: the target
    is down, logged once, rather than up with nothing mapped."""
    if state.target.kind != AUTO:
        if state.target.kind in MAPPINGS and not matches(families, state.target.kind):
            raise ScrapeError(f"declared kind {state.target.kind}, but the page serves "
                              f"{detect(families) or 'no known engine'} metrics")
        return state.target.kind
    kind = detect(families)
    if kind is None:
        raise ScrapeError("kind auto: no known engine metric in the body")
    if kind != state.engine:
        log.info("engine target=%s detected as %s", state.shown, kind)
        state.engine, state.sources, state.lost = kind, {}, {}
    return kind


def _extra(target: Target) -> tuple[tuple[str, str], ...]:
    return (("namespace", target.namespace), ("pod", target.pod)) if target.pod else ()


def _model(sources: publish.Provenance) -> str:
    """The model label of per-target series: the one model served, else empty."""
    models = {model for _, model in sources}
    return models.pop() if len(models) == 1 else ""


def _track(state: _State, norm: Normalised) -> None:
    """Log and remember concepts that lost their source, found it again or changed it."""
    url = state.shown
    for key, old in state.sources.items():
        new = norm.sources.get(key)
        if new is None:
            state.lost[key] = old
            log.warning("engine target=%s concept=%s model=%s lost its source %s (renamed or "
                        "removed by the engine?)", url, key[0], clip(key[1], MODEL_CHARS), old)
        elif new != old:
            log.info("engine target=%s concept=%s source %s -> %s", url, key[0], old, new)
    for key in [k for k in state.lost if k in norm.sources]:
        log.info("engine target=%s concept=%s has a source again: %s", url, key[0],
                 norm.sources[key])
        del state.lost[key]
    state.sources = dict(norm.sources)
