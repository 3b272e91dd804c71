"""Helpers the benchmark scripts share (each script runs with bench/ on sys.path)."""

from __future__ import annotations

import asyncio
import http.client
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import aiohttp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, path: str = "/-/ready", timeout: float = 30,
               proc: subprocess.Popen | None = None, name: str = "",
               log: Callable[[], str] | None = None) -> None:
    """GET 127.0.0.1:PORT/PATH until it answers 200; exit the bench when the time is up or
    `proc` (the process that should answer) has ended, with `log()` (its output) if given."""
    name = name or f"127.0.0.1:{port}{path}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            sys.exit(f"{name} exited with {proc.returncode}" + (f": {log()}" if log else ""))
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"{name}: not ready after {timeout}s")


async def wait_ok(session: aiohttp.ClientSession, url: str, timeout: float = 30) -> None:
    """GET `url` until it answers 200; exit the bench when the time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with session.get(url) as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    sys.exit(f"{url} did not answer within {timeout}s")
