"""The kept-alive json:// sender sends exactly the request apprise's JSON plugin would send."""

from __future__ import annotations

import apprise
import pytest
from aiohttp import web

from inferwatch.notifier.channels import ASSET, KEY_HEADER, ChannelError, make_channel
from inferwatch.notifier.templates import DEFAULTS
from inferwatch.notifier.webhook import JsonWebhook, fits

TRANSPORT = {"host", "content-length", "accept", "accept-encoding", "connection"}
Seen = tuple[str, str, dict[str, str], bytes]


async def _recorder(aiohttp_server) -> tuple[list[Seen], int]:
    seen: list[Seen] = []

    async def handle(request: web.Request) -> web.Response:
        headers = {k.lower(): v for k, v in request.headers.items() if k.lower() not in TRANSPORT}
        seen.append((request.method, request.path_qs, headers, await request.read()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    server = await aiohttp_server(app)
    return seen, server.port


@pytest.mark.parametrize("tail", [
    "/hook",
    "/a/b?-team=ml&-x=1&+X-Token=abc&:type=kind&:version=&:extra=yes",
    "/p?method=PUT&+Authorization=Bearer%20zzz",
])
async def test_same_request_as_apprise(aiohttp_server, tail: str) -> None:
    seen, port = await _recorder(aiohttp_server)
    url = f"json://user:pass@127.0.0.1:{port}{tail}"
    plugin = apprise.Apprise.instantiate(url, asset=ASSET)
    assert fits(plugin)
    plugin.retry = 0
    plugin.headers[KEY_HEADER] = "k1"
    via_apprise = apprise.Apprise(asset=ASSET)
    via_apprise.add(plugin)
    title, body = "[FIRING:2] HighTTFT", "ünïcode *body*\nline two"
    assert await via_apprise.async_notify(body=body, title=title, notify_type="failure",
                                          body_format="markdown")
    fast = JsonWebhook(apprise.Apprise.instantiate(url, asset=ASSET))
    try:
        assert await fast.send(title, body, "failure", {KEY_HEADER: "k1"}, 5.0) == 200
    finally:
        await fast.close()
    assert len(seen) == 2 and seen[0] == seen[1], seen
    assert seen[0][2][KEY_HEADER.lower()] == "k1" and b"HighTTFT" in seen[0][3]


async def test_statuses_and_connection_errors_are_classified(aiohttp_server) -> None:
    statuses = [404, 429, 503]

    async def handle(request: web.Request) -> web.Response:
        return web.Response(status=statuses.pop(0))

    app = web.Application()
    app.router.add_post("/hook", handle)
    server = await aiohttp_server(app)
    channel = make_channel("r", 0, f"json://127.0.0.1:{server.port}/hook", None,
                           lambda kind: DEFAULTS[kind])
    assert channel.fast is not None
    outcomes = []
    for _ in range(3):
        with pytest.raises(ChannelError) as caught:
            await channel.send("t", "b", "text", "info", "k", 5.0)
        outcomes.append((caught.value.recoverable, "error=" in str(caught.value)))
    await server.close()
    with pytest.raises(ChannelError) as caught:
        await channel.send("t", "b", "text", "info", "k", 5.0)
    await channel.close()
    assert outcomes == [(False, True), (True, True), (True, True)]
    assert caught.value.recoverable and "127.0.0.1" not in str(caught.value).split(": ", 1)[0]


def test_other_urls_keep_going_through_apprise() -> None:
    for url in ("form://127.0.0.1/hook", "xml://127.0.0.1/hook", "json://127.0.0.1/h?emojis=yes",
                "mailto://u:p@example.com", "json://127.0.0.1/h?overflow=split"):
        assert not fits(apprise.Apprise.instantiate(url, asset=ASSET)), url


async def test_jsons_verifies_the_receivers_certificate_unless_told_not_to(
        tmp_path, monkeypatch) -> None:
    """jsons:// over TLS: a certificate the system does not trust is refused (an error text,
    retried); trusted (SSL_CERT_FILE) it is delivered; `verify=no` delivers without checking."""
    import ssl
    import subprocess

    from tests.support.procs import need_binary

    openssl = need_binary("openssl")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    got: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        got.append((await request.json())["title"])
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]

    async def send(tail: str, title: str) -> int | str:
        hook = JsonWebhook(apprise.Apprise.instantiate(f"jsons://127.0.0.1:{port}/hook{tail}",
                                                       asset=ASSET))
        try:
            return await hook.send(title, "b", "info", {}, 5.0)
        finally:
            await hook.close()
    try:
        refused = await send("", "untrusted")
        assert isinstance(refused, str) and "CERTIFICATE_VERIFY_FAILED" in refused, refused
        assert await send("?verify=no", "unchecked") == 200
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
        assert await send("", "trusted") == 200
    finally:
        await runner.cleanup()
    assert got == ["unchecked", "trusted"]


@pytest.mark.parametrize("host, tail, expected", [
    ("127.0.0.1", "?+Host=virt.example", "virt.example"),
    ("::1", "", "[{host}]:{port}"),
])
async def test_the_host_header_is_one_and_ipv6_is_bracketed(host, tail, expected) -> None:
    """`Host` as aiohttp's client wrote it: a `+Host=` header of the URL instead of it, never
    beside it; an IPv6 address in brackets with its port."""
    import socket

    if ":" in host:
        try:
            socket.socket(socket.AF_INET6).bind((host, 0))
        except OSError:
            pytest.skip("no IPv6 loopback on this machine")
    hosts: list[list[str]] = []

    async def handle(request: web.Request) -> web.Response:
        hosts.append(request.headers.getall("Host"))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    named = f"[{host}]" if ":" in host else host
    hook = JsonWebhook(apprise.Apprise.instantiate(f"json://{named}:{port}/hook{tail}",
                                                   asset=ASSET))
    try:
        assert await hook.send("t", "b", "info", {}, 5.0) == 200
    finally:
        await hook.close()
        await runner.cleanup()
    assert hosts == [[expected.format(host=host, port=port)]]
