"""Fixtures for the notifier tests: a recording webhook sink and a running notifier + client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from inferwatch.notifier.api import make_app
from inferwatch.notifier.service import Notifier
from tests.notifier.helpers import load
from tests.notifier.pgcluster import pg_server, pg_url  # noqa: F401 (fixtures)
from tests.support.webhook import Sink


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    s = await Sink().start()
    yield s
    await s.stop()


Started = tuple[Notifier, TestClient]


@pytest.fixture(params=["sqlite"])
def backend(request) -> str:
    """The storage backend; a test parametrizes it with `@both_backends` to run on both."""
    return request.param


both_backends = pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def storage_spec(backend: str, tmp_path: Path, request) -> str | Path:
    """Where the notifier keeps its state: a SQLite folder, or a fresh PostgreSQL database."""
    if backend == "postgres":
        return request.getfixturevalue("pg_url")
    return tmp_path / "data"


@pytest.fixture
async def start_notifier(tmp_path: Path, aiohttp_client, storage_spec) -> AsyncIterator[
        Callable[..., Awaitable[Started]]]:
    """start(yaml_text, storage=None) -> (notifier, client); stopped at teardown. The storage
    is SQLite unless the test runs `@both_backends`."""
    running: list[Notifier] = []

    async def start(text: str, storage: Path | str | None = None, **kwargs) -> Started:
        notifier = Notifier(load(tmp_path, text), storage or storage_spec, **kwargs)
        await notifier.start()
        running.append(notifier)
        client = await aiohttp_client(make_app(notifier))
        return notifier, client

    yield start
    for notifier in running:
        if notifier.ready:
            await notifier.stop()
