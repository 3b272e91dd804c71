"""Fixtures for the notifier tests: a recording webhook sink and a running notifier + client."""

from __future__ import annotations

import os
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


# The storage backend of every test that starts a notifier on `storage_spec`: SQLite, and
# PostgreSQL too for the tests of storage semantics (marked `@both_backends`, or named in BOTH);
# INFERWATCH_PG_ALL=1 runs every such test on both but those in SQLITE_ONLY.
PG_ALL = os.environ.get("INFERWATCH_PG_ALL") == "1"
BOTH = {  # file -> tests whose outcome is the storage's: delivery marks, retries, log, silences
    "test_webhook_delivery.py": {"test_grouping_resolution_and_content",
                                 "test_repeat_interval_resends",
                                 "test_retry_after_receiver_was_down_loses_nothing",
                                 "test_5xx_is_retried_4xx_is_not"},
    "test_api.py": {"test_silence_lifecycle_mutes_and_unmutes",
                    "test_webhook_v4_relays_firing_then_resolved"},
    "test_ui.py": {"test_notification_log_shows_every_state_and_never_a_channel_url",
                   "test_silence_form_prefills_edits_and_expires"},
    "test_cli.py": {"test_silence_add_query_expire"},
}
SQLITE_ONLY = {  # file -> tests (None: all) that reach into SQLite or bring their own storage
    "test_storage_faults.py": None,  # PRAGMA query_only, a full file: SQLite's own faults
    "test_ha_schedule.py": None,  # PostgreSQL replicas on their own URL
    "test_email_slack.py": {"test_email_without_send_resolved_stays_quiet_on_resolution"},
    "test_regex_re2.py": {"test_stored_regex_silence_is_reloaded_through_re2"},
    "test_am_config_parity.py": {"test_time_intervals_mute_as_in_alertmanager"},  # its nflog
}


def _named(table: dict[str, set[str] | None], file: str, name: str) -> bool:
    return file in table and (table[file] is None or name in table[file])


def pytest_generate_tests(metafunc) -> None:
    if "backend" not in metafunc.fixturenames or any(
            "backend" in m.args[0] for m in metafunc.definition.iter_markers("parametrize")):
        return
    file, name = metafunc.definition.path.name, metafunc.definition.originalname
    both = (PG_ALL or _named(BOTH, file, name)) and not _named(SQLITE_ONLY, file, name)
    metafunc.parametrize("backend", ["sqlite", "postgres"] if both else ["sqlite"],
                         indirect=True)


@pytest.fixture
def backend(request) -> str:
    """The storage backend (see pytest_generate_tests)."""
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
    is `storage_spec`'s unless given."""
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
