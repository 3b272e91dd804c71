"""Every channel attempt ends within the delivery timeout, and every response read is bounded."""

from __future__ import annotations

import asyncio
import time

import apprise
import pytest

from inferwatch.notifier.channels import ASSET, GRACE, ChannelError, make_channel
from inferwatch.notifier.httpclient import Origin
from inferwatch.notifier.templates import DEFAULTS
from inferwatch.notifier.webhook import MAX_BODY, JsonWebhook

TIMEOUT = 1.0


async def _server(answer) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accepts and never answers."""
    await reader.read()  # until the client goes
    writer.close()


async def _trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """An SMTP greeting one byte at a time: no single read ever times out."""
    try:
        while True:
            writer.write(b"2")
            await writer.drain()
            await asyncio.sleep(0.1)
    except (ConnectionError, OSError):
        writer.close()


@pytest.mark.parametrize("scheme", ["mailto", "mailtos"])
@pytest.mark.parametrize("answer", [_silent, _trickle], ids=["silent", "trickle"])
async def test_email_attempt_ends_within_the_delivery_timeout(scheme, answer) -> None:
    server, port = await _server(answer)
    channel = make_channel("mail", 0, f"{scheme}://u:p@127.0.0.1:{port}?from=a@example.com"
                           "&to=b@example.com", None, lambda kind: DEFAULTS[kind])
    started = time.monotonic()
    with pytest.raises(ChannelError) as err:
        await channel.send("t", "b", "text", "failure", "key", TIMEOUT)
    took = time.monotonic() - started
    server.close()
    assert took <= TIMEOUT + GRACE + 0.5, (took, str(err.value))
    assert err.value.recoverable


def _answer(head: bytes, body_chunks: int):
    """A response `head` then `body_chunks` x 64 KiB of body (forever when negative)."""
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(head)
        sent = 0
        try:
            while body_chunks < 0 or sent < body_chunks:
                writer.write(b"x" * (64 << 10) if b"chunked" not in head
                             else b"10000\r\n" + b"x" * (64 << 10) + b"\r\n")
                await writer.drain()
                sent += 1
        except (ConnectionError, OSError):
            pass
        writer.close()
    return answer


def _hook(port: int) -> JsonWebhook:
    return JsonWebhook(apprise.Apprise.instantiate(f"json://127.0.0.1:{port}/hook", asset=ASSET))


@pytest.mark.parametrize("head, chunks", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n", -1),  # 1 GiB announced
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", -1),  # chunks without end
    (b"HTTP/1.0 200 OK\r\n\r\n", -1),  # until the connection ends: never
], ids=["content-length", "chunked", "until-close"])
async def test_a_huge_response_body_is_not_read(head: bytes, chunks: int) -> None:
    server, port = await _server(_answer(head, chunks))
    hook = _hook(port)
    try:
        for _ in range(2):  # the second on a fresh connection: the first one is not reused
            started = time.monotonic()
            status = await hook.send("t", "b", "info", {}, 5.0)
            took = time.monotonic() - started
            assert status == 200 and took < 2.0, (status, took)  # without the whole body
    finally:
        await hook.close()
        server.close()


@pytest.mark.parametrize("head, chunks", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n", -1),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", -1),
    (b"HTTP/1.0 200 OK\r\n\r\n", -1),
], ids=["content-length", "chunked", "until-close"])
async def test_the_bench_s_hand_written_client_is_bounded_too(head: bytes, chunks: int) -> None:
    """notifier/httpclient.py, kept as bench/bench_notifier.py's other side."""
    server, port = await _server(_answer(head, chunks))
    origin = Origin("127.0.0.1", port, None)
    started = time.monotonic()
    status, _ = await origin.request(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                                     b"", 5.0)
    assert status == 200 and time.monotonic() - started < 2.0
    assert origin.idle == []  # that connection carries nothing more
    origin.close()
    server.close()


async def test_a_body_within_the_bound_is_drained_and_the_connection_kept() -> None:
    connections: list[int] = []
    answer = _answer(f"HTTP/1.1 200 OK\r\nContent-Length: {MAX_BODY}\r\n\r\n".encode(), 1)

    async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await answer(reader, writer)

    server, port = await _server(counted)
    origin = Origin("127.0.0.1", port, None)
    status, _ = await origin.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"", 5.0)
    assert status == 200 and len(origin.idle) == 1
    origin.close()
    hook = _hook(port)
    try:
        assert await hook.send("t", "b", "info", {}, 5.0) == 200
    finally:
        await hook.close()
        server.close()
    assert len(connections) == 2  # one per client
