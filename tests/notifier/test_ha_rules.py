"""Two `rules run` replicas evaluating the same rules (as a Prometheus HA pair does), each
sending to both notifier replicas on one PostgreSQL database: one notification per group, and
one for its resolution. A rules replica keeping its alert state in PostgreSQL, killed and
replaced: the replacement neither pages again nor loses a resolve."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime

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


async def test_a_replacement_rules_replica_on_postgresql_neither_pages_again_nor_loses_a_resolve(
        pg_server, pg_url, tmp_path, aiohttp_server) -> None:
    kv, posts = ["0.95"], []

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=SERIES % kv[0])

    async def alerts(request: web.Request) -> web.Response:
        at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        posts.extend({**p, "received": at} for p in await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/api/v2/alerts", alerts)
    server = await aiohttp_server(app, host="127.0.0.1")
    (tmp_path / "rules.yml").write_text(RULES.replace("for: 0s", "for: 5s"))
    run = tmp_path / "run.json"  # no state_file: the state is in PostgreSQL only
    run.write_text(json.dumps({
        "rules": ["rules.yml"], "resend_delay": "1s", "source": {"embedded": {"targets": [
            {"url": f"http://127.0.0.1:{server.port}/metrics"}], "scrape_interval": "1s"}},
        "alertmanagers": [{"url": f"http://127.0.0.1:{server.port}"}]}))
    secret = tmp_path / "uri"
    secret.write_text(pg_url + "\n")

    async def engine() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "inferwatch.cli", "rules", "run", "--config", str(run),
            "--storage.url-file", str(secret), cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL)

    def saved_firing() -> bool:
        rows = pg_server.sql("SELECT body FROM rules_state", pg_url.rsplit("/", 1)[1])
        return any(a["state"] == "firing" for (body,) in rows for a in json.loads(body)["alerts"])

    procs = [await engine()]
    try:
        await until(lambda: bool(posts), 30, what="the first engine's firing alert")
        starts = posts[0]["startsAt"]
        await until(saved_firing, 10, what="the firing state saved")
        procs[-1].kill()  # kill -9: no chance to save anything more
        await procs[-1].wait()
        posts.clear()
        started = time.monotonic()
        procs.append(await engine())  # the replacement, condition still true
        await until(lambda: bool(posts), 30, what="the replacement's first send")
        # restored: firing since the first engine's startsAt at once, not pending for 5s again
        assert time.monotonic() - started < 5 + 2.0  # import + first cycle, under the for
        assert {(p["labels"]["alertname"], p["startsAt"]) for p in posts} == {("KVFull", starts)}
        procs[-1].kill()
        await procs[-1].wait()
        kv[0] = "0.5"  # the condition clears while no engine runs
        posts.clear()
        procs.append(await engine())
        # resolved: endsAt no later than its arrival (a firing one's is resend periods ahead)
        await until(lambda: any(p["endsAt"] <= p["received"] for p in posts), 30,
                    what="the resolve")
        assert {p["startsAt"] for p in posts} == {starts}
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
