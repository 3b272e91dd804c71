"""Fixtures for every test; the helpers themselves live in tests/support/."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator

import pytest


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
