"""Free loopback ports, bounded HTTP waits, Debian binaries, `inferwatch` subprocesses."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 15.0, status: int = 200, context=None) -> bytes:
    """GET url until it answers `status` or the time is up (then fail the test)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as resp:
                if resp.status == status:
                    return resp.read()
                last = resp.status
        except urllib.error.HTTPError as err:
            last = err.code
            if err.code == status:
                return err.read()
        except OSError as err:
            last = err
        time.sleep(0.1)
    pytest.fail(f"{url} did not answer {status} within {timeout}s (last: {last})")


def need_binary(name: str) -> str:
    """The binary's path, or skip (CI installs the Debian packages, see .ci/run)."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (Debian package; .ci/run installs it)")
    return path


def spawn(*args: str) -> subprocess.Popen:
    """`inferwatch ARGS` as a subprocess of the checkout, its output discarded."""
    return subprocess.Popen([PYTHON, "-m", "inferwatch.cli", *args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
