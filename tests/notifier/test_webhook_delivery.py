"""End to end to a loopback webhook (apprise json://): grouping, resolution, retries, storms."""

from __future__ import annotations

import asyncio
import random
import time

from inferwatch.notifier.config import DeliveryConfig
from inferwatch.notifier.delivery import backoff
from tests.notifier.helpers import alert_body
from tests.support.procs import free_port
from tests.support.webhook import Sink, until

PAST = "2020-01-01T00:00:00Z"


def config(url: str, **route: str) -> str:
    extra = "".join(f", {k}: {v}" for k, v in route.items())
    return f"""
route: {{receiver: hook, group_by: [alertname], group_wait: 100ms, group_interval: 300ms{extra}}}
receivers:
  - name: hook
    urls: ["{url}"]
delivery: {{initial_backoff: 50ms, max_backoff: 200ms, retry_deadline: 20s, timeout: 2s}}
"""


async def test_grouping_resolution_and_content(sink, start_notifier) -> None:
    _, client = await start_notifier(config(sink.url()))
    await client.post("/api/v2/alerts", json=[
        alert_body("HighTTFT", {"model": "llama", "severity": "page"}, summary="p99 TTFT 3s",
                   runbook_url="http://runbooks/ttft"),
        alert_body("HighTTFT", {"model": "qwen", "severity": "page"}, summary="p99 TTFT 4s"),
        alert_body("GpuHot", {"gpu": "0"})])
    await until(lambda: len(sink.posts) == 2, what="one notification per group")
    by_title = {p.body["title"]: p.body for p in sink.posts}
    assert set(by_title) == {"[FIRING:2] HighTTFT (page)", "[FIRING:1] GpuHot (0)"}
    ttft = by_title["[FIRING:2] HighTTFT (page)"]
    assert ttft["type"] == "failure"  # severity page
    assert "p99 TTFT 3s" in ttft["message"] and "Runbook: http://runbooks/ttft" in ttft["message"]
    await client.post("/api/v2/alerts", json=[
        alert_body("HighTTFT", {"model": "llama", "severity": "page"}, ends=PAST)])
    await until(lambda: len(sink.posts) == 3, what="the partial resolution")
    body = sink.posts[2].body
    assert body["title"] == "[FIRING:1] HighTTFT (page)"
    assert body["message"].index("Firing:") < body["message"].index("Resolved:")
    await client.post("/api/v2/alerts", json=[
        alert_body("HighTTFT", {"model": "qwen", "severity": "page"}, ends=PAST)])
    await until(lambda: len(sink.posts) == 4, what="all resolved")
    # llama's resolution went out already, so only qwen is left in the group
    assert sink.posts[3].body["title"] == "[RESOLVED] HighTTFT (qwen page)"
    assert sink.posts[3].body["type"] == "success"
    await client.post("/api/v2/alerts", json=[alert_body("GpuHot", {"gpu": "0"})])  # re-sent
    await asyncio.sleep(0.7)  # two group intervals: time for a wrong notification to show
    assert len(sink.posts) == 4  # a re-sent firing alert is not news
    assert len({p.key for p in sink.posts}) == 4


async def test_repeat_interval_resends(sink, start_notifier) -> None:
    _, client = await start_notifier(config(sink.url(), repeat_interval="600ms"))
    await client.post("/api/v2/alerts", json=[alert_body("A")])
    await until(lambda: len(sink.posts) == 2, 5, what="a repeat")
    assert sink.posts[0].body == sink.posts[1].body
    assert sink.posts[0].key != sink.posts[1].key


async def test_retry_after_receiver_was_down_loses_nothing(start_notifier) -> None:
    port = free_port()
    down = Sink(port=port)
    notifier, client = await start_notifier(config(down.url()))
    await client.post("/api/v2/alerts", json=[alert_body(f"A{i}") for i in range(5)])
    await until(lambda: notifier.outbox.counts().get("pending") == 5, what="queued")
    await until(lambda: all(r["attempts"] >= 2 for r in notifier.outbox.listing(100)),
                what="failed attempts against a closed port")
    await down.start()
    try:
        await until(lambda: len(down.posts) == 5, what="delivery once the receiver is up")
        assert sorted(p.body["title"] for p in down.posts) == [f"[FIRING:1] A{i}"
                                                               for i in range(5)]
        await until(lambda: notifier.outbox.counts() == {"delivered": 5}, what="all marked")
        text = notifier.metrics.registry.get_sample_value
        assert text("inferwatch_notifier_notifications_total",
                    {"receiver": "hook", "channel": "json"}) == 5
        assert text("inferwatch_notifier_notification_attempts_failed_total",
                    {"receiver": "hook", "channel": "json"}) >= 10
    finally:
        await down.stop()


async def test_5xx_is_retried_4xx_is_not(sink, start_notifier) -> None:
    notifier, client = await start_notifier(config(sink.url()))
    sink.fail = [503, 500]
    await client.post("/api/v2/alerts", json=[alert_body("Retried")])
    await until(lambda: len(sink.posts) == 1, what="delivery after two 5xx")
    sink.fail = [404]
    await client.post("/api/v2/alerts", json=[alert_body("Refused")])
    await until(lambda: notifier.outbox.counts().get("failed") == 1, what="the 404 given up")
    [row] = notifier.outbox.listing(10, state="failed")
    assert row["attempts"] == 1 and "error=404" in row["last_error"]
    assert notifier.metrics.registry.get_sample_value(
        "inferwatch_notifier_notifications_failed_total",
        {"receiver": "hook", "channel": "json"}) == 1


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    cfg = DeliveryConfig(initial_backoff=1, max_backoff=8)
    rng = random.Random(7)
    for attempt, base in enumerate([1, 2, 4, 8, 8, 8]):
        delays = [backoff(attempt, cfg, rng) for _ in range(200)]
        assert base / 2 <= min(delays) and max(delays) <= base
        assert max(delays) - min(delays) > base / 4  # jittered, not constant


async def test_storm_of_10000_alerts_makes_few_notifications(sink, start_notifier) -> None:
    _, client = await start_notifier(config(sink.url()) + "web: {max_body_bytes: 20000000}\n")
    names = ["KVCacheFull", "HighTTFT", "GpuXid"]
    storm = [alert_body(names[i % 3], {"pod": f"pod-{i}"}) for i in range(10_000)]
    started = time.monotonic()
    resp = await client.post("/api/v2/alerts", json=storm)
    assert resp.status == 200
    await until(lambda: len(sink.posts) == 3, 15, what="three group notifications")
    elapsed = time.monotonic() - started
    assert sorted(p.body["title"] for p in sink.posts) == sorted(
        f"[FIRING:{n}] {name}" for name, n in zip(names, (3334, 3333, 3333), strict=True))
    assert elapsed < 10, f"storm took {elapsed:.1f}s"
