"""A replica's pick-up of the alerts other replicas stored (notifier/storage/pgchanges.py): the
holes below the newest row read are asked for again until they fill or settle, a write that
commits after a later-numbered one is picked up, and a storm of holes falls back to reading
every row from the lowest hole up. And the owner's flush claims what it queues."""

from __future__ import annotations

import random
import time

import pytest

from inferwatch.notifier.alerts import Alert, to_stored
from inferwatch.notifier.alertstore import _encode
from inferwatch.notifier.storage import Cluster, pgchanges
from inferwatch.notifier.storage.pgchanges import PickUp
from inferwatch.notifier.storage.postgres import PostgresStorage


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_hole_is_asked_for_until_it_fills() -> None:
    clock = Clock()
    p = PickUp(2.0, clock)
    assert p.where() == ("seq >= %s", (1,))  # the first read: every row
    p.read([(1, True), (2, False), (4, False), (5, False)], clock.now)
    assert p.holes.keys() == {3}
    assert p.where() == ("(seq > %s OR seq = ANY(%s::bigint[]))", (5, "{3}"))
    p.read([(3, False), (7, False)], clock.now)
    assert p.holes.keys() == {6}
    assert p.top == 7


def test_a_hole_is_dropped_once_it_settles_or_a_settled_row_lies_above_it() -> None:
    clock = Clock()
    p = PickUp(2.0, clock)
    p.read([(2, False), (5, False)], clock.now)
    assert p.holes.keys() == {1, 3, 4}
    clock.now += 1.0
    p.read([(8, False)], clock.now)  # 6 and 7 seen a second later than 1, 3 and 4
    assert p.holes.keys() == {1, 3, 4, 6, 7}
    clock.now += 1.5
    p.read([], clock.now)
    assert p.holes.keys() == {6, 7}
    p.read([(9, True)], clock.now)  # written over 2 s ago: 6 and 7 were drawn before it
    assert p.holes == {}
    assert p.where() == ("seq > %s", (9,))


def test_a_hole_outlives_a_slow_read_whose_snapshot_came_within_its_allowance() -> None:
    clock = Clock()
    p = PickUp(2.0, clock)
    p.read([(1, False), (3, False)], clock.now)  # 2 watched from 100.0 to 102.0
    asked, clock.now = 101.9, 102.5  # a read asked before 102.0, answered after it
    p.read([], asked)
    assert p.holes.keys() == {2}
    p.read([], clock.now)
    assert p.holes == {}


def test_no_hole_is_watched_below_a_settled_row() -> None:
    clock = Clock()
    p = PickUp(2.0, clock)
    p.read([(10, True), (1_000_000, True), (1_000_003, False)], clock.now)
    assert p.holes.keys() == {1_000_001, 1_000_002}


def test_a_storm_of_holes_reads_from_the_lowest_up_until_they_are_few(monkeypatch) -> None:
    monkeypatch.setattr(pgchanges, "MAX_HOLES", 5)
    clock = Clock()
    p = PickUp(2.0, clock)
    p.read([(1, True), (2, False)], clock.now)
    p.read([(3, False), (10, False)], clock.now)  # 4..9: six holes
    assert p.where() == ("seq >= %s", (3,))
    p.read([(3, False), (4, False), (5, False), (10, False), (11, False)], clock.now)
    assert p.holes.keys() == {6, 7, 8, 9}  # four: asked for one by one again
    assert p.where()[0].startswith("(seq > %s OR")


def test_a_hole_outside_every_read_is_never_lost(monkeypatch) -> None:
    """Random commit orders: whatever order rows become visible in, every row is read."""
    monkeypatch.setattr(pgchanges, "MAX_HOLES", 8)
    rng = random.Random(7)
    for _ in range(200):
        clock = Clock()
        p = PickUp(2.0, clock)
        order = list(range(1, 40))
        rng.shuffle(order)
        visible: set[int] = set()
        read: set[int] = set()
        while order or visible - read:
            for _ in range(rng.randint(0, 4)):
                if order:
                    visible.add(order.pop())
            where, args = p.where()
            if where.startswith("seq >="):
                rows = sorted(s for s in visible if s >= args[0])
            else:
                holes = set(map(int, args[1].strip("{}").split(","))) if len(args) > 1 else set()
                rows = sorted(s for s in visible if s > args[0] or s in holes)
            read.update(rows)
            p.read([(s, False) for s in rows], clock.now)
            clock.now += 0.01  # nothing settles within this run
        assert read == set(range(1, 40))


@pytest.fixture
async def stores(pg_url):
    """Two replicas' storage, without a notifier's loops picking up in the background."""
    made = [PostgresStorage(pg_url, Cluster(replica=name, lease=2.0))
            for name in ("writer", "reader")]
    for store in made:
        await store.open()
    yield made
    for store in made:
        await store.close()


async def test_a_write_committed_after_a_later_numbered_one_is_picked_up(
        stores, pg_url) -> None:
    import psycopg

    writer, reader = stores
    assert await reader.changes() == []
    late, early = (to_stored(Alert({"alertname": n}), time.time(), 300.0)
                   for n in ("Late", "Early"))
    held = await psycopg.AsyncConnection.connect(pg_url)
    try:
        await held.execute(  # draws its number now, commits below
            "INSERT INTO alerts (fingerprint, body, updated_at, ends_at, seq) VALUES "
            "(%s, %s, %s, %s, nextval('change_seq'))",
            (late.fingerprint, _encode(late), late.updated_at, late.ends_at))
        await writer.put_alerts({early.fingerprint: early})
        assert [a.labels["alertname"] for a in await reader.changes()] == ["Early"]
        assert len(reader._pickup.holes) == 1
        await held.commit()
        assert [a.labels["alertname"] for a in await reader.changes()] == ["Late"]
        assert reader._pickup.holes == {}
        assert await reader.changes() == []
    finally:
        await held.close()


async def test_a_flush_claims_what_it_queues_up_to_its_share(stores, monkeypatch) -> None:
    """The owner's flush claims its notifications in the same transaction (no claim round
    trip before delivery), while it holds fewer than OWN_CLAIMS x slots; the rest wait,
    unclaimed, for any replica's claim loop."""
    from inferwatch.notifier import outbox
    from inferwatch.notifier.storage import postgres

    monkeypatch.setattr(postgres, "OWN_CLAIMS", 1)
    owner, _ = stores
    owner.slots = 2
    keys = [f'{{}}:{{alertname="G{i}"}}' for i in range(3)]
    now = time.time()
    owned, later = await owner.own(keys, now)
    assert owned == set(keys) and not later
    notes = [outbox.Notification("hook", 0, k, "t", "b", "text", "info", frozenset({k}),
                                 frozenset()) for k in keys]
    assert await owner.flush(keys, lambda last: (notes, []), now, 60.0) == set(keys)
    assert sorted(r.note.group_key for r in owner.outbox.rows.values()) == keys[:2]
    async with owner.conn() as conn:
        cur = await conn.execute("SELECT group_key, claimed_by, claim_until > now() FROM outbox "
                                 "ORDER BY group_key")
        rows = await cur.fetchall()
    assert rows == [(keys[0], "writer", True), (keys[1], "writer", True), (keys[2], None, None)]


async def test_a_flush_drops_the_held_rows_it_supersedes_and_keeps_the_claim_loops(
        stores) -> None:
    """A row still waiting in memory that the group's next flush supersedes is not sent; a
    row the claim loop took first (its outcome queued) is not taken back by the flush."""
    from inferwatch.notifier import outbox

    owner, _ = stores
    key, now = '{}:{alertname="G"}', time.time()
    await owner.own([key], now)
    def note(title: str) -> outbox.Notification:
        return outbox.Notification("hook", 0, key, title, "b", "text", "info",
                                   frozenset({title}), frozenset())
    await owner.flush([key], lambda last: ([note("first")], []), now, 60.0)
    [first] = owner.outbox.rows.values()
    await owner.flush([key], lambda last: ([note("second")], []), now + 1, 60.0)
    assert [r.note.title for r in owner.outbox.rows.values()] == ["second"]
    [second] = owner.outbox.rows.values()
    owner.outbox.delivered([(second, now + 2)])  # its outcome queued, not yet written
    owner.outbox.adopt([second], time.monotonic())
    assert owner.outbox.rows == {} and second.id in owner.outbox.marking
    assert first.id != second.id


async def test_outcomes_are_written_in_one_batch_not_one_by_one(
        pg_url, sink, tmp_path, aiohttp_client, monkeypatch) -> None:
    """Five deliveries one after the other, within MARK_WAIT: their outcomes reach the
    database in one write."""
    from inferwatch.notifier import service
    from inferwatch.notifier.api import make_app
    from inferwatch.notifier.storage import pgoutbox
    from tests.notifier.helpers import alert_body, load
    from tests.support.webhook import until

    monkeypatch.setattr(pgoutbox, "MARK_WAIT", 3.0)
    text = f"""
route: {{receiver: hook, group_by: [alertname], group_wait: 50ms}}
receivers:
  - name: hook
    urls: ["{sink.url()}"]
"""
    n = service.Notifier(load(tmp_path, text), pg_url,
                         cluster=Cluster(replica="m", lease=30.0, poll=10.0))
    written: list[int] = []
    real = n.outbox._written
    monkeypatch.setattr(n.outbox, "_written", lambda marks: (written.append(len(marks)),
                                                             real(marks)))
    await n.start()
    try:
        client = await aiohttp_client(make_app(n))
        for i in range(5):
            assert (await client.post("/api/v2/alerts", json=[alert_body(f"A{i}")])).status == 200
            await until(lambda i=i: len(sink.posts) == i + 1, 5, what=f"notification {i + 1}")
        assert written == [], "an outcome written before MARK_WAIT: nothing tested"
        await until(lambda: written, 5, what="the outcomes written")
        assert written == [5]
        assert n.outbox.counts() == {"delivered": 5}
    finally:
        await n.stop()


async def test_a_group_its_writer_never_flushed_is_flushed_here_a_lease_later(
        pg_url, sink, tmp_path) -> None:
    """A replica that stored an alert and died before its group_wait: another replica flushes
    the group once the writer's lease would have run out (group_wait + lease), and only then."""
    from inferwatch.notifier import service
    from tests.notifier.helpers import load
    from tests.support.webhook import until

    text = f"""
route: {{receiver: hook, group_by: [alertname], group_wait: 200ms}}
receivers:
  - name: hook
    urls: ["{sink.url()}"]
"""
    writer = PostgresStorage(pg_url, Cluster(replica="gone", lease=1.5))
    await writer.open()
    other = service.Notifier(load(tmp_path, text), pg_url,
                             cluster=Cluster(replica="other", lease=1.5))
    await other.start()
    try:
        stored = to_stored(Alert({"alertname": "Orphan"}), time.time(), 300.0)
        started = time.monotonic()
        await writer.put_alerts({stored.fingerprint: stored})
        await writer.close()  # gone before its group_wait ended, its flush never made
        await until(lambda: other.active, 5, what="the alert picked up")
        await until(lambda: sink.posts, 10, what="the orphaned group's notification")
        assert time.monotonic() - started >= 1.5  # not at group_wait: its writer's turn first
        assert [p.body["title"] for p in sink.posts] == ["[FIRING:1] Orphan"]
    finally:
        await other.stop()
