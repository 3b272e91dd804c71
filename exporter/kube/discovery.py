"""Keep the pods of this node current: list, then watch from the list's resourceVersion.

The watch resumes from the last resourceVersion seen (events and bookmarks) when the server
ends it or the connection drops; a 410 Gone (as a status or an ERROR event) lists again.
Failures back off exponentially with jitter, up to a bound. Each change recomputes the
engine Targets and the PodDirectory; readers never wait on the API server.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from prometheus_client.core import Metric

from inferwatch import catalog
from inferwatch.exporter.collectors.engines.targets import Target
from inferwatch.exporter.kube.client import Gone, KubeClient, KubeError
from inferwatch.exporter.kube.pods import BadAnnotations, PodDirectory, target_of

log = logging.getLogger(__name__)


class Backoff:
    """Exponential delays with jitter: initial, doubled per failure, capped at `maximum`."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0,
                 jitter: Callable[[], float] = random.random):
        self.initial, self.maximum = initial, maximum
        self._jitter = jitter
        self._next = initial

    def next(self) -> float:
        delay, self._next = self._next, min(self._next * 2, self.maximum)
        return delay * (0.5 + 0.5 * self._jitter())

    def reset(self) -> None:
        self._next = self.initial


class PodWatcher:
    """The pods of `node_name`, their Targets and a PodDirectory, from one list/watch."""

    def __init__(self, client: KubeClient, node_name: str, *,
                 directory: PodDirectory | None = None, watch_timeout_s: int = 300,
                 backoff: Backoff | None = None):
        self.client = client
        self.field_selector = f"spec.nodeName={node_name}"
        self.directory = directory or PodDirectory()
        self.watch_timeout_s = watch_timeout_s
        self.backoff = backoff or Backoff()
        self.pods: dict[str, dict[str, Any]] = {}  # uid -> pod object
        self.resource_version = ""
        self.restarts: Counter[str] = Counter()
        self.synced = asyncio.Event()  # set after the first successful list
        self.current = False  # listed and watching
        self._targets: tuple[Target, ...] = ()
        self._invalid: dict[str, str] = {}  # namespace/name -> why it is not a target

    def targets(self) -> tuple[Target, ...]:
        """The engine targets on this node now."""
        return self._targets

    async def run(self) -> None:
        """List and watch until cancelled; never raises anything else."""
        need_list = True
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                await self._watch()
                continue
            except Gone as err:
                reason, need_list = "expired", True
                log.info("pod watch expired (%s); listing again", err)
            except KubeError as err:
                reason = "error"
                log.warning("pod list/watch failed: %s", err)
            except Exception as err:  # an object we cannot read must not end discovery
                reason, need_list = "error", True
                log.warning("pod list/watch failed on an unexpected answer: %s: %s",
                            type(err).__name__, err)
                log.debug("pod list/watch crashed", exc_info=True)
            self.current = False
            self.restarts[reason] += 1
            await asyncio.sleep(self.backoff.next())

    async def _list(self) -> None:
        items, version = await self.client.list_pods(self.field_selector)
        self.pods = {_uid(pod): pod for pod in items}
        self.resource_version = version
        self._changed()
        self.backoff.reset()
        self.synced.set()
        log.info("listed %d pods on this node at resourceVersion %s", len(items), version)

    async def _watch(self) -> None:
        """One watch; returns when the server ends it, waiting first if it ended at once."""
        self.current = True
        started, events = time.monotonic(), 0
        stream = self.client.watch_pods(self.field_selector, self.resource_version,
                                        self.watch_timeout_s)
        async for kind, obj in stream:
            events += 1
            self._apply(kind, obj)
        self.restarts["closed"] += 1
        if events or time.monotonic() - started >= 1.0:
            self.backoff.reset()
        else:  # a server that ends every watch at once must not make us spin
            await asyncio.sleep(self.backoff.next())

    def _apply(self, kind: str, obj: dict[str, Any]) -> None:
        version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        if kind in ("ADDED", "MODIFIED"):
            self.pods[_uid(obj)] = obj
        elif kind == "DELETED":
            self.pods.pop(_uid(obj), None)
        elif kind != "BOOKMARK":
            log.debug("ignoring watch event of type %s", kind)
        if version:
            self.resource_version = version
        if kind != "BOOKMARK":
            self._changed()

    def _changed(self) -> None:
        """Recompute targets and the directory from the pods; log what changed."""
        targets, invalid = [], {}
        for pod in self.pods.values():
            try:
                target = target_of(pod)
            except BadAnnotations as err:
                invalid[_key(pod)] = str(err)
                continue
            if target is not None:
                targets.append(target)
        for key, why in invalid.items():
            if self._invalid.get(key) != why:
                log.warning("pod %s is annotated for scraping but %s", key, why)
        new = tuple(sorted(targets, key=lambda t: (t.namespace, t.pod, t.url)))
        for target in set(new) ^ set(self._targets):
            log.info("engine target %s %s/%s %s (%s)", "added" if target in new else "removed",
                     target.namespace, target.pod, target.url, target.kind)
        self._targets, self._invalid = new, invalid
        self.directory.replace(self.pods.values())

    def families(self) -> list[Metric]:
        """Discovery's own state, for the exporter's self-monitoring."""
        values = ((catalog.KUBERNETES_PODS, len(self.pods)),
                  (catalog.KUBERNETES_TARGETS, len(self._targets)),
                  (catalog.KUBERNETES_INVALID_TARGETS, len(self._invalid)),
                  (catalog.KUBERNETES_SYNCED, float(self.current and self.synced.is_set())))
        families = []
        for spec, value in values:
            family = spec.family()
            family.add_metric([], float(value))
            families.append(family)
        restarts = catalog.KUBERNETES_WATCH_RESTARTS.family()
        for reason in ("closed", "error", "expired"):
            restarts.add_metric([reason], float(self.restarts[reason]))
        return [*families, restarts]

    async def lifespan(self, app: web.Application) -> AsyncIterator[None]:
        """For `app.cleanup_ctx`: watch while the app runs, then close the client."""
        task = asyncio.create_task(self.run(), name="kube-pod-watch")
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await self.client.close()


class DiscoveryCollector:
    """Publishes a PodWatcher's state through the collector loop (`async collect`).

    It only reads the watcher's memory, so it runs every second: at 15 s the gauges said
    `synced 0` and `discovered_targets 0` for up to 15 s while the engine collector (which
    reads the watcher every cycle) already served the discovered targets' series."""

    name = "kubernetes"

    def __init__(self, watcher: PodWatcher, interval: float = 1.0, timeout: float = 1.0):
        self.watcher, self.interval, self.timeout = watcher, interval, timeout

    async def collect(self) -> list[Metric]:
        return self.watcher.families()

    def close(self) -> None:
        """Nothing to release: the watcher is stopped by the app's lifespan."""


def _uid(pod: dict[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return str(meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}")


def _key(pod: dict[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"
