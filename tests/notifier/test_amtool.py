"""amtool 0.25 against the notifier: every read and write command it has for alerts, silences
and the configuration (`check-config` reads only files: it checks our `config.original`)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.support.procs import need_binary

pytestmark = pytest.mark.ecosystem
CONFIG = """
global: {resolve_timeout: 5m}
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1h
  routes:
    - {receiver: infra, matchers: ['team=~"(?i)infra"'], continue: true}
    - {receiver: page, matchers: ['severity="page"'], group_interval: 90s}
inhibit_rules:
  - {source_matchers: ['severity="page"'], target_matchers: ['severity="warn"'], equal: [cluster]}
receivers:
  - name: hook
    urls: ["json://127.0.0.1:9/hook?token=s3cret-value"]
  - name: infra
  - name: page
"""


@pytest.fixture
async def amtool(start_notifier):
    """run(*args) -> stdout of `amtool --alertmanager.url=<the notifier> args` (rc 0 asserted)."""
    binary = need_binary("amtool")
    notifier, client = await start_notifier(CONFIG)
    url = f"http://127.0.0.1:{client.server.port}"

    async def run(*args: str, ok: bool = True, stdin: bytes | None = None) -> str:
        proc = await asyncio.create_subprocess_exec(
            binary, f"--alertmanager.url={url}", *args, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(stdin), 30)
        assert (proc.returncode == 0) is ok, (args, proc.returncode, out, err)
        return out.decode() if ok else err.decode()

    run.notifier = notifier
    return run


def _names(listing: str) -> list[str]:
    return sorted(a["labels"]["alertname"] for a in json.loads(listing))


async def test_alert_add_and_query_with_matchers_and_flags(amtool) -> None:
    await amtool("alert", "add", "Page", "severity=page", "cluster=c1",
                 "--annotation=summary=paged")
    await amtool("alert", "add", "Warn", "severity=warn", "cluster=c1", "team=INFRA")
    await amtool("alert", "add", "Other", "severity=warn", "cluster=c2",
                 "--end=2099-01-01T00:00:00Z")
    assert len(amtool.notifier.active) == 3
    assert _names(await amtool("alert", "query", "-o", "json")) == ["Other", "Page"]  # active
    assert _names(await amtool("alert", "query", "-i", "-o", "json")) == ["Warn"]
    assert _names(await amtool("alert", "query", "-a", "-i", "-o", "json")) == [
        "Other", "Page", "Warn"]
    assert _names(await amtool("alert", "query", "-a", "-i", "-o", "json",
                               'severity=~"w.*"', "cluster!=c1")) == ["Other"]
    assert _names(await amtool("alert", "query", "-a", "-i", "-o", "json", "Page")) == ["Page"]
    assert _names(await amtool("alert", "query", "-a", "-i", "-o", "json",
                               "--receiver=infra")) == ["Warn"]
    assert _names(await amtool("alert", "query", "-a", "-u", "-o", "json")) == ["Other", "Page"]
    text = await amtool("alert", "query", "-o", "extended")
    assert "paged" in text and "severity=\"page\"" in text
    silence = await amtool("silence", "add", "alertname=Page", "--comment=quiet", "-a", "me")
    assert _names(await amtool("alert", "query", "-s", "-o", "json")) == ["Page"]
    assert _names(await amtool("alert", "query", "-o", "json")) == ["Other"]
    await amtool("silence", "expire", silence.strip())
    assert _names(await amtool("alert", "query", "-o", "json")) == ["Other", "Page"]


async def test_silence_add_query_expire_import(amtool, tmp_path: Path) -> None:
    first = (await amtool("silence", "add", 'alertname=~"Disk.*"', "team=infra",
                          "--comment=maint", "--author=ops", "--duration=2h")).strip()
    second = (await amtool("silence", "add", "job=api", "--comment=deploy",
                           "--start=2098-01-01T00:00:00Z", "--end=2098-01-02T00:00:00Z"
                           )).strip()
    assert (await amtool("silence", "query", "-q")).split() == [first, second]  # not expired
    listed = json.loads(await amtool("silence", "query", "-o", "json", "team=infra"))
    assert [s["id"] for s in listed] == [first]
    assert {(m["name"], m["value"], m["isRegex"]) for m in listed[0]["matchers"]} == {
        ("alertname", "Disk.*", True), ("team", "infra", False)}
    assert "maint" in await amtool("silence", "query", "team=infra")
    await amtool("silence", "expire", first)
    assert (await amtool("silence", "query", "-q")).split() == [second]
    assert (await amtool("silence", "query", "-q", "--expired")).split() == [first]
    # import: the same silence as exported elsewhere (unknown id, so amtool retries as new)
    exported = [{**listed[0], "id": "3e1b0f0e-1111-4000-8000-000000000000",
                 "endsAt": "2099-01-01T00:00:00Z"}]
    (tmp_path / "silences.json").write_text(json.dumps(exported))
    imported = (await amtool("silence", "import", str(tmp_path / "silences.json"))).split()
    assert len(imported) == 1 and imported[0] != first
    assert amtool.notifier.silences.get(imported[0]).state(amtool.notifier.clock()) == "active"
    err = await amtool("silence", "add", 'alertname=~".*"', "--comment=all", ok=False)
    assert "at least one matcher must not match the empty string" in err


async def test_config_show_routes_show_and_test(amtool, tmp_path: Path) -> None:
    shown = await amtool("config", "show")
    assert "s3cret-value" not in shown and "<secret>" in shown
    assert 'team=~"(?i)infra"' in shown and "group_interval: 1m30s" in shown
    tree = await amtool("config", "routes", "show")
    assert "receiver: infra" in tree and "continue: true" in tree and "receiver: page" in tree
    assert (await amtool("config", "routes", "test", "team=INFRA", "severity=page")
            ).split() == ["infra,page"]
    assert (await amtool("config", "routes", "test", "alertname=x")).split() == ["hook"]
    await amtool("config", "routes", "test", "--verify.receivers=page", "severity=page")
    await amtool("config", "routes", "test", "--verify.receivers=hook", "severity=page", ok=False)
    original = await amtool("config", "show", "-o", "json")
    (tmp_path / "original.yml").write_text(json.loads(original)["config"]["original"])
    await amtool("check-config", str(tmp_path / "original.yml"))
