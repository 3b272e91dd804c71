"""The notifier command as Prometheus tools are run: the exporter-toolkit web config on its
API, `--log.format json`, and `--notifier.url` before or after the silence action."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import urllib.error
import urllib.request

import bcrypt
import pytest

from inferwatch.cli import main
from tests.support.procs import PYTHON, ROOT, free_port, wait_http

CONFIG = """
route: {receiver: hook}
receivers:
  - name: hook
    urls: ["json://127.0.0.1:9/hook"]
"""


def get(url: str, auth: str | None = None) -> int:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture
def notifier_with_web_config(tmp_path, processes):
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    (tmp_path / "web.yml").write_text(f"basic_auth_users: {{ops: '{hashed}'}}\n"
                                      "http_server_config: {headers: {X-Frame-Options: deny}}\n")
    (tmp_path / "notifier.yml").write_text(CONFIG)
    port = free_port()
    with open(tmp_path / "notifier.log", "w") as log:  # the child keeps its own descriptor
        processes.append(subprocess.Popen(
            [PYTHON, "-m", "inferwatch.cli", "notifier",
             f"--config.file={tmp_path / 'notifier.yml'}",
             f"--web.config.file={tmp_path / 'web.yml'}", f"--web.listen-address=127.0.0.1:{port}",
             f"--storage.path={tmp_path / 'data'}", "--log.format=json"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/-/healthy", status=401)
    return base, tmp_path / "notifier.log"


def test_basic_auth_and_headers_from_the_web_config(notifier_with_web_config) -> None:
    base, _ = notifier_with_web_config
    assert get(base + "/api/v2/status") == 401
    assert get(base + "/api/v2/status", "ops:wrong") == 401
    assert get(base + "/api/v2/status", "ops:s3cret") == 200
    request = urllib.request.Request(base + "/-/healthy")
    request.add_header("Authorization", "Basic " + base64.b64encode(b"ops:s3cret").decode())
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert resp.headers["X-Frame-Options"] == "deny"


def test_logs_are_json_lines(notifier_with_web_config) -> None:
    _, log = notifier_with_web_config
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert any(d["msg"].startswith("listening on") and d["level"] == "info" for d in lines)


def test_a_missing_web_config_is_one_line_and_exit_2(tmp_path, capsys) -> None:
    (tmp_path / "notifier.yml").write_text(CONFIG)
    code = main(["notifier", f"--config.file={tmp_path / 'notifier.yml'}",
                 f"--web.config.file={tmp_path / 'absent.yml'}"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "absent.yml" in err and len(err.splitlines()) == 1


async def test_notifier_url_is_accepted_after_the_action(start_notifier, sink, capsys) -> None:
    _, client = await start_notifier(CONFIG.replace("json://127.0.0.1:9/hook", sink.url()))
    url = f"--notifier.url=http://127.0.0.1:{client.server.port}"
    code = await asyncio.to_thread(main, ["notifier", "silence", "add", 'alertname="A"',
                                          "--comment=c", url])
    sid = capsys.readouterr().out.strip()
    assert code == 0 and sid
    code = await asyncio.to_thread(main, ["notifier", "silence", "query", "-q", url])
    assert (code, capsys.readouterr().out.strip()) == (0, sid)
