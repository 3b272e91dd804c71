"""A loopback Kubernetes API server for pods: list (paged), watch (chunked JSON lines).

It keeps an event history with resourceVersions like etcd; a watch from a version older than
the compacted one gets 410 (an ERROR event as the real server sends, or an HTTP 410 status);
`drop_watches()` cuts live watch connections without the terminating chunk; `fail_next`
answers error statuses. Every request is recorded for assertions on headers and queries.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web

TOKEN = "test-token-7f3a"
NODE = "gpu-node-1"


def pod(name: str, uid: str, *, node: str = NODE, namespace: str = "llm", phase: str = "Running",
        ip: str = "10.1.2.3", annotations: dict[str, str] | None = None,
        containers: dict[str, str] | None = None) -> dict[str, Any]:
    """A pod object shaped like the API's (only the fields inferwatch reads, and some more)."""
    statuses = [{"name": n, "containerID": cid, "ready": True}
                for n, cid in (containers or {}).items()]
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": namespace, "uid": uid,
                         "annotations": annotations or {}, "labels": {"app": name}},
            "spec": {"nodeName": node, "containers": [{"name": "main", "ports": [
                {"containerPort": 8000, "protocol": "TCP", "name": "http"}]}]},
            "status": {"phase": phase, "podIP": ip, "containerStatuses": statuses}}


class FakeApi:
    """The pods resource of an API server, with the knobs the tests need."""

    def __init__(self) -> None:
        self.pods: dict[str, dict[str, Any]] = {}
        self.rv = 1000
        self.events: list[tuple[int, str, dict[str, Any]]] = []
        self.compacted = 0
        self.gone_as_status = False
        self.expire_continue = False  # every continue token is too old (410)
        self.drop_after: int | None = None  # live watches are cut after this many more events
        self.fail_next: list[int] = []  # statuses to answer to the next requests
        self.requests: list[tuple[dict[str, str], dict[str, str]]] = []
        self.watches: list[web.Request] = []
        self.cond = asyncio.Condition()

    # --- changes ---------------------------------------------------------------------------
    async def put(self, obj: dict[str, Any]) -> None:
        kind = "MODIFIED" if obj["metadata"]["uid"] in self.pods else "ADDED"
        await self._record(kind, obj)
        self.pods[obj["metadata"]["uid"]] = self.events[-1][2]

    async def delete(self, uid: str) -> None:
        await self._record("DELETED", self.pods.pop(uid))

    async def bookmark(self) -> None:
        await self._record("BOOKMARK", {"kind": "Pod", "metadata": {}})

    async def _record(self, kind: str, obj: dict[str, Any]) -> None:
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.events.append((self.rv, kind, obj))
        async with self.cond:
            self.cond.notify_all()

    def compact(self) -> None:
        """Forget history: watches from any version seen so far get 410."""
        self.rv += 1
        self.compacted = self.rv

    async def drop_watches(self) -> None:
        """Close every live watch's connection mid-body (no terminating chunk)."""
        for request in self.watches:
            if request.transport is not None:
                request.transport.close()
        self.watches.clear()
        async with self.cond:
            self.cond.notify_all()

    # --- the API ---------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((dict(request.query), dict(request.headers)))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return _status(401, "Unauthorized", "Unauthorized")
        if self.fail_next:
            code = self.fail_next.pop(0)
            return _status(code, "InternalError", f"injected {code}")
        node = request.query.get("fieldSelector", "").removeprefix("spec.nodeName=")
        if request.query.get("watch") in ("1", "true"):
            return await self._watch(request, node)
        return self._list(request, node)

    def _list(self, request: web.Request, node: str) -> web.Response:
        mine = [p for p in self.pods.values() if p["spec"]["nodeName"] == node]
        limit = int(request.query.get("limit", "0") or 0) or len(mine) or 1
        start, rv = 0, self.rv
        if "continue" in request.query:
            rv, start = (int(x) for x in request.query["continue"].split(":"))
            if rv < self.compacted or self.expire_continue:
                return _status(410, "Expired", "The provided continue parameter is too old")
        page = mine[start:start + limit]
        more = start + limit < len(mine)
        meta = {"resourceVersion": str(rv), "continue": f"{rv}:{start + limit}" if more else ""}
        return web.json_response({"kind": "PodList", "apiVersion": "v1", "metadata": meta,
                                  "items": page})

    async def _watch(self, request: web.Request, node: str) -> web.StreamResponse:
        since = int(request.query.get("resourceVersion") or self.rv)
        if since < self.compacted and self.gone_as_status:
            return _status(410, "Expired", f"too old resource version: {since}")
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        if since < self.compacted:
            status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410,
                      "reason": "Expired", "message": f"too old resource version: {since}"}
            await resp.write(json.dumps({"type": "ERROR", "object": status}).encode() + b"\n")
            return resp
        self.watches.append(request)
        deadline = time.monotonic() + float(request.query.get("timeoutSeconds", "300"))
        while time.monotonic() < deadline:
            for rv, kind, obj in [e for e in self.events if e[0] > since]:
                since = rv
                if kind != "BOOKMARK" and obj["spec"]["nodeName"] != node:
                    continue
                if self.drop_after == 0:
                    self.drop_after = None
                    await self.drop_watches()
                if request.transport is None or request.transport.is_closing():
                    return resp
                await resp.write(json.dumps({"type": kind, "object": obj}).encode() + b"\n")
                if self.drop_after:
                    self.drop_after -= 1
            async with self.cond:
                await _wait(self.cond, deadline - time.monotonic())
            if request.transport is None or request.transport.is_closing():
                return resp
        return resp


async def _wait(cond: asyncio.Condition, timeout: float) -> None:
    try:
        await asyncio.wait_for(cond.wait(), max(timeout, 0.001))
    except TimeoutError:
        return


def _status(code: int, reason: str, message: str) -> web.Response:
    return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                              "code": code, "reason": reason, "message": message},
                             status=code)


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait (bounded) until predicate() holds, else fail the test."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        await asyncio.sleep(0.01)
