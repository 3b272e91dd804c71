"""TLS and basic auth from an exporter-toolkit web config, on the real command."""

from __future__ import annotations

import base64
import ssl
import subprocess
import urllib.error
import urllib.request

import bcrypt
import pytest

from inferwatch.core.config import ConfigError
from inferwatch.core.webconfig import BasicAuth, WebConfig, load_web_config
from inferwatch.exporter.app import make_app
from inferwatch.exporter.loop import CollectorLoop, build_labels
from tests.support.procs import PYTHON, free_port, need_binary, wait_http

PASSWORD = "s3cret-pass"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    openssl = need_binary("openssl")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    return d


def web_config(d, users=True) -> str:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    text = "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
    text += "http_server_config:\n  headers:\n    X-Frame-Options: deny\n"
    if users:
        text += f"basic_auth_users:\n  prometheus: '{hashed}'\n"
    (d / "web.yml").write_text(text)
    return str(d / "web.yml")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def get(url: str, context: ssl.SSLContext, auth: str | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, headers={"Authorization": auth} if auth else {})
    try:
        with urllib.request.urlopen(req, context=context, timeout=5) as resp:
            return resp.status, dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers)


def test_tls_and_basic_auth_on_the_real_command(certs):
    port = free_port()
    proc = subprocess.Popen(
        [PYTHON, "-m", "inferwatch.cli", "exporter", "--simulate-gpus", "1",
         "--no-collector.host", "--web.listen-address", f"127.0.0.1:{port}",
         "--web.config.file", web_config(certs)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        ctx = ssl.create_default_context(cafile=str(certs / "cert.pem"))
        url = f"https://127.0.0.1:{port}/metrics"
        wait_http(f"https://127.0.0.1:{port}/healthz", status=401, context=ctx)
        assert get(url, ctx)[0] == 401
        assert get(url, ctx, basic("prometheus", "wrong"))[0] == 401
        assert get(url, ctx, basic("nobody", PASSWORD))[0] == 401
        status, headers = get(url, ctx, basic("prometheus", PASSWORD))
        assert status == 200 and headers["X-Frame-Options"] == "deny"
        with pytest.raises(OSError):  # plain HTTP is not served
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert PASSWORD not in out


async def test_basic_auth_checks_and_caches():
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4))
    auth = BasicAuth({"u": hashed})
    assert await auth.allows(basic("u", "pw"))
    assert await auth.allows(basic("u", "pw"))  # served from the cache
    assert not await auth.allows(basic("u", "pw2"))
    assert not await auth.allows("Basic !!notbase64")
    assert not await auth.allows("Bearer abc")
    assert not await auth.allows(None)


def test_bad_web_config_names_the_file_and_field(tmp_path, certs):
    bad = tmp_path / "web.yml"
    bad.write_text("tls_server_config:\n  cert_file: missing.pem\n  key_file: missing.pem\n"
                   "basic_auth_users:\n  u: plaintext\n")
    with pytest.raises(ConfigError) as err:
        load_web_config(str(bad))
    assert err.value.problems[0].startswith(f"{bad}: basic_auth_users.u: not a bcrypt hash")
    bad.write_text("tls_server_config:\n  cert_file: missing.pem\n  key_file: missing.pem\n")
    with pytest.raises(ConfigError) as err:
        load_web_config(str(bad))
    assert err.value.problems[0].startswith(f"{bad}: tls_server_config.cert_file: cannot load")
    bad.write_text("tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: SSL3\n"
                   "unknown_section: {}\n")
    with pytest.raises(ConfigError) as err:
        load_web_config(str(bad))
    assert any(p.startswith(f"{bad}: tls_server_config.min_version:")
               for p in err.value.problems)
    assert f"{bad}: unknown_section: unknown field" in err.value.problems


def test_command_with_a_bad_web_config_exits_2(tmp_path):
    bad = tmp_path / "web.yml"
    bad.write_text("basic_auth_users: [nope]\n")
    run = subprocess.run([PYTHON, "-m", "inferwatch.cli", "exporter", "--simulate-gpus", "1",
                          "--web.config.file", str(bad), "--web.listen-address",
                          f"127.0.0.1:{free_port()}"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert f"{bad}: basic_auth_users:" in run.stderr and "Traceback" not in run.stderr


async def test_a_password_longer_than_bcrypt_allows_is_refused_not_an_error():
    hashed = bcrypt.hashpw(b"p" * 72, bcrypt.gensalt(rounds=4))
    auth = BasicAuth({"u": hashed})
    assert await auth.allows(basic("u", "p" * 72))
    assert not await auth.allows(basic("u", "p" * 73))  # bcrypt itself raises ValueError


async def test_configured_headers_are_on_every_answer(aiohttp_client):
    config = WebConfig(headers={"X-Content-Type-Options": "nosniff"})
    client = await aiohttp_client(make_app(CollectorLoop([], build_labels), config))
    for path, status in (("/metrics", 200), ("/healthz", 200), ("/nowhere", 404)):
        resp = await client.get(path)
        assert (resp.status, resp.headers.get("X-Content-Type-Options")) == (status, "nosniff")
    resp = await client.post("/metrics")
    assert (resp.status, resp.headers.get("X-Content-Type-Options")) == (405, "nosniff")
