"""EngineCollector: scrape every engine target over one shared session, map each onto the
catalogue, and report per target `engine_up`, the scrape duration and the provenance of each
concept.

Targets are scraped concurrently, each bounded by its own timeout (below the collection
interval) and the body-size cap, so one that hangs, errs, returns garbage or a truncated or
endless body is marked down with a logged reason and never delays or touches the others. Each
target runs on its own interval; between its scrapes its last families are reported again.
A concept that had a native source and loses it is logged and published as `source_lost`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import aiohttp
from prometheus_client.core import Metric
from yarl import URL

from inferwatch.core.redact import redact
from inferwatch.exporter.collectors.engines import publish
from inferwatch.exporter.collectors.engines.detect import detect
from inferwatch.exporter.collectors.engines.kinds import AUTO, MAPPINGS, metrics_paths
from inferwatch.exporter.collectors.engines.normalise import Normalised, normalise
from inferwatch.exporter.collectors.engines.scrape import NotFound, ScrapeError, fetch, fetch_json
from inferwatch.exporter.collectors.engines.targets import Target
from inferwatch.exposition.parser import Family, ParseError, parse

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
INFO_TRIES = 3  # attempts at an engine's info endpoint (the model name) before giving up
TIMEOUT_MARGIN = 1.0  # the collector's own timeout above its slowest target's


@dataclass(frozen=True)
class ScrapeTarget:
    """A target with its own interval and timeout (None: the collector's)."""

    target: Target
    interval: float | None = None
    timeout: float | None = None


@dataclass
class _State:
    """What the collector knows of one target."""

    target: Target
    interval: float
    timeout: float
    engine: str
    shown: str  # the target URL as labels and logs show it: without credentials
    url: str = ""  # the URL that served metrics last (after trying the candidate paths)
    info_model: str = ""
    info_tries: int = 0
    up: bool | None = None
    error: str = ""
    sources: publish.Provenance = field(default_factory=dict)
    lost: publish.Provenance = field(default_factory=dict)
    families: list[Metric] = field(default_factory=list)
    next_due: float = 0.0


class EngineCollector:
    """All engine targets of this exporter; `set_targets` replaces them (discovery)."""

    name = "engines"

    def __init__(self, targets: Iterable[Target | ScrapeTarget], interval: float = 10.0,
                 timeout: float = 5.0, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 clock: Callable[[], float] = time.monotonic,
                 discovered: Callable[[], Iterable[Target]] | None = None):
        """`discovered`, when given, is read every cycle (Kubernetes discovery) and its
        targets are scraped beside the static ones."""
        self.default_interval, self.default_timeout = interval, timeout
        self._static = list(targets)
        self._discovered = discovered
        self.max_body_bytes = max_body_bytes
        self._clock = clock
        self._states: dict[Target, _State] = {}
        self._session: aiohttp.ClientSession | None = None
        self._closing: asyncio.Task | None = None
        self.set_targets(targets)
        self.interval = min([interval, *(s.interval for s in self._states.values())])

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
                st.timeout or self.default_timeout, st.target.kind, redact(st.target.url))
        self._states = states

    async def collect(self) -> list[Metric]:
        if self._discovered is not None:
            self.set_targets([*self._static, *self._discovered()])
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(
                total=self.timeout), raise_for_status=False)
        now = self._clock()
        due = [s for s in self._states.values() if s.next_due <= now]
        await asyncio.gather(*(self._scrape(self._session, s, now) for s in due))
        return [f for s in self._states.values() for f in s.families]

    async def _scrape(self, session: aiohttp.ClientSession, state: _State, now: float) -> None:
        """One target: never raises, always leaves `up` and the duration in its families."""
        state.next_due = now + state.interval
        start = time.perf_counter()
        try:
            norm = await asyncio.wait_for(self._scrape_once(session, state), state.timeout)
            error = ""
        except TimeoutError:
            norm, error = None, f"timed out after {state.timeout:g}s"
        except (ScrapeError, ParseError) as err:
            norm, error = None, str(err)
        except Exception as err:  # a bug on one target's input must not fail the others
            norm, error = None, redact(f"crashed: {type(err).__name__}: {err}")
            log.debug("engine target=%s crashed", state.shown, exc_info=True)
        duration = time.perf_counter() - start
        self._report(state, error)
        ident = publish.Identity(state.engine, state.shown, _extra(state.target))
        if norm is None:
            state.families = publish.health(ident, _model(state.sources), False, duration)
            return
        _track(state, norm)
        state.families = [*publish.health(ident, _model(norm.sources), True, duration),
                          *publish.series(ident, norm),
                          *publish.provenance(ident, norm.sources, state.lost,
                                              len(norm.unmapped))]

    async def _scrape_once(self, session: aiohttp.ClientSession, state: _State) -> Normalised:
        body = await self._fetch_metrics(session, state)
        families = await asyncio.to_thread(parse, body, max_bytes=self.max_body_bytes)
        engine = _engine(state, families)
        mapping = MAPPINGS[engine]
        if mapping.info and not state.info_model and state.info_tries < INFO_TRIES:
            state.info_model = await self._info_model(session, state, *mapping.info)
        norm = await asyncio.to_thread(normalise, families, mapping, state.info_model or
                                       "unknown")
        for problem in norm.problems:
            log.warning("engine target=%s: %s", state.shown, problem)
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

    async def _info_model(self, session: aiohttp.ClientSession, state: _State, path: str,
                          key: str) -> str:
        """The served model's name from the engine's info endpoint; "" when unavailable."""
        state.info_tries += 1
        url = str(URL(state.url or state.target.url).with_path(path).with_query(None))
        try:
            doc = await fetch_json(session, url, state.timeout, self.max_body_bytes)
        except ScrapeError as err:
            log.info("engine target=%s: no model name from %s: %s", state.shown, redact(url),
                     err)
            return ""
        value = doc.get(key) if isinstance(doc, dict) else None
        return value if isinstance(value, str) else ""

    def _report(self, state: _State, error: str) -> None:
        """Log a target going down (with the reason) or coming back, once per change."""
        if error and error != state.error:
            log.warning("engine target=%s down: %s", state.shown, error)
        elif not error and state.up is False:
            log.info("engine target=%s is up again", state.shown)
        state.up, state.error = not error, error

    def close(self) -> None:
        """Close the shared session on the running loop (the collector loop's stop)."""
        if self._session is not None and not self._session.closed:
            self._closing = asyncio.get_running_loop().create_task(self._session.close())

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def _candidates(target: Target) -> list[str]:
    url = URL(target.url)
    if url.path not in ("", "/"):
        return [target.url]
    return [str(url.with_path(p)) for p in metrics_paths(target.kind)]


def _engine(state: _State, families: dict[str, Family]) -> str:
    """The configured kind, or the detected one for `auto` (ScrapeError when unknown)."""
    if state.target.kind != AUTO:
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
                        "removed by the engine?)", url, key[0], key[1], old)
        elif new != old:
            log.info("engine target=%s concept=%s source %s -> %s", url, key[0], old, new)
    for key in [k for k in state.lost if k in norm.sources]:
        log.info("engine target=%s concept=%s has a source again: %s", url, key[0],
                 norm.sources[key])
        del state.lost[key]
    state.sources = dict(norm.sources)
