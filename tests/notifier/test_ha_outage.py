"""Replicas and their database: a replica cut from PostgreSQL (its connections terminated, then
the server stopped for a few seconds) sends nothing it cannot record and catches up after; a
silence added on one replica mutes the next flush of the group's owner, another replica."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from inferwatch.notifier.api import make_app
from inferwatch.notifier.service import Notifier
from inferwatch.notifier.storage import Cluster
from tests.notifier.helpers import alert_body, load
from tests.support.webhook import until

OUTAGE = 3.0  # seconds the server stays down


def config(url: str, group_wait: str = "200ms") -> str:
    return f"""
route: {{receiver: hook, group_by: [alertname], group_wait: {group_wait},
         group_interval: 500ms}}
receivers:
  - name: hook
    urls: ["{url}"]
delivery: {{initial_backoff: 50ms, max_backoff: 200ms, retry_deadline: 60s, timeout: 2s}}
"""


async def replica(tmp_path, text: str, url: str, name: str, aiohttp_client):
    notifier = Notifier(load(tmp_path, text), url, cluster=Cluster(replica=name, lease=2.0))
    await notifier.start()
    return notifier, await aiohttp_client(make_app(notifier))


def metric(notifier: Notifier, name: str, labels: dict | None = None) -> float:
    return notifier.metrics.registry.get_sample_value(name, labels or {}) or 0.0


async def test_a_replica_cut_from_the_database_sends_nothing_it_cannot_record(
        pg_server, pg_url, sink, tmp_path, aiohttp_client) -> None:
    n, client = await replica(tmp_path, config(sink.url(), "1s"), pg_url, "cut", aiohttp_client)
    try:
        assert (await client.post("/api/v2/alerts", json=[alert_body("Before")])).status == 200
        await until(lambda: len(sink.posts) == 1, 10, what="the first notification")
        # accepted, its group_wait (1s) ending during the outage: the flush cannot record it
        assert (await client.post("/api/v2/alerts", json=[alert_body("Flushed")])).status == 200
        pg_server.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = 'inferwatch-notifier cut'")
        await asyncio.to_thread(pg_server.stop)
        assert len(sink.posts) == 1, "the flush came before the outage: nothing tested"
        try:
            resp = await client.post("/api/v2/alerts", json=[alert_body("During")])
            assert resp.status == 503, await resp.text()  # not stored: the sender retries
            await until(lambda: not n.ready, 10, what="not ready without the database")
            assert (await client.get("/-/ready")).status == 503
            await until(lambda: sum(metric(n, "inferwatch_notifier_storage_errors_total",
                                           {"op": op}) for op in ("read", "enqueue")) >= 1,
                        10, what="a failed flush")
            await asyncio.sleep(OUTAGE)  # the outage itself
            assert len(sink.posts) == 1, [p.body["title"] for p in sink.posts]
        finally:
            await asyncio.to_thread(pg_server.start)
        for _ in range(200):  # the sender retrying, as Prometheus does
            if (await client.post("/api/v2/alerts", json=[alert_body("During")])).status == 200:
                break
            await asyncio.sleep(0.05)
        await until(lambda: n.ready, 15, what="ready again")
        await until(lambda: len(sink.posts) == 3, 20, what="the held notifications, after")
        await until(lambda: n.outbox.counts() == {"delivered": 3}, 10, what="marked")
    finally:
        await n.stop()
    keys: dict[str, set[str]] = defaultdict(set)
    for post in sink.posts:
        keys[post.body["title"]].add(post.key)
    assert sorted(keys) == ["[FIRING:1] Before", "[FIRING:1] During", "[FIRING:1] Flushed"]
    assert len(sink.posts) == 3 and all(len(k) == 1 for k in keys.values())


async def test_a_silence_added_on_one_replica_mutes_the_next_flush_on_another(
        pg_url, sink, tmp_path, aiohttp_client) -> None:
    a = await replica(tmp_path, config(sink.url()), pg_url, "a", aiohttp_client)
    b = await replica(tmp_path, config(sink.url()), pg_url, "b", aiohttp_client)
    try:
        await a[1].post("/api/v2/alerts", json=[alert_body("Quiet", {"pod": "1"})])
        await until(lambda: len(sink.posts) == 1, 10, what="the first notification")
        owner, other = (a, b) if a[0].storage.held() else (b, a)
        assert owner[0].storage.held() and not other[0].storage.held()
        body = {"matchers": [{"name": "alertname", "value": "Quiet", "isRegex": False}],
                "startsAt": "2000-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z",
                "createdBy": "t", "comment": "made on the other replica"}
        resp = await other[1].post("/api/v2/silences", json=body)
        sid = (await resp.json())["silenceID"]
        # a new alert in the group: the owner's next flush would notify it, unsilenced
        await owner[1].post("/api/v2/alerts", json=[alert_body("Quiet", {"pod": "2"})])
        await until(lambda: metric(owner[0], "inferwatch_notifier_alerts_silenced_total") >= 2,
                    10, what="the owner's next flush, muted")
        assert len(sink.posts) == 1
        assert (await other[1].delete(f"/api/v2/silence/{sid}")).status == 200
        await until(lambda: len(sink.posts) == 2, 10, what="the notification once unmuted")
        assert sink.posts[1].body["title"] == "[FIRING:2] Quiet"
    finally:
        await a[0].stop()
        await b[0].stop()


async def test_a_silence_made_on_another_replica_can_be_expired_here_at_once(
        pg_url, sink, tmp_path, aiohttp_client) -> None:
    a = await replica(tmp_path, config(sink.url()), pg_url, "a", aiohttp_client)
    b = await replica(tmp_path, config(sink.url()), pg_url, "b", aiohttp_client)
    try:
        body = {"matchers": [{"name": "alertname", "value": "X", "isRegex": False}],
                "startsAt": "2000-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z",
                "createdBy": "t", "comment": "c"}
        sid = (await (await a[1].post("/api/v2/silences", json=body)).json())["silenceID"]
        resp = await b[1].delete(f"/api/v2/silence/{sid}")  # before b's next reload
        assert resp.status == 200, await resp.text()
        assert a[0].silences.get(sid).state(a[0].clock()) in ("active", "expired")
        await until(lambda: a[0].silences.get(sid).state(a[0].clock()) == "expired", 5,
                    what="the expiry seen on the replica that made it")
    finally:
        await a[0].stop()
        await b[0].stop()


async def test_a_pick_up_racing_a_silence_write_does_not_undo_it(
        pg_server, pg_url, sink, tmp_path, aiohttp_client) -> None:
    """The silences a pick-up read before this replica expired one are not reloaded over it
    (the alerts table locked meanwhile holds the pick-up between its read and its reload)."""
    import psycopg

    n, client = await replica(tmp_path, config(sink.url()), pg_url, "race", aiohttp_client)
    locker = await psycopg.AsyncConnection.connect(pg_url)
    try:
        body = {"matchers": [{"name": "alertname", "value": "X", "isRegex": False}],
                "startsAt": "2000-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z",
                "createdBy": "t", "comment": "c"}
        sid = (await (await client.post("/api/v2/silences", json=body)).json())["silenceID"]
        await locker.execute("LOCK TABLE alerts IN ACCESS EXCLUSIVE MODE")
        pick = asyncio.create_task(n.storage.changes())
        db = pg_url.rsplit("/", 1)[1]
        waiting = ("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND "
                   "application_name = 'inferwatch-notifier race'")
        await until(lambda: pg_server.sql(waiting, db)[0][0] >= 1, 5,
                    what="the pick-up waiting on the alerts table")
        assert (await client.delete(f"/api/v2/silence/{sid}")).status == 200
        await locker.rollback()
        await pick
        assert n.silences.get(sid).state(n.clock()) == "expired"
    finally:
        await locker.close()
        await n.stop()
