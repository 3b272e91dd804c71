"""Hostile engine targets and the scrape loop shared by the CI suite (test_hostile_targets.py,
a bounded number of scrapes) and the soak (test_hostile_soak.py, 15 minutes behind
INFERWATCH_SOAK=1).

`hostile_app` serves the bodies of issue 14 on one loopback aiohttp app: random bytes, 50 MB
with and without Content-Length, 200,000 series, 200,000 model names, a 1 MiB label value,
invalid UTF-8, an endless body, a slowloris response and a hang. `scrape_rounds` scrapes the
real exporter's /metrics after each new snapshot and checks every scrape: each healthy target
`up 1` with its series, each hostile one `up 0`, no native name republished, the output under
`MOST_SERIES`. `check_logs` checks what the run logged.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
from aiohttp import web

from inferwatch import catalog as c
from inferwatch.exposition.parser import parse
from inferwatch.simulate.engines.sim import Simulation

SERIES = 200_000
MOST_SERIES = 5_000  # in one /metrics answer
LOG_MOST = 4096  # characters of one log line
CHUNK = b"#" * 65_536 + b"\n"
FIFTY_MB = 50 * 1024 * 1024
SLOW_HOLD = 60.0  # seconds a slowloris or hanging response is held at most
HUGE = b"# TYPE vllm:x gauge\n" + b"".join(b'vllm:x{i="%d"} 1\n' % i for i in range(SERIES))


def _models() -> bytes:
    return b"# TYPE vllm:num_requests_running gauge\n" + b"".join(
        b'vllm:num_requests_running{model_name="m%d"} 1\n' % i for i in range(SERIES))


def _with_line(line: bytes) -> bytes:
    """A real simulated vLLM page with one hostile sample added."""
    head = b"# TYPE vllm:num_requests_waiting gauge\n"
    return Simulation("vllm").body(60.0).replace(head, head + line)


async def _stream(request: web.Request, chunks, length: int | None = None,
                  pause: float = 0.0) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
    if length is not None:
        resp.content_length = length
    await resp.prepare(request)
    try:
        for chunk in chunks:
            await resp.write(chunk)
            if pause:
                await asyncio.sleep(pause)
    except ConnectionError:  # the exporter gave up: expected
        pass
    return resp


def _repeat(total: int | None):
    sent = 0
    while total is None or sent < total:
        sent += len(CHUNK)
        yield CHUNK


def hostile_app() -> tuple[web.Application, list[str]]:
    """The app and its hostile paths."""
    bodies = {
        "/huge": HUGE,
        "/models": _models(),
        "/random": random.Random(14).randbytes(256 * 1024),
        "/label": _with_line(b'vllm:num_requests_waiting{model_name="' + b"m" * (1 << 20)
                             + b'"} 0\n'),
        "/utf8": _with_line(b'vllm:num_requests_waiting{model_name="\xff\xfe\xc3"} 0\n'),
    }

    def body(data: bytes):
        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=data, content_type="text/plain")
        return handler

    async def fifty_length(request: web.Request) -> web.StreamResponse:
        return await _stream(request, _repeat(FIFTY_MB), length=FIFTY_MB)

    async def fifty_chunked(request: web.Request) -> web.StreamResponse:
        return await _stream(request, _repeat(FIFTY_MB))

    async def endless(request: web.Request) -> web.StreamResponse:
        return await _stream(request, _repeat(None))

    async def slowloris(request: web.Request) -> web.StreamResponse:
        drip = (b"#" for _ in range(int(SLOW_HOLD / 0.2)))
        return await _stream(request, drip, pause=0.2)

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(SLOW_HOLD)
        return web.Response(text="")

    app = web.Application()
    for path, data in bodies.items():
        app.router.add_get(path, body(data))
    handlers = {"/fifty-length": fifty_length, "/fifty-chunked": fifty_chunked,
                "/endless": endless, "/slowloris": slowloris, "/hang": hang}
    for path, handler in handlers.items():
        app.router.add_get(path, handler)
    return app, [*bodies, *handlers]


Found = list[tuple[str, dict[str, str], float]]


def series(text: bytes) -> Found:
    return [(name, dict(labels), v) for f in parse(text).values() for name, labels, v in f.samples]


def up_of(found: Found, target: str) -> list[float]:
    return [v for n, labels, v in found if n == c.ENGINE_UP.name and labels["target"] == target]


def check_scrape(found: Found, healthy: list[str], hostile: list[str],
                 strict: bool = True) -> bool:
    """One /metrics answer: every target's `up` present, every hostile one down, nothing
    native republished; True when every healthy target is up with its series (asserted when
    `strict`)."""
    ok = True
    for target in healthy:
        assert len(up_of(found, target)) == 1, target
        up = up_of(found, target) == [1.0] and any(
            n == c.ENGINE_KV_CACHE_USAGE.name and labels["target"] == target
            for n, labels, _ in found)
        assert up or not strict, target
        ok = ok and up
    for target in hostile:
        assert up_of(found, target) == [0.0], target
    assert not [n for n, _, _ in found if n.startswith("vllm:")]
    assert len(found) < MOST_SERIES
    return ok


async def scrape_rounds(loop, url: str, healthy: list[str], hostile: list[str], *,
                        rounds: int | None = None, until: float | None = None,
                        each: Callable[[Found], None] | None = None,
                        strict: bool = True) -> tuple[int, int]:
    """Scrape `url` after each new snapshot of `loop`, `rounds` times or until the monotonic
    time `until`, checking every answer (check_scrape); `each` sees every answer too. Returns
    the scrapes and those with every healthy target up."""
    done = all_up = 0
    async with aiohttp.ClientSession() as session:
        await loop.first_round.wait()
        while (rounds is None or done < rounds) and (until is None or time.monotonic() < until):
            seen = loop.snapshot
            while loop.snapshot is seen:  # the next run's snapshot
                await asyncio.sleep(0.02)
            async with session.get(url) as resp:
                found = series(await resp.read())
            all_up += check_scrape(found, healthy, hostile, strict)
            if each is not None:
                each(found)
            done += 1
    return done, all_up


def check_records(records: list[logging.LogRecord]) -> list[str]:
    """No error-level record, no unretrieved task exception, no line over LOG_MOST."""
    messages = [r.getMessage() for r in records]
    assert not [m for r, m in zip(records, messages, strict=True)
                if r.levelno >= logging.ERROR], messages[-20:]
    assert not [m for m in messages if "never retrieved" in m]
    assert max(map(len, messages), default=0) < LOG_MOST
    return messages


async def check_logs(records: list[logging.LogRecord]) -> list[str]:
    """check_records after a collection (an unretrieved task exception is reported when the
    task is collected)."""
    gc.collect()
    await asyncio.sleep(0)
    return check_records(records)


def rss_mb() -> float:
    """This process's resident set in MB (/proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
