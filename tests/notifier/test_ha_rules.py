"""Two `rules run` replicas evaluating the same rules (as a Prometheus HA pair does), each
sending to both notifier replicas on one PostgreSQL database: one notification per group, and
one for its resolution."""

from __future__ import annotations

import asyncio
import json
import os
import sys

from aiohttp import web

from tests.notifier.helpers import write_config
from tests.notifier.test_ha_replicas import ROOT, Replica
from tests.support.webhook import Sink, until

RULES = """groups:
  - name: g
    interval: 1s
    rules:
      - alert: KVFull
        metric: inferwatch_engine_kv_cache_usage_ratio
        op: ">"
        threshold: 0.9
        for: 0s
"""
SERIES = 'inferwatch_engine_kv_cache_usage_ratio{engine="vllm",model="m",target="t"} %s\n'
NOTIFIER = """
route: {{receiver: hook, group_by: [alertname], group_wait: 500ms, group_interval: 1s}}
receivers:
  - name: hook
    urls: [{{url: "{url}", send_resolved: true}}]
delivery: {{initial_backoff: 50ms, retry_deadline: 60s, timeout: 2s}}
"""


async def received(replicas: list[Replica]) -> float:
    """Alerts the notifier replicas accepted from the rules engines, all together."""
    import aiohttp

    total = 0.0
    async with aiohttp.ClientSession() as session:
        for r in replicas:
            async with session.get(r.base + "/metrics") as resp:
                for line in (await resp.text()).splitlines():
                    if line.startswith("inferwatch_notifier_alerts_received_total{"):
                        total += float(line.rsplit(" ", 1)[1])
    return total


async def test_two_rules_engines_on_one_incident_give_one_notification_per_group(
        pg_url, tmp_path, aiohttp_server) -> None:
    kv = ["0.95"]

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=SERIES % kv[0])

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    exporter = await aiohttp_server(app, host="127.0.0.1")
    sink = await Sink().start()
    cfg = write_config(tmp_path, NOTIFIER.format(url=sink.url()))
    notifiers = [await Replica(f"n{i}", cfg, pg_url, tmp_path).start() for i in range(2)]
    (tmp_path / "rules.yml").write_text(RULES)
    engines = []
    for i in range(2):
        run = tmp_path / f"run{i}.json"
        run.write_text(json.dumps({
            "rules": ["rules.yml"], "resend_delay": "1s", "state_file": f"state{i}.json",
            "source": {"embedded": {"targets": [
                {"url": f"http://127.0.0.1:{exporter.port}/metrics"}], "scrape_interval": "1s"}},
            "alertmanagers": [{"url": n.base} for n in notifiers]}))
        engines.append(await asyncio.create_subprocess_exec(
            sys.executable, "-m", "inferwatch.cli", "rules", "run", "--config", str(run),
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL))
    try:
        await until(lambda: len(sink.posts) >= 1, 30, what="the firing notification")
        start = await received(notifiers)
        for _ in range(300):  # both engines resending to both replicas, several group ticks
            if await received(notifiers) >= start + 8:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the engines stopped sending")
        assert [p.body["title"].split(" (")[0] for p in sink.posts] == ["[FIRING:1] KVFull"]
        kv[0] = "0.5"
        await until(lambda: len(sink.posts) >= 2, 30, what="the resolved notification")
        resolved = await received(notifiers)
        for _ in range(300):
            if await received(notifiers) >= resolved + 4:
                break
            await asyncio.sleep(0.1)
        assert [p.body["title"].split(" (")[0] for p in sink.posts] == [
            "[FIRING:1] KVFull", "[RESOLVED] KVFull"]
        assert len({p.key for p in sink.posts}) == 2
    finally:
        for proc in engines:
            proc.kill()
            await proc.wait()
        for n in notifiers:
            await n.stop()
        await sink.stop()
