"""The storage-dependent notifier behaviour on both backends (SQLite and PostgreSQL): alerts to
delivery, dedup across a restart, silences, retries, migrations; and the DSN kept out of logs."""

from __future__ import annotations

import asyncio
import logging

from inferwatch.notifier.service import Notifier
from inferwatch.notifier.storage import open_storage
from tests.notifier.conftest import both_backends
from tests.notifier.helpers import alert_body, load
from tests.notifier.pgcluster import PASSWORD
from tests.support.webhook import until


def config(url: str, group_interval: str = "300ms") -> str:
    return f"""
route: {{receiver: hook, group_by: [alertname], group_wait: 100ms,
         group_interval: {group_interval}}}
receivers:
  - name: hook
    urls: [{{url: "{url}", send_resolved: true}}]
delivery: {{initial_backoff: 50ms, max_backoff: 200ms, retry_deadline: 60s, timeout: 2s}}
"""


@both_backends
async def test_alerts_are_delivered_once_and_not_again_after_a_restart(
        sink, start_notifier, storage_spec, tmp_path) -> None:
    notifier, client = await start_notifier(config(sink.url()))
    resp = await client.post("/api/v2/alerts", json=[alert_body(f"G{i}") for i in range(5)])
    assert resp.status == 200
    await until(lambda: len(sink.posts) == 5, what="five notifications")
    await until(lambda: notifier.outbox.counts() == {"delivered": 5}, what="five marks")
    await notifier.stop()
    second = Notifier(load(tmp_path, config(sink.url())), storage_spec)
    await second.start()
    try:
        assert len(second.groups) == 5  # the alerts came back from the store
        await asyncio.sleep(0.8)  # several group ticks: nothing new to say
        assert len(sink.posts) == 5
    finally:
        await second.stop()


@both_backends
async def test_a_failing_receiver_is_retried_and_resolved_alerts_notify(
        sink, start_notifier) -> None:
    sink.fail = [500, 500]
    notifier, client = await start_notifier(config(sink.url()))
    await client.post("/api/v2/alerts", json=[alert_body("Retry")])
    await until(lambda: len(sink.posts) == 1, what="delivery after two failures")
    await until(lambda: notifier.outbox.counts() == {"delivered": 1}, what="the mark")
    await client.post("/api/v2/alerts", json=[alert_body("Retry", ends="2000-01-01T00:00:00Z")])
    await until(lambda: len(sink.posts) == 2, what="the resolved notification")
    assert sink.posts[1].body["title"].startswith("[RESOLVED]"), sink.posts[1].body
    assert len({p.key for p in sink.posts}) == 2


@both_backends
async def test_a_silence_mutes_and_survives_a_restart(sink, start_notifier, storage_spec,
                                                      tmp_path) -> None:
    notifier, client = await start_notifier(config(sink.url()))
    body = {"matchers": [{"name": "alertname", "value": "Muted", "isRegex": False}],
            "startsAt": "2000-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z",
            "createdBy": "t", "comment": "c"}
    resp = await client.post("/api/v2/silences", json=body)
    assert resp.status == 200, await resp.text()
    sid = (await resp.json())["silenceID"]
    await client.post("/api/v2/alerts", json=[alert_body("Muted"), alert_body("Loud")])
    await until(lambda: len(sink.posts) == 1, what="the unsilenced notification")
    await asyncio.sleep(0.5)
    assert ["Loud" in p.body["title"] for p in sink.posts] == [True]
    await notifier.stop()
    second = Notifier(load(tmp_path, config(sink.url())), storage_spec)
    await second.start()
    try:
        assert second.silences.get(sid).comment == "c"
    finally:
        await second.stop()


@both_backends
async def test_migrations_are_versioned_and_run_once(storage_spec) -> None:
    first = open_storage(storage_spec)
    await first.open()
    await first.close()
    second = open_storage(storage_spec)
    await second.open()
    try:
        if hasattr(second, "db"):
            rows = second.db.conn.execute("SELECT version FROM schema_version").fetchall()
            assert [r[0] for r in rows] == [1, 2]
        else:
            rows = second.sync_run("read", "SELECT version FROM schema_version")
            assert rows == [(1,), (2,), (3,)]
    finally:
        await second.close()


async def test_the_dsn_password_never_reaches_a_log_line(pg_url, sink, tmp_path,
                                                         caplog) -> None:
    caplog.set_level(logging.DEBUG)
    notifier = Notifier(load(tmp_path, config(sink.url())), pg_url)
    await notifier.start()
    await notifier.stop()
    bad = pg_url.rsplit("/", 1)[0].replace("127.0.0.1:", "127.0.0.1:1") + "/nope"
    broken = Notifier(load(tmp_path, config(sink.url())), bad)
    try:
        await broken.start()
    except Exception as err:  # StorageError: cannot open
        assert PASSWORD not in str(err)
        assert "127.0.0.1" in str(err)
    else:
        raise AssertionError("a notifier started on an unreachable database")
    assert "replica" in caplog.text and "127.0.0.1" in caplog.text
    assert PASSWORD not in caplog.text


def test_migrate_command_reads_the_url_from_a_file_and_never_prints_the_password(
        pg_server, pg_url, tmp_path) -> None:
    import subprocess

    from tests.support.procs import PYTHON, ROOT

    secret = tmp_path / "uri"
    secret.write_text(pg_url + "\n", encoding="utf-8")
    for _ in range(2):  # the second run finds the schema current
        proc = subprocess.run([PYTHON, "-m", "inferwatch.cli", "notifier", "migrate",
                               "--storage.url-file", str(secret)], cwd=ROOT, timeout=60,
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert "schema up to date" in proc.stdout and PASSWORD not in proc.stdout + proc.stderr
    db = pg_url.rsplit("/", 1)[1]
    assert pg_server.sql("SELECT version FROM schema_version", db) == [(1,), (2,), (3,)]
    proc = subprocess.run([PYTHON, "-m", "inferwatch.cli", "notifier", "migrate",
                           "--storage.url", pg_url.replace(db, "missing")], cwd=ROOT,
                          timeout=60, capture_output=True, text=True)
    assert proc.returncode == 1 and "cannot open" in proc.stderr
    assert PASSWORD not in proc.stderr


@both_backends
async def test_a_pending_notification_is_superseded_by_the_groups_next_one(
        sink, start_notifier) -> None:
    sink.fail = [500] * 10_000  # the receiver is down until the second flush has queued
    notifier, client = await start_notifier(config(sink.url()))
    await client.post("/api/v2/alerts", json=[alert_body("S", {"pod": "1"})])
    await until(lambda: notifier.outbox.counts().get("pending") == 1, what="the first queued")
    await client.post("/api/v2/alerts", json=[alert_body("S", {"pod": "2"})])
    await until(lambda: notifier.outbox.counts().get("superseded") == 1, what="superseded")
    sink.fail.clear()
    await until(lambda: notifier.outbox.counts().get("delivered") == 1, what="delivered")
    assert [p.body["title"] for p in sink.posts] == ["[FIRING:2] S"]


@both_backends
async def test_collection_deletes_old_log_and_outbox_rows(sink, start_notifier) -> None:
    notifier, client = await start_notifier(config(sink.url()))
    await client.post("/api/v2/alerts", json=[alert_body("Old")])
    await until(lambda: notifier.outbox.counts() == {"delivered": 1}, what="delivered")
    now = notifier.clock()
    await notifier.storage.gc(now, [], now - 3600)  # nothing that old
    assert notifier.outbox.counts() == {"delivered": 1}
    await notifier.storage.gc(now, [], now + 1)
    assert notifier.outbox.counts() == {}


@both_backends
async def test_a_refused_notification_is_marked_failed_and_the_next_flush_tries_again(
        sink, start_notifier) -> None:
    sink.fail = [400]  # permanent: this notification is given up, as Alertmanager does
    notifier, client = await start_notifier(config(sink.url()))
    await client.post("/api/v2/alerts", json=[alert_body("Refused"), alert_body("Fine")])
    await until(lambda: notifier.outbox.counts() == {"failed": 1, "delivered": 2},
                what="one failed; its group's next flush (nothing logged) delivered")
    assert sorted(p.body["title"] for p in sink.posts) == ["[FIRING:1] Fine",
                                                           "[FIRING:1] Refused"]
