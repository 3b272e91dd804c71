"""The exporter's hardened HTTP server (exporter/app.py `start_server`/`run_app`) on 127.0.0.1
with raw sockets: a slowloris head is cut after the header timeout while a kept-alive scraper
is not; the connection limit; a stalled TLS handshake is cut; oversized and NUL-bearing
headers and TLS on the plain port are answered 400 and logged at debug in one line, never as
an error or a traceback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import subprocess
import time

import pytest

from inferwatch.exporter.app import Hardening, make_app, start_server
from inferwatch.exporter.loop import CollectorLoop, build_labels
from tests.support.procs import need_binary

HEAD = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
FAST = Hardening(header_timeout=0.5, tls_handshake_timeout=0.5, max_connections=3)
BOUND = 10.0  # seconds any wait below may take before the test fails


async def serve(hardening: Hardening = FAST, ssl_context=None):
    app = make_app(CollectorLoop([], build_labels))
    runner, site = await start_server(app, "127.0.0.1", 0, ssl_context, hardening)
    return runner, site.port


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """What the server sent before closing; fails when it is still open after `seconds`."""
    got = b""
    async with asyncio.timeout(seconds):
        while chunk := await reader.read(65536):
            got += chunk
    return got


async def response(reader: asyncio.StreamReader) -> bytes:
    """One HTTP response head and body (Content-Length) from a kept-alive connection."""
    async with asyncio.timeout(BOUND):
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        return head + await reader.readexactly(length)


async def test_slowloris_is_cut_after_the_header_timeout_keepalive_is_not():
    runner, port = await serve()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start = time.monotonic()

        async def drip() -> None:  # one byte every 50 ms; never completes the head
            for byte in HEAD[:-2]:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.05)

        dripping = asyncio.create_task(drip())
        try:
            got = await closed_within(reader, BOUND)
        except ConnectionResetError:
            got = b""
        took = time.monotonic() - start
        assert not dripping.done(), "the head was sent whole: the test proves nothing"
        dripping.cancel()
        writer.close()
        assert got == b""
        assert FAST.header_timeout - 0.1 <= took < FAST.header_timeout + 2.0, took

        # a scraper that keeps its connection idle beyond the header timeout is served again
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEAD)
        assert (await response(reader)).startswith(b"HTTP/1.1 200")
        idle = time.monotonic() + FAST.header_timeout * 2
        while time.monotonic() < idle:  # idle on purpose: the timeout must not apply
            assert not reader.at_eof()
            await asyncio.sleep(0.1)
        writer.write(HEAD)
        assert (await response(reader)).startswith(b"HTTP/1.1 200")
        writer.close()
    finally:
        await runner.cleanup()


async def test_connections_over_the_limit_are_closed_at_once():
    runner, port = await serve()
    held = []
    try:
        for _ in range(FAST.max_connections):
            held.append(await asyncio.open_connection("127.0.0.1", port))
            held[-1][1].write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await response(held[-1][0])).startswith(b"HTTP/1.1 200")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEAD)
        try:
            got = await closed_within(reader, BOUND)
        except ConnectionResetError:
            got = b""
        assert not got.startswith(b"HTTP/1.1 200")
        for _r, w in held:
            w.close()
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("request_bytes", [
    b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 100_000 + b"\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"X-Many: 1\r\n" * 200 + b"\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # TLS on the plain port
], ids=["nul", "oversized", "too-many", "tls-on-http"])
async def test_client_garbage_is_a_debug_line_not_a_traceback(request_bytes, caplog):
    caplog.set_level(logging.DEBUG)
    runner, port = await serve()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request_bytes)
        got = await closed_within(reader, BOUND)
        writer.close()
        assert got.startswith(b"HTTP/1.0 400") or got.startswith(b"HTTP/1.1 400"), got[:100]
    finally:
        await runner.cleanup()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [r for r in caplog.records if r.exc_info or r.exc_text]
    bad = [r.getMessage() for r in caplog.records if "bad request from 127.0.0.1" in
           r.getMessage()]
    assert bad and all(len(m) < 400 for m in bad), bad


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory) -> ssl.SSLContext:
    openssl = need_binary("openssl")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(d / "key.pem"), "-out",
                    str(d / "cert.pem")], check=True, capture_output=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(d / "cert.pem", d / "key.pem")
    return ctx


async def test_a_stalled_tls_handshake_is_cut(tls_context):
    runner, port = await serve(ssl_context=tls_context)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)  # no ClientHello
        start = time.monotonic()
        with contextlib.suppress(ConnectionResetError):
            await closed_within(reader, BOUND)
        took = time.monotonic() - start
        assert FAST.tls_handshake_timeout <= took + 0.1 < FAST.tls_handshake_timeout + 3.0
        writer.close()
        # a real TLS client is still served
        client = ssl.create_default_context()
        client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client)
        writer.write(HEAD)
        assert (await response(reader)).startswith(b"HTTP/1.1 200")
        writer.close()
    finally:
        await runner.cleanup()
