"""Fixtures for the notifier tests: a recording webhook sink and a running notifier + client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from inferwatch.notifier.api import make_app
from inferwatch.notifier.service import Notifier
from tests.notifier.helpers import load
from tests.support.webhook import Sink


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    s = await Sink().start()
    yield s
    await s.stop()


Started = tuple[Notifier, TestClient]


@pytest.fixture
async def start_notifier(tmp_path: Path, aiohttp_client) -> AsyncIterator[
        Callable[..., Awaitable[Started]]]:
    """start(yaml_text, storage=None) -> (notifier, client); stopped at teardown."""
    running: list[Notifier] = []

    async def start(text: str, storage: Path | None = None, **kwargs) -> Started:
        notifier = Notifier(load(tmp_path, text), storage or tmp_path / "data", **kwargs)
        await notifier.start()
        running.append(notifier)
        client = await aiohttp_client(make_app(notifier))
        return notifier, client

    yield start
    for notifier in running:
        if notifier.ready:
            await notifier.stop()
