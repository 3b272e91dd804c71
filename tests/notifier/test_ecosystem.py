"""The real peers: an Alertmanager relaying to the notifier's webhook receiver, and a Prometheus
whose alerting section points at the notifier's API v2 (skipped when the binaries are absent)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.notifier.helpers import alert_body
from tests.support.procs import free_port
from tests.support.webhook import until

pytestmark = pytest.mark.ecosystem
TOKEN = "eco-token-1"


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (Debian package; CI installs it)")
    return path


def notifier_config(sink_url: str) -> str:
    return f"""
route: {{receiver: hook, group_by: [alertname], group_wait: 100ms, group_interval: 300ms}}
receivers:
  - name: hook
    urls: [{{url: "{sink_url}", send_resolved: true}}]
web: {{bearer_token: {TOKEN}}}
"""


@asynccontextmanager
async def process(*argv: str) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def wait_ready(url: str, proc: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(150):
            if proc.returncode is not None:
                raise AssertionError((await proc.stderr.read()).decode()[-2000:])
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} not ready in 15s")


async def test_alertmanager_delivers_through_the_notifier(tmp_path: Path, sink,
                                                          start_notifier) -> None:
    am = binary("prometheus-alertmanager")
    notifier, client = await start_notifier(notifier_config(sink.url()))
    hook = f"http://127.0.0.1:{client.server.port}/api/v1/webhook"
    (tmp_path / "am.yml").write_text(f"""
route: {{receiver: nf, group_by: [alertname], group_wait: 100ms, group_interval: 1s}}
receivers:
  - name: nf
    webhook_configs:
      - url: {hook}
        send_resolved: true
        http_config: {{authorization: {{credentials: {TOKEN}}}}}
""")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with process(am, f"--config.file={tmp_path / 'am.yml'}",
                       f"--storage.path={tmp_path / 'am'}",
                       f"--web.listen-address=127.0.0.1:{port}",
                       "--cluster.listen-address=") as proc:
        await wait_ready(f"{base}/-/ready", proc)
        async with aiohttp.ClientSession() as session:
            firing = alert_body("Upstream", {"model": "llama"}, summary="via Alertmanager")
            await session.post(f"{base}/api/v2/alerts", json=[firing])
            await until(lambda: len(sink.posts) == 1, 15, what="the relayed firing alert")
            assert sink.posts[0].body["title"] == "[FIRING:1] Upstream (llama)"
            async with session.get(f"{base}/api/v2/alerts") as resp:
                am_fingerprint = (await resp.json())[0]["fingerprint"]
            assert list(notifier.active) == [am_fingerprint]  # same fingerprint function
            resolved = {**firing, "endsAt": "2020-01-01T00:00:00Z",
                        "startsAt": "2019-12-31T00:00:00Z"}
            await session.post(f"{base}/api/v2/alerts", json=[resolved])
            await until(lambda: len(sink.posts) == 2, 15, what="the relayed resolution")
    assert sink.posts[1].body["title"] == "[RESOLVED] Upstream (llama)"
    assert notifier.metrics.registry.get_sample_value(
        "inferwatch_notifier_alerts_received_total", {"source": "webhook"}) >= 2


async def test_prometheus_alerting_points_at_the_notifier(tmp_path: Path, sink,
                                                          start_notifier) -> None:
    prom = binary("prometheus")
    notifier, client = await start_notifier(notifier_config(sink.url()))
    (tmp_path / "rules.yml").write_text("""
groups:
  - name: t
    interval: 1s
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
        labels: {severity: page}
        annotations: {summary: "fires from the first evaluation"}
""")
    (tmp_path / "prom.yml").write_text(f"""
global: {{evaluation_interval: 1s}}
rule_files: [{tmp_path / 'rules.yml'}]
alerting:
  alertmanagers:
    - static_configs: [{{targets: ["127.0.0.1:{client.server.port}"]}}]
      authorization: {{credentials: {TOKEN}}}
""")
    port = free_port()
    async with process(prom, f"--config.file={tmp_path / 'prom.yml'}",
                       f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                       f"--web.listen-address=127.0.0.1:{port}",
                       "--rules.alert.resend-delay=1s") as proc:
        await wait_ready(f"http://127.0.0.1:{port}/-/ready", proc)
        # alertmanager discovery settles after about 5s: the resend delay covers that
        await until(lambda: len(sink.posts) == 1, 20, what="Prometheus's alert, delivered")
    body = sink.posts[0].body
    assert body["title"] == "[FIRING:1] AlwaysFiring (page)"
    assert "fires from the first evaluation" in body["message"]
    assert f":{port}/graph?g0.expr=vector%281%29" in body["message"]  # the generatorURL
    assert notifier.metrics.registry.get_sample_value(
        "inferwatch_notifier_alerts_received_total", {"source": "api"}) >= 1
