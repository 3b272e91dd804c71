"""Fetch one engine /metrics body over the shared session, bounded in time and size.

Every failure becomes a `ScrapeError` whose message is the reason the target is down: a
timeout, a refused connection, an HTTP status, a body over the cap, a truncated body. The time
bound is `asyncio.timeout` in the caller's task, with aiohttp's own timeout a second later as a
backstop: stacked `wait_for`s of equal deadlines leave inner tasks whose exceptions nobody
retrieves ("Task exception was never retrieved").
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from inferwatch.core.redact import redact

ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1"
CHUNK = 64 * 1024
BACKSTOP = 1.0  # aiohttp's timeout this long after ours, never racing it


class ScrapeError(Exception):
    """Why a target could not be scraped."""


class NotFound(ScrapeError):
    """HTTP 404: the next candidate path may serve the metrics."""


async def fetch(session: aiohttp.ClientSession, url: str, timeout: float,
                max_bytes: int) -> bytes:
    """The body at url, or ScrapeError."""
    try:
        async with asyncio.timeout(timeout):
            return await _read(session, url, timeout, max_bytes)
    except TimeoutError:
        raise ScrapeError(f"timed out after {timeout:g}s") from None
    except aiohttp.ClientConnectorError as err:
        raise ScrapeError(redact(f"cannot connect: {err.os_error or err}")) from None
    except aiohttp.ClientPayloadError as err:
        raise ScrapeError(redact(f"truncated body: {err}")) from None
    except aiohttp.ClientError as err:
        raise ScrapeError(redact(f"{type(err).__name__}: {err}")) from None


async def _read(session: aiohttp.ClientSession, url: str, timeout: float,
                max_bytes: int) -> bytes:
    client_timeout = aiohttp.ClientTimeout(total=timeout + BACKSTOP)
    async with session.get(url, timeout=client_timeout, headers={"Accept": ACCEPT}) as resp:
        if resp.status == 404:
            raise NotFound("HTTP 404")
        if resp.status != 200:
            raise ScrapeError(f"HTTP {resp.status}")
        if resp.content_length is not None and resp.content_length > max_bytes:
            raise ScrapeError(f"body of {resp.content_length} bytes is over the cap of "
                              f"{max_bytes}")
        chunks, size = [], 0
        async for chunk in resp.content.iter_chunked(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise ScrapeError(f"body over the cap of {max_bytes} bytes")
            chunks.append(chunk)
    return b"".join(chunks)


async def fetch_json(session: aiohttp.ClientSession, url: str, timeout: float,
                     max_bytes: int) -> Any:
    """A JSON document (an engine's info endpoint), or ScrapeError."""
    body = await fetch(session, url, timeout, max_bytes)
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as err:  # RecursionError: nested too deeply
        raise ScrapeError(f"invalid JSON: {err}") from None
