"""The lean HTTP/1.1 client behind json:// webhooks: framing, keep-alive, redirects, timeouts."""

from __future__ import annotations

import asyncio

import apprise
import pytest
from aiohttp import web

from inferwatch.notifier.channels import ASSET
from inferwatch.notifier.httpclient import HttpError, Origin
from inferwatch.notifier.webhook import JsonWebhook


async def _raw_server(answers: list[bytes]) -> tuple[asyncio.Server, list[bytes], list[int]]:
    """A server answering each request with the next canned bytes; also counts connections."""
    seen: list[bytes] = []
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        while answers:
            head = await reader.readuntil(b"\r\n\r\n")
            length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")]
            seen.append(head + await reader.readexactly(length[0] if length else 0))
            answer = answers.pop(0)
            writer.write(answer)
            await writer.drain()
            if b"close" in answer.lower() or b"content-length" not in answer.lower() \
                    and b"chunked" not in answer.lower():
                break
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, seen, connections


@pytest.mark.parametrize("answer, reused", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", True),
    (b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nok\r\n0\r\n\r\n", True),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 OK\r\nContent-Length: 0\r\n\r\n", True),
    (b"HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx", False),
    (b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n", False),
    (b"HTTP/1.0 200 OK\r\n\r\nuntil the end", False),
])
async def test_framings_and_keep_alive(answer: bytes, reused: bool) -> None:
    server, seen, connections = await _raw_server([answer, answer])
    origin = Origin("127.0.0.1", server.sockets[0].getsockname()[1], None)
    head = b"POST /h HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n"
    statuses = [(await origin.request(head, b"body", 5.0))[0] for _ in range(2)]
    origin.close()
    server.close()
    assert statuses == [int(answer.rsplit(b"HTTP/1.", 1)[1][2:5])] * 2
    assert seen == [head + b"body"] * 2
    assert len(connections) == (1 if reused else 2)


async def test_timeout_and_refused_connection_name_the_host_only() -> None:
    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with pytest.raises(HttpError, match=r"timed out after 0.2s \(127.0.0.1\)"):
        await Origin("127.0.0.1", port, None).request(b"GET / HTTP/1.1\r\n\r\n", b"", 0.2)
    server.close()
    await server.wait_closed()
    with pytest.raises(HttpError, match=r"127.0.0.1\)$"):
        await Origin("127.0.0.1", port, None).request(b"GET / HTTP/1.1\r\n\r\n", b"", 2.0)


async def test_redirects_are_followed_unless_refused(aiohttp_server) -> None:
    got: list[str] = []

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect("/new")

    async def new(request: web.Request) -> web.Response:
        got.append((await request.json())["title"])
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/old", moved)
    app.router.add_post("/new", new)
    server = await aiohttp_server(app)
    for tail, status in (("", 200), ("?redirect=no", 307)):
        hook = JsonWebhook(apprise.Apprise.instantiate(
            f"json://127.0.0.1:{server.port}/old{tail}", asset=ASSET))
        try:
            assert await hook.send("t", "b", "info", {}, 5.0) == status
        finally:
            await hook.close()
    assert got == ["t"]
