"""mTLS on the exporter's web server (`tls_server_config.client_auth_type`, `client_ca_file`),
side by side with node_exporter (exporter-toolkit) reading the same web config file: a client
without a certificate, with one signed by the client CA, and with one signed by another CA
(the same answers, but for RequireAnyClientCert's unverified certificate, a documented
difference). Certificates are made by `openssl` per test module."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from inferwatch.core.config import ConfigError
from inferwatch.core.webconfig import load_web_config
from inferwatch.exporter.app import make_app, start_server
from inferwatch.exporter.loop import CollectorLoop, build_labels
from tests.support.procs import free_port, need_binary, wait_http


def openssl(*args: str) -> None:
    subprocess.run([need_binary("openssl"), *args], check=True, capture_output=True, timeout=60)


def issue(d: Path, name: str, ca: str | None, extra: tuple[str, ...] = ()) -> None:
    """name.key and name.pem: self-signed (a CA) when `ca` is None, else signed by `ca`."""
    if ca is None:
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                f"/CN={name}", "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.pem"))
        return
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout",
            str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"))
    ext = d / f"{name}.ext"
    ext.write_text("\n".join(extra) + "\n")
    openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / f"{ca}.pem"),
            "-CAkey", str(d / f"{ca}.key"), "-CAcreateserial", "-days", "2", "-extfile", str(ext),
            "-out", str(d / f"{name}.pem"))


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    issue(d, "ca", None)
    issue(d, "rogue-ca", None)
    issue(d, "server", "ca", ("subjectAltName=IP:127.0.0.1", "extendedKeyUsage=serverAuth"))
    issue(d, "client", "ca", ("extendedKeyUsage=clientAuth",))
    issue(d, "rogue", "rogue-ca", ("extendedKeyUsage=clientAuth",))
    return d


def web_config(d: Path, auth: str) -> str:
    path = d / f"web-{auth}.yml"
    path.write_text(f"tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
                    f"  client_auth_type: {auth}\n  client_ca_file: ca.pem\n")
    return str(path)


def client(d: Path, cert: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(d / "ca.pem"))
    if cert:
        ctx.load_cert_chain(d / f"{cert}.pem", d / f"{cert}.key")
    return ctx


def outcome(url: str, ctx: ssl.SSLContext) -> str:
    """The HTTP status, or `refused` when the TLS connection is torn down."""
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=5) as resp:
            resp.read()
            return str(resp.status)
    except urllib.error.HTTPError as err:
        return str(err.code)
    except (urllib.error.URLError, ssl.SSLError, ConnectionError):
        return "refused"


EXPECTED = {  # exporter-toolkit's (Go crypto/tls) answers, checked against node_exporter below
    "RequireAndVerifyClientCert": {None: "refused", "client": "200", "rogue": "refused"},
    "VerifyClientCertIfGiven": {None: "200", "client": "200", "rogue": "refused"},
    # the one documented difference (README): Go takes any certificate here, unverified;
    # Python's ssl verifies every certificate it is sent (ours, theirs)
    "RequireAnyClientCert": {None: "refused", "client": "200", "rogue": ("refused", "200")},
}


@pytest.mark.parametrize("auth", sorted(EXPECTED))
async def test_client_certificates_as_node_exporter_treats_them(pki: Path, auth: str) -> None:
    path = web_config(pki, auth)
    runner, site = await start_server(make_app(CollectorLoop([], build_labels)), "127.0.0.1",
                                      0, load_web_config(path).ssl_context)
    ours = f"https://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/metrics"
    port = free_port()
    node = subprocess.Popen([need_binary("prometheus-node-exporter"), "--web.config.file", path,
                             "--web.listen-address", f"127.0.0.1:{port}",
                             "--collector.disable-defaults", "--collector.time"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    theirs = f"https://127.0.0.1:{port}/metrics"
    try:
        await asyncio.to_thread(wait_http, theirs, context=client(pki, "client"))
        for cert, want in EXPECTED[auth].items():
            got = tuple([await asyncio.to_thread(outcome, url, client(pki, cert))
                         for url in (ours, theirs)])
            assert got == (want if isinstance(want, tuple) else (want, want)), (cert, got)
    finally:
        node.terminate()
        node.wait(timeout=10)
        await runner.cleanup()


def test_a_client_ca_without_a_client_auth_policy_is_refused_as_exporter_toolkit_does(
        pki: Path) -> None:
    path = pki / "web-ca-only.yml"
    path.write_text("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
                    "  client_ca_file: ca.pem\n")
    with pytest.raises(ConfigError) as err:
        load_web_config(str(path))
    assert err.value.problems == [f"{path}: tls_server_config.client_ca_file: a client CA "
                                  "without a client_auth_type (NoClientCert) checks nothing"]
    node = subprocess.run([need_binary("prometheus-node-exporter"), "--web.config.file",
                           str(path), "--web.listen-address", f"127.0.0.1:{free_port()}",
                           "--collector.disable-defaults"],
                          capture_output=True, text=True, timeout=30)
    assert node.returncode != 0
    assert "Client Auth Policy" in node.stderr
