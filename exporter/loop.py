"""Run each collector on its own interval and timeout; swap in a new snapshot after each run.

A scrape never waits on a collector: it reads `CollectorLoop.snapshot`. A run that fails or
times out marks its collector down (`inferwatch_collector_up 0`) and its series vanish,
except what the collector still reports through `CollectorFailed.families`. A run still
stuck in its worker thread is not started again (single flight), so a wedged driver call
cannot pile up threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from prometheus_client import ProcessCollector
from prometheus_client.core import Metric

from inferwatch import catalog
from inferwatch.core.version import __version__
from inferwatch.exporter.collectors.base import Collector, CollectorFailed
from inferwatch.exporter.snapshot import Snapshot

log = logging.getLogger(__name__)


@dataclass
class CollectorState:
    """What the loop knows of one collector after its last run."""

    up: bool = False
    duration: float = 0.0
    last_success: float | None = None
    families: list[Metric] = field(default_factory=list)
    runs: int = 0
    error: str = ""  # why the last run failed; logged when it changes
    busy: asyncio.Future | None = None  # a run still in its worker thread


class CollectorLoop:
    """Owns the collectors, their state, and the latest snapshot."""

    def __init__(self, collectors: Sequence[Collector],
                 build_labels: Callable[[], dict[str, str]],
                 clock: Callable[[], float] = time.time):
        self.collectors = list(collectors)
        self.states = {c.name: CollectorState() for c in self.collectors}
        self._build_labels = build_labels
        self._clock = clock
        self._process = ProcessCollector(registry=None)
        self._tasks: list[asyncio.Task] = []
        self._dirty = asyncio.Event()
        # parts of the exporter that are not collectors (the OTLP pusher) add their own
        # metrics here; called at each render
        self.reporters: list[Callable[[], list[Metric]]] = []
        self.snapshot = Snapshot(self._self_families())
        self.first_round = asyncio.Event()
        # the forms (openmetrics, gzipped) scrapers have asked for since the start: each
        # new snapshot renders them up front (Prometheus asks for gzipped OpenMetrics only)
        self.wanted: set[tuple[bool, bool]] = set()
        for collector in self.collectors:  # one that publishes between its runs (engines)
            if hasattr(collector, "on_update"):
                collector.on_update = functools.partial(self._republish, collector)

    def _republish(self, collector: Collector) -> None:
        """A collector's series changed between runs: its latest ones into the next snapshot
        (after a run that succeeded; a failed run's state stands until the next)."""
        state = self.states[collector.name]
        if state.up:
            state.families = list(collector.families())
            self._dirty.set()

    async def run_once(self, collector: Collector) -> None:
        """One run of one collector, bounded by its timeout; never raises."""
        state = self.states[collector.name]
        start = time.perf_counter()
        try:
            families = await asyncio.wait_for(self._start(collector, state), collector.timeout)
            state.up, state.families = True, list(families)
            state.last_success = self._clock()
            error = ""
        except TimeoutError:
            state.up, state.families = False, []
            error = f"timed out after {collector.timeout:g}s"
        except CollectorFailed as err:
            state.up, state.families = False, list(err.families)
            error = str(err)
        except Exception as err:  # a bug in one collector must not stop the others
            state.up, state.families = False, []
            error = f"crashed: {type(err).__name__}: {err}"
            log.debug("collector=%s crashed", collector.name, exc_info=True)
        if error != state.error:
            if error:
                log.warning("collector=%s failed: %s", collector.name, error)
            else:
                log.info("collector=%s recovered", collector.name)
            state.error = error
        state.duration = time.perf_counter() - start
        state.runs += 1
        self._dirty.set()

    @staticmethod
    def _start(collector: Collector, state: CollectorState):
        """An awaitable run: a coroutine (cancelled on timeout) or a shielded thread."""
        if inspect.iscoroutinefunction(collector.collect):
            return collector.collect()
        if state.busy is not None and not state.busy.done():
            raise CollectorFailed("previous run still in progress in its worker thread")
        state.busy = asyncio.ensure_future(asyncio.to_thread(collector.collect))
        state.busy.add_done_callback(_retrieve)
        return asyncio.shield(state.busy)

    async def _every(self, collector: Collector) -> None:
        loop = asyncio.get_running_loop()
        next_run = loop.time()
        while True:
            await self.run_once(collector)
            next_run += collector.interval
            now = loop.time()
            if next_run < now:  # overran: skip missed ticks rather than bunching up
                next_run = now + collector.interval - ((now - next_run) % collector.interval)
            await asyncio.sleep(next_run - now)

    async def _renderer(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            families = [f for s in self.states.values() for f in s.families]
            families += self._self_families()
            # asked with the families taken: a run ending during the render is in the next
            complete = all(s.runs for s in self.states.values())
            self.snapshot = await asyncio.to_thread(Snapshot, families, None,
                                                    tuple(self.wanted))
            if complete:
                self.first_round.set()

    def _self_families(self) -> list[Metric]:
        up = catalog.COLLECTOR_UP.family()
        duration = catalog.COLLECTOR_DURATION.family()
        last = catalog.COLLECTOR_LAST_SUCCESS.family()
        for name, state in self.states.items():
            if not state.runs:
                continue
            up.add_metric([name], 1.0 if state.up else 0.0)
            duration.add_metric([name], state.duration)
            if state.last_success is not None:
                last.add_metric([name], state.last_success)
        build = catalog.BUILD_INFO.family()
        labels = self._build_labels()
        build.add_metric([labels.get(k, "") for k in catalog.BUILD_INFO.labels], 1)
        extra = [f for report in self.reporters for f in report()]
        return [up, duration, last, build, *extra, *self._process.collect()]

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._renderer(), name="render")]
        self._tasks += [asyncio.create_task(self._every(c), name=f"collect-{c.name}")
                        for c in self.collectors]

    async def stop(self) -> None:
        """Cancel the loop's tasks and close the collectors. A cancel that lands while
        `wait_for` completes can be swallowed (Python 3.11), so cancel until done."""
        pending = set(self._tasks)
        while pending:
            for task in pending:
                task.cancel()
            _done, pending = await asyncio.wait(pending, timeout=0.1)
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                task.result()
        for c in self.collectors:
            try:
                c.close()
            except Exception:  # closing one must not keep the others open
                log.exception("collector=%s failed to close", c.name)


def _retrieve(fut: asyncio.Future) -> None:
    """Consume a result nobody awaits any more (a run that outlived its timeout)."""
    if not fut.cancelled():
        fut.exception()


def build_labels(nvml_version: str = "") -> dict[str, str]:
    return {"version": __version__, "python_version": platform.python_version(),
            "nvml_version": nvml_version}
