"""Notifier replicas on one PostgreSQL database, in this process: a replica taking a group over
keeps to the schedule its owner recorded, and LISTEN/NOTIFY brings another replica's alerts,
silences and queued notifications over without waiting for the poll."""

from __future__ import annotations

import asyncio
import time

from inferwatch.notifier.storage import Cluster
from tests.notifier.helpers import alert_body
from tests.support.webhook import until


def config(url: str, group_wait: str = "100ms", group_interval: str = "4s") -> str:
    return f"""
route: {{receiver: hook, group_by: [alertname], group_wait: {group_wait},
         group_interval: {group_interval}, repeat_interval: 1h}}
receivers:
  - name: hook
    urls: [{{url: "{url}", send_resolved: true}}]
delivery: {{initial_backoff: 50ms, retry_deadline: 60s, timeout: 2s}}
"""


def wall(monotonic: float) -> float:
    return monotonic - time.monotonic() + time.time()


async def test_a_replica_taking_a_group_over_keeps_to_its_recorded_next_flush(
        sink, start_notifier, pg_server, pg_url) -> None:
    db = pg_url.rsplit("/", 1)[1]
    first, client = await start_notifier(config(sink.url()), storage=pg_url,
                                         cluster=Cluster("a", lease=2.0))
    await client.post("/api/v2/alerts", json=[alert_body("Sched", {"pod": "1"})])
    await until(lambda: len(sink.posts) == 1, what="the first flush, by replica a")
    [(last, nxt, by)] = pg_server.sql(
        "SELECT last_flush, next_flush, flushed_by FROM group_schedule", db)
    assert by == "a" and abs(nxt - last - 4.0) < 1e-6, (last, nxt, by)
    await first.stop()  # hands its lease back: the next replica takes the group at once
    await asyncio.sleep(1.0)  # a replacement starting a while later
    second, client = await start_notifier(config(sink.url()), storage=pg_url,
                                          cluster=Cluster("b", lease=2.0))
    await client.post("/api/v2/alerts", json=[alert_body("Sched", {"pod": "2"})])
    await until(lambda: len(second.storage.held()) == 1, what="replica b holding the lease")
    await until(lambda: len(sink.posts) == 2, 10, what="the group's next flush, by replica b")
    at = wall(sink.posts[1].at)
    # on the owner's schedule: not at b's start (early), nor a group_interval after it (late)
    assert nxt - 0.05 <= at <= nxt + 0.5, (at - nxt)
    assert [p.body["title"].split(" (")[0] for p in sink.posts] == ["[FIRING:1] Sched",
                                                                    "[FIRING:2] Sched"]
    [(by,)] = pg_server.sql("SELECT flushed_by FROM group_schedule", db)
    assert by == "b"


async def test_notify_brings_alerts_silences_and_queued_notifications_over_before_the_poll(
        sink, start_notifier, pg_url) -> None:
    slow = Cluster("b", lease=5.0, poll=30.0)  # its polls alone would take 30 s
    other, _ = await start_notifier(config(sink.url(), group_wait="20s"), storage=pg_url,
                                    cluster=slow)
    await until(lambda: other.storage.listening, what="replica b listening")
    front, client = await start_notifier(config(sink.url()), storage=pg_url,
                                         cluster=Cluster("a", lease=5.0, poll=30.0))
    front.storage.slots = 0  # replica a queues but claims nothing: delivery is b's
    body = {"matchers": [{"name": "alertname", "value": "Quiet", "isRegex": False}],
            "startsAt": "2000-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z",
            "createdBy": "t", "comment": "made on a"}
    resp = await client.post("/api/v2/silences", json=body)
    assert resp.status == 200, await resp.text()
    sid = (await resp.json())["silenceID"]
    started = time.monotonic()
    await until(lambda: sid in {s.id for s in other.silences.all()}, 3,
                what="the silence on replica b")
    await client.post("/api/v2/alerts", json=[alert_body("Prompt")])
    await until(lambda: any(a.labels.get("alertname") == "Prompt"
                            for a in other.active.values()), 3, what="the alert on replica b")
    await until(lambda: len(sink.posts) == 1, 3, what="b delivering what a queued")
    assert time.monotonic() - started < 10  # far below the 30 s poll
    await until(lambda: front.outbox.counts() == {"delivered": 1}, 3, what="the mark")
    assert sink.posts[0].body["title"].startswith("[FIRING:1] Prompt")
