"""A lean HTTP/1.1 client for one origin: kept-alive connections, one request at a time each.

The json:// and jsons:// senders' client (notifier/webhook.py), kept while it sends more per
second than aiohttp's (bench/bench_notifier.py, whose `notifier-aiohttp` side is the
comparison to re-run: 1.5x; notifier/webhook.py says why that matters).

It writes a prepared head and the body in one send and reads responses framed by
Content-Length, chunked transfer coding, or the connection's end, never more than MAX_HEAD of
head and MAX_BODY of body (a longer body is left unread and its connection closed); redirects are
the caller's.
"""

from __future__ import annotations

import asyncio
import ssl
import time

IDLE_KEEP = 4.0  # seconds an idle connection is reused: under servers' keep-alive timeouts
MAX_HEAD = 64 << 10
MAX_BODY = 64 << 10  # a receiver's answer is only drained: a longer one ends the connection


class HttpError(Exception):
    """A request that got no complete response; the message names the host, never the URL."""


class Origin:
    """Connections to scheme://host:port, pooled while idle."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None):
        self.host, self.port, self.tls = host, port, tls
        self.idle: list[tuple[float, asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def request(self, head: bytes, body: bytes, timeout: float) -> tuple[int, dict]:
        """Send a request (`head` ends with the blank line); (status, headers) of the answer."""
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await self._connection()
                try:
                    writer.write(head + body)
                    status, headers, reusable = await _response(reader, head)
                except BaseException:
                    writer.close()
                    raise
        except TimeoutError:
            raise HttpError(f"timed out after {timeout:g}s ({self.host})") from None
        except (OSError, EOFError, ValueError, asyncio.LimitOverrunError) as err:
            raise HttpError(f"{type(err).__name__}: {err} ({self.host})") from None
        if reusable:
            self.idle.append((time.monotonic(), reader, writer))
        else:
            writer.close()
        return status, headers

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while self.idle:
            since, reader, writer = self.idle.pop()
            if time.monotonic() - since < IDLE_KEEP and not reader.at_eof():
                return reader, writer
            writer.close()
        return await asyncio.open_connection(self.host, self.port, ssl=self.tls,
                                             limit=MAX_HEAD)

    def close(self) -> None:
        for _, _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def _response(reader: asyncio.StreamReader, head: bytes) -> tuple[int, dict, bool]:
    """(status, headers (last of each name), whether the connection can carry another one)."""
    while True:
        raw = await reader.readuntil(b"\r\n\r\n")
        line, _, rest = raw.partition(b"\r\n")
        version, status = line.split(b" ", 2)[:2]
        if not 100 <= int(status) < 200:
            break
    headers = {}
    for field in rest[:-4].split(b"\r\n"):
        name, _, value = field.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    tokens = {t.strip() for t in headers.get("connection", "").lower().split(",")}
    keep = version == b"HTTP/1.1" and "close" not in tokens
    if head.startswith(b"HEAD ") or int(status) in (204, 304):
        return int(status), headers, keep
    if "chunked" in headers.get("transfer-encoding", "").lower():
        keep = await _chunks(reader) and keep
    elif "content-length" in headers:
        length = int(headers["content-length"])
        if length > MAX_BODY:  # not read: the connection goes, with the rest of the body
            return int(status), headers, False
        await reader.readexactly(length)
    else:
        await _upto(reader, MAX_BODY)
        keep = False
    return int(status), headers, keep


async def _chunks(reader: asyncio.StreamReader) -> bool:
    """Read a chunked body of at most MAX_BODY bytes; False when it was longer (left unread)."""
    total = 0
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return True
        total += size
        if total > MAX_BODY:
            return False
        await reader.readexactly(size + 2)


async def _upto(reader: asyncio.StreamReader, limit: int) -> None:
    """Read a body that ends with the connection, until its end or `limit` bytes."""
    while limit > 0:
        data = await reader.read(min(limit, 1 << 16))
        if not data:
            return
        limit -= len(data)
