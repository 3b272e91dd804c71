"""Durability: restarts resend what was not confirmed, and never what was (outbox + nflog).

The last test kills a real `python -m inferwatch.cli notifier` with SIGKILL in the middle of an
alert storm, restarts it on the same storage, and checks every group's notification reached the
receiver under exactly one dedup key.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import defaultdict
from pathlib import Path

import aiohttp

from inferwatch.notifier.api import make_app
from inferwatch.notifier.service import Notifier
from tests.notifier.helpers import alert_body, load, write_config
from tests.support.procs import free_port
from tests.support.webhook import Sink, until

ROOT = Path(__file__).resolve().parents[2]


def config(url: str, group_wait: str = "100ms") -> str:
    return f"""
route: {{receiver: hook, group_by: [alertname], group_wait: {group_wait},
         group_interval: 300ms}}
receivers:
  - name: hook
    urls: ["{url}"]
delivery: {{initial_backoff: 50ms, max_backoff: 200ms, retry_deadline: 60s, timeout: 2s,
           concurrency: 4}}
web: {{max_body_bytes: 20000000}}
"""


async def test_restart_resends_pending_and_never_resends_confirmed(tmp_path, aiohttp_client
                                                                   ) -> None:
    port = free_port()
    sink = Sink(port=port)
    loaded = load(tmp_path, config(sink.url()))
    first = Notifier(loaded, tmp_path / "data")
    await first.start()
    client = await aiohttp_client(make_app(first))
    await client.post("/api/v2/alerts", json=[alert_body(f"G{i}") for i in range(3)])
    await until(lambda: first.outbox.depth() == 3, what="three pending notifications")
    await first.stop()  # the receiver never answered

    await sink.start()
    try:
        second = Notifier(loaded, tmp_path / "data")
        await second.start()
        await until(lambda: len(sink.posts) == 3, what="the pending ones, after the restart")
        await asyncio.sleep(0.8)  # group flushes after the restart: nothing new to say
        assert len(sink.posts) == 3 and second.outbox.counts() == {"delivered": 3}
        await second.stop()

        third = Notifier(loaded, tmp_path / "data")
        await third.start()
        await asyncio.sleep(0.8)
        assert len(sink.posts) == 3, "a confirmed notification went out twice"
        assert len(third.groups) == 3  # the alerts themselves survived both restarts
        await third.stop()
    finally:
        await sink.stop()


async def _start_process(cfg: Path, port: int, storage: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "inferwatch.cli", "notifier", "--config.file", str(cfg),
        "--web.listen-address", f"127.0.0.1:{port}", "--storage.path", str(storage),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    async with aiohttp.ClientSession() as session:
        async def ready() -> bool:
            try:
                async with session.get(f"http://127.0.0.1:{port}/-/ready") as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False
        for _ in range(150):
            if proc.returncode is not None:
                raise AssertionError((await proc.stderr.read()).decode()[-2000:])
            if await ready():
                return proc
            await asyncio.sleep(0.1)
    proc.kill()
    raise AssertionError("the notifier did not become ready in 15s")


async def _post_until_accepted(session: aiohttp.ClientSession, url: str, batch: list) -> None:
    """Like Prometheus: keep re-sending a batch until the notifier accepts it."""
    for _ in range(300):
        try:
            async with session.post(url, json=batch) as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("batch never accepted")


async def test_kill_9_during_a_storm_delivers_every_group_exactly_once(tmp_path) -> None:
    groups, per_group, per_batch = 40, 25, 4
    sink = await Sink(delay=0.05).start()
    cfg = write_config(tmp_path, config(sink.url(), group_wait="200ms"))
    port = free_port()
    proc = await _start_process(cfg, port, tmp_path / "data")
    url = f"http://127.0.0.1:{port}/api/v2/alerts"
    batches = [[alert_body(f"G{g}", {"pod": f"p{i}"}) for g in range(b, b + per_batch)
                for i in range(per_group)] for b in range(0, groups, per_batch)]
    try:
        async with aiohttp.ClientSession() as session:
            async def storm() -> None:
                for batch in batches:
                    await _post_until_accepted(session, url, batch)
            sender = asyncio.create_task(storm())
            await until(lambda: len(sink.posts) >= 8, 20, what="deliveries under way")
            proc.send_signal(signal.SIGKILL)  # mid-delivery: 4 in flight, more queued
            await proc.wait()
            seen_at_kill = len({p.body["title"] for p in sink.posts})
            proc = await _start_process(cfg, port, tmp_path / "data")
            await sender
            await until(lambda: len({p.key for p in sink.posts}) >= groups, 30,
                        what="every group's notification after the restart")
            await asyncio.sleep(0.8)  # time for any duplicate to show up
    finally:
        proc.kill()
        await proc.wait()
        await sink.stop()
    keys_by_title: dict[str, set[str]] = defaultdict(set)
    for post in sink.posts:
        keys_by_title[post.body["title"]].add(post.key)
    assert seen_at_kill < groups, "the kill came too late to test anything"
    assert sorted(keys_by_title) == sorted(f"[FIRING:{per_group}] G{g}" for g in range(groups))
    assert all(len(keys) == 1 for keys in keys_by_title.values()), {
        t: k for t, k in keys_by_title.items() if len(k) > 1}
