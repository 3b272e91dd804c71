"""Fixtures for every test; the helpers themselves live in tests/support/."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest


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
