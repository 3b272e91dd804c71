"""`inferwatch notifier silence add|query|expire` against a running notifier, amtool too, and
an inhibition rule end to end."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from inferwatch.cli import main
from tests.notifier.helpers import alert_body
from tests.support.webhook import until

CONFIG = """
route: {receiver: hook, group_by: [alertname, slo], group_wait: 100ms, group_interval: 300ms}
receivers:
  - name: hook
    urls: ["SINK"]
inhibit_rules:
  - source_matchers: ['severity="page"']
    target_matchers: ['severity="ticket"']
    equal: [slo]
web: {bearer_token: cli-token}
"""


async def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_silence_add_query_expire(sink, start_notifier, tmp_path, capsys) -> None:
    notifier, client = await start_notifier(CONFIG.replace("SINK", sink.url()))
    (tmp_path / "token").write_text("cli-token\n")
    base = ["notifier", "silence", f"--notifier.url=http://127.0.0.1:{client.server.port}",
            f"--bearer-token-file={tmp_path / 'token'}"]
    code, out, _ = await run_cli(capsys, *base, "add", 'alertname="Noisy"', 'pod=~"p-.*"',
                                 "--duration=2h", "--comment=deploy", "--author=ci")
    assert code == 0
    sid = out.strip()
    assert notifier.silences.get(sid).comment == "deploy"
    code, out, _ = await run_cli(capsys, *base, "query", 'alertname="Noisy"')
    assert sid in out and 'pod=~"p-.*"' in out and "active" in out
    code, out, _ = await run_cli(capsys, *base, "query", 'alertname="Other"', "-q")
    assert out == ""
    await client.post("/api/v2/alerts", json=[alert_body("Noisy", {"pod": "p-1"}),
                                              alert_body("Loud", {"pod": "p-1"})],
                      headers={"Authorization": "Bearer cli-token"})
    await until(lambda: len(sink.posts) == 1)
    assert sink.posts[0].body["title"].endswith("Loud (p-1)")
    assert (await run_cli(capsys, *base, "expire", sid))[0] == 0
    assert notifier.silences.get(sid).state(notifier.clock()) == "expired"
    code, out, _ = await run_cli(capsys, *base, "query", "-q")
    assert out == ""
    code, out, _ = await run_cli(capsys, *base, "query", "--expired", "-q")
    assert out.strip() == sid


async def test_silence_errors_are_reported(sink, start_notifier, capsys) -> None:
    _, client = await start_notifier(CONFIG.replace("SINK", sink.url()))
    url = f"--notifier.url=http://127.0.0.1:{client.server.port}"
    with pytest.raises(SystemExit) as caught:
        await run_cli(capsys, "notifier", "silence", url, "expire", "nope")
    assert "HTTP 401" in str(caught.value) and "cli-token" not in str(caught.value)
    code, _, err = await run_cli(capsys, "notifier", "silence", url, "add", 'a=~"("',
                                 "--comment=x")
    assert code == 2 and "invalid regular expression" in err


async def test_amtool_can_manage_silences(sink, start_notifier, monkeypatch) -> None:
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("amtool not installed (Debian prometheus-alertmanager)")
    notifier, client = await start_notifier(
        CONFIG.replace("SINK", sink.url()).replace("web: {bearer_token: cli-token}\n", ""))
    url = f"--alertmanager.url=http://127.0.0.1:{client.server.port}"

    async def amtool_run(*args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            amtool, url, *args, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 0, err.decode()
        return out.decode()

    sid = (await amtool_run("silence", "add", "alertname=Noisy", "--comment=amtool",
                            "--author=ops", "--duration=1h")).strip()
    assert notifier.silences.get(sid).created_by == "ops"
    assert sid in await amtool_run("silence", "query", "-q")
    await amtool_run("silence", "expire", sid)
    assert notifier.silences.get(sid).state(notifier.clock()) == "expired"
    await client.post("/api/v2/alerts", json=[alert_body("Visible", {"pod": "p-9"})])
    listed = await amtool_run("alert", "query", "-o", "extended")
    assert "Visible" in listed and 'pod="p-9"' in listed


async def test_inhibition_end_to_end(sink, start_notifier) -> None:
    notifier, client = await start_notifier(CONFIG.replace("SINK", sink.url()))
    auth = {"Authorization": "Bearer cli-token"}
    await client.post("/api/v2/alerts", headers=auth, json=[
        alert_body("Burn", {"slo": "ttft", "severity": "page"}),
        alert_body("SlowBurn", {"slo": "ttft", "severity": "ticket"}),
        alert_body("SlowBurn", {"slo": "itl", "severity": "ticket"})])
    await until(lambda: len(sink.posts) == 2)
    await asyncio.sleep(0.4)
    titles = sorted(p.body["title"] for p in sink.posts)
    assert titles == ["[FIRING:1] Burn ttft (page)", "[FIRING:1] SlowBurn itl (ticket)"]
    text = await (await client.get("/metrics")).text()
    assert 'inferwatch_notifier_alerts{state="inhibited"} 1.0' in text
    # counted at each flush that left it out
    assert notifier.metrics.registry.get_sample_value(
        "inferwatch_notifier_alerts_inhibited_total") >= 1


@pytest.mark.parametrize(("config", "message"), [
    ("route: {receiver: ghost}\nreceivers: [{name: a}]",
     "route.receiver: receiver 'ghost' is not defined"),
    ("route: {receiver: a}\nreceivers: [{name: a, urls: ['nosuch://x']}]",
     "receivers.0.urls.0: apprise cannot use this URL (scheme 'nosuch')"),
])
async def test_bad_config_exits_2_with_the_field(tmp_path, capsys, config, message) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(config)
    for argv in (["notifier", "--config.file", str(path), "--storage.path", str(tmp_path)],
                 ["notifier", "check-config", str(path)]):
        code, _, err = await run_cli(capsys, *argv)
        assert code == 2 and f"{path}: {message}" in err
