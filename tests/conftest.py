"""Fixtures for every test; the helpers themselves live in tests/support/."""

from __future__ import annotations

import asyncio
import logging
import subprocess
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web

from tests.support.kubeapi import FakeApi


@pytest.fixture(autouse=True)
def restore_root_logging() -> Iterator[None]:
    """A command run in process (`main([...])`) configures the root logger as a process does
    (`setup_logging`: its level, its handler); put it back so later tests still see warnings."""
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    yield
    root.setLevel(level)
    root.handlers[:] = handlers


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen]]:
    """A list to append subprocesses to; each is terminated (then killed) afterwards."""
    procs: list[subprocess.Popen] = []
    yield procs
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


@pytest.fixture
async def async_processes() -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """The asyncio form of `processes`, for tests whose event loop also serves a peer."""
    procs: list[asyncio.subprocess.Process] = []
    yield procs
    for p in procs:
        if p.returncode is None:
            p.terminate()
    for p in procs:
        try:
            await asyncio.wait_for(p.wait(), 10)
        except TimeoutError:
            p.kill()
            await p.wait()


@pytest.fixture
async def fake_api(aiohttp_server) -> AsyncIterator[tuple[FakeApi, str]]:
    """A loopback Kubernetes API server (tests/support/kubeapi.py) and its base URL."""
    api = FakeApi()
    app = web.Application()
    app.router.add_get("/api/v1/pods", api.handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    yield api, str(server.make_url("")).rstrip("/")
    await api.drop_watches()
