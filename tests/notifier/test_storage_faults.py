"""Storage faults lose nothing and flood nothing: read-only and full storage, at start and while
running, with a receiver counting the copies of each notification."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import subprocess
from collections import Counter

import pytest

from inferwatch.notifier.db import Database, StorageError
from tests.notifier.helpers import alert_body, write_config
from tests.support.procs import PYTHON, ROOT
from tests.support.webhook import until

GROUPS = 11


def config(sink, group_wait: str = "100ms") -> str:
    return f"""
route: {{receiver: hook, group_by: [alertname], group_wait: {group_wait}, group_interval: 1s}}
receivers:
  - name: hook
    urls: [{{url: "{sink.url()}", send_resolved: true}}]
delivery: {{initial_backoff: 100ms, timeout: 2s}}
"""


def errors(notifier, op: str) -> float:
    return notifier.metrics.registry.get_sample_value(
        "inferwatch_notifier_storage_errors_total", {"op": op}) or 0


def copies(sink) -> Counter[str]:
    """How many times each notification (by its key) arrived."""
    return Counter(p.key for p in sink.posts)


def storage_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "storage" in r.getMessage()]


async def test_read_only_storage_while_delivering_sends_each_copy_once(
        sink, start_notifier, caplog) -> None:
    caplog.set_level(logging.INFO)
    sink.delay = 0.5  # the marks come after the storage went read-only
    notifier, client = await start_notifier(config(sink))
    await client.post("/api/v2/alerts", json=[alert_body(f"A{i}") for i in range(GROUPS)])
    await until(lambda: notifier.outbox.depth() == GROUPS, 5, what="the notifications queued")
    notifier.db.conn.execute("PRAGMA query_only=ON")  # every write now fails: read-only
    await until(lambda: errors(notifier, "mark_delivered") >= 3, 10,
                what="three failed marks, backing off")
    assert len(sink.posts) == GROUPS and set(copies(sink).values()) == {1}  # no flood
    assert notifier.deliverer.unmarked  # held, not sent again
    notifier.db.conn.execute("PRAGMA query_only=OFF")
    await until(lambda: notifier.outbox.counts() == {"delivered": GROUPS}, 40,
                what="every notification marked delivered once writable")
    assert len(sink.posts) == GROUPS and len(copies(sink)) == GROUPS
    lines = storage_lines(caplog)
    path = str(notifier.db.path)
    assert [(r.levelno, path in r.getMessage()) for r in lines] == [
        (logging.ERROR, True), (logging.WARNING, True)], [r.getMessage() for r in lines]
    assert "readonly" in lines[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info or r.exc_text]  # no traceback


def fill(conn: sqlite3.Connection) -> None:
    """Cap the database at its size and fill every free byte in it."""
    conn.execute("CREATE TABLE IF NOT EXISTS filler (x BLOB)")
    conn.execute("INSERT INTO filler VALUES (zeroblob(1))")
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count={pages}")
    for size in (4096, 1024, 256, 64, 16, 1):
        for _ in range(10_000):
            try:
                conn.execute("INSERT INTO filler VALUES (zeroblob(?))", (size,))
            except sqlite3.OperationalError:
                break


async def test_full_database_queues_nothing_then_loses_nothing(sink, start_notifier,
                                                               caplog) -> None:
    caplog.set_level(logging.INFO)
    notifier, client = await start_notifier(config(sink, group_wait="1s"))
    text = "x" * 600  # each notification is bigger than the space left anywhere
    resp = await client.post("/api/v2/alerts", json=[
        alert_body(f"F{i}", description=text) for i in range(GROUPS)])
    assert resp.status == 200
    fill(notifier.db.conn)  # before group_wait ends: the flush cannot queue them
    await until(lambda: errors(notifier, "enqueue") >= 2, 10,
                what="two flushes refused by the full database")
    assert sink.posts == [] and notifier.outbox.depth() == 0
    notifier.db.conn.execute("PRAGMA max_page_count=1073741823")  # space returns
    notifier.db.conn.execute("DELETE FROM filler")
    await until(lambda: notifier.outbox.counts() == {"delivered": GROUPS}, 15,
                what="every group notified once space returned")
    assert len(sink.posts) == GROUPS and set(copies(sink).values()) == {1}
    assert sorted(p.body["title"] for p in sink.posts) == sorted(
        f"[FIRING:1] F{i}" for i in range(GROUPS))
    lines = storage_lines(caplog)
    assert len(lines) == 2 and "full" in lines[0].getMessage(), [r.getMessage() for r in lines]


def test_unopenable_storage_is_one_error_naming_the_path(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError, match=str(blocker / "data" / "notifier.db")):
        Database(blocker / "data")


def test_read_only_storage_at_start_exits_1_with_one_line(tmp_path) -> None:
    """A read-only mount (a private tmpfs in a user namespace: root ignores file modes)."""
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-rm", "true"]).returncode != 0:
        pytest.skip("unshare -rm (user and mount namespaces) not permitted here")
    cfg = write_config(tmp_path, 'route: {receiver: hook}\nreceivers:\n  - name: hook\n'
                                 '    urls: ["json://127.0.0.1:9/x"]\n')
    ro = tmp_path / "ro"
    ro.mkdir()
    script = (f"mount -t tmpfs -o ro tmpfs {ro} && exec {PYTHON} -m inferwatch.cli notifier "
              f"--config.file {cfg} --storage.path {ro}/data --web.listen-address 127.0.0.1:0")
    done = subprocess.run([unshare, "-rm", "sh", "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{ro}/data/notifier.db" in lines[0], done.stderr
    assert "Read-only file system" in lines[0] and "Traceback" not in done.stderr


async def test_alerts_the_database_cannot_store_are_a_503_for_the_sender_to_retry(
        sink, start_notifier, caplog) -> None:
    notifier, client = await start_notifier(config(sink))
    fill(notifier.db.conn)
    big = [alert_body(f"B{i}", description="y" * 2000) for i in range(50)]
    resp = await client.post("/api/v2/alerts", json=big)
    assert resp.status == 503 and "cannot store alerts" in await resp.json()
    assert not [r for r in caplog.records if r.exc_info or r.exc_text]  # no traceback
    notifier.db.conn.execute("PRAGMA max_page_count=1073741823")
    notifier.db.conn.execute("DELETE FROM filler")
    assert (await client.post("/api/v2/alerts", json=big)).status == 200  # the retry lands


async def test_a_silence_the_database_cannot_store_is_a_503(sink, start_notifier,
                                                            caplog) -> None:
    notifier, client = await start_notifier(config(sink))
    fill(notifier.db.conn)
    silence = {"matchers": [{"name": "alertname", "value": "A" * 3000, "isRegex": False}],
               "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z",
               "createdBy": "t", "comment": "c" * 3000}
    resp = await client.post("/api/v2/silences", json=silence)
    assert resp.status == 503 and "cannot store the silence" in await resp.json()
    assert not [r for r in caplog.records if r.exc_info or r.exc_text]
