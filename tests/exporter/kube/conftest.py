"""Fixtures of the Kubernetes tests: a loopback API server answering pods list and watch."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.support.kubeapi import FakeApi


@pytest.fixture
async def fake_api(aiohttp_server) -> AsyncIterator[tuple[FakeApi, str]]:
    """A FakeApi on 127.0.0.1 and its base URL."""
    api = FakeApi()
    app = web.Application()
    app.router.add_get("/api/v1/pods", api.handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    yield api, str(server.make_url("")).rstrip("/")
    await api.drop_watches()


