"""Differential: a real Alertmanager and the notifier, same route tree, same alerts, same answers.

Each test starts Debian's Alertmanager (its own storage, no cluster) and an in-process notifier
with the same routes; their webhook receivers point at two Sinks. Alerts are posted to both at
once; the notifications are compared: receiver, group labels, which alerts firing or resolved,
how many, in which order, and when (arrival times within TOLERANCE of each other, measured from
the common post). Every scenario ends well inside Alertmanager's first 30 s cleanup tick.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.notifier.test_ecosystem import process, wait_ready
from tests.support.procs import free_port, need_binary
from tests.support.webhook import Post, Sink, until

pytestmark = pytest.mark.ecosystem
TOLERANCE = 0.3  # seconds; the scenarios put a second or more between right and wrong
TEMPLATE = """templates:
  parity: {title: "{receiver}", body: "{group_labels}|{alerts}",
           alert: "{labels[inst]}={status};", format: text}
"""


@dataclass(frozen=True)
class Seen:
    """One notification, reduced to what both sides must agree on."""

    receiver: str
    group: tuple[tuple[str, str], ...]
    alerts: frozenset[tuple[str, str]]  # (inst label, firing|resolved)
    at: float  # seconds after the common post

    @property
    def key(self) -> tuple:
        return self.receiver, self.group


def from_alertmanager(post: Post, t0: float) -> Seen:
    body = post.body
    alerts = frozenset((a["labels"].get("inst", ""), a["status"]) for a in body["alerts"])
    return Seen(body["receiver"], tuple(sorted(body["groupLabels"].items())), alerts,
                post.at - t0)


def from_notifier(post: Post, t0: float) -> Seen:
    labels, _, alerts = post.body["message"].partition("|")
    group = tuple(sorted(tuple(p.split("=", 1)) for p in labels.split(", ") if p))
    pairs = frozenset(tuple(a.split("=", 1)) for a in alerts.split(";") if a)
    return Seen(post.body["title"], group, pairs, post.at - t0)


@dataclass
class Pair:
    """Alertmanager and the notifier running the same routes."""

    am_url: str
    nf: Any  # the notifier's aiohttp TestClient
    am_sink: Sink
    nf_sink: Sink
    session: aiohttp.ClientSession
    t0: float = 0.0

    async def post(self, *alerts: dict) -> None:
        """The same alerts to both at once; the first call sets the time origin."""
        body = list(alerts)
        if not self.t0:
            self.t0 = time.monotonic()

        async def to_am() -> None:
            async with self.session.post(f"{self.am_url}/api/v2/alerts", json=body) as resp:
                assert resp.status == 200, await resp.text()

        async def to_nf() -> None:
            resp = await self.nf.post("/api/v2/alerts", json=body)
            assert resp.status == 200, await resp.text()

        await asyncio.gather(to_am(), to_nf())

    def seen(self) -> tuple[list[Seen], list[Seen]]:
        return ([from_alertmanager(p, self.t0) for p in self.am_sink.posts],
                [from_notifier(p, self.t0) for p in self.nf_sink.posts])

    async def both(self, count: int, timeout: float, what: str) -> tuple[list[Seen], list[Seen]]:
        """Wait until each side has sent `count` notifications; then both lists."""
        await until(lambda: len(self.am_sink.posts) >= count, timeout, f"Alertmanager: {what}")
        await until(lambda: len(self.nf_sink.posts) >= count, TOLERANCE + 1,
                    f"the notifier: {what} (Alertmanager: {self.seen()[0]})")
        return self.seen()


def assert_same(am: list[Seen], ours: list[Seen]) -> None:
    """Same notifications per group, in the same order, each at about the same time."""
    def by_group(seen: list[Seen]) -> dict[tuple, list[Seen]]:
        out: dict[tuple, list[Seen]] = {}
        for s in seen:
            out.setdefault(s.key, []).append(s)
        return out

    theirs, mine = by_group(am), by_group(ours)
    assert sorted(mine) == sorted(theirs), f"groups differ:\nAM:  {am}\nour: {ours}"
    for key, expected in theirs.items():
        got = mine[key]
        assert [s.alerts for s in got] == [s.alerts for s in expected], (key, expected, got)
        late = [round(g.at - e.at, 3) for g, e in zip(got, expected, strict=True)]
        assert all(abs(d) <= TOLERANCE for d in late), (
            f"{key}: times differ by {late}:\nAM:  {[round(e.at, 2) for e in expected]}"
            f"\nour: {[round(g.at, 2) for g in got]}")


def receivers(names: list[str], am_sink: Sink, nf_sink: Sink) -> tuple[str, str]:
    am = "receivers:\n" + "".join(
        f"  - name: {n}\n    webhook_configs: [{{url: 'http://127.0.0.1:{am_sink.port}/{n}', "
        "send_resolved: true}]\n" for n in names)
    nf = "receivers:\n" + "".join(
        f"  - name: {n}\n    urls: [{{url: '{nf_sink.url('/' + n)}', send_resolved: true, "
        "template: parity}]\n" for n in names)
    return am, nf + TEMPLATE


@asynccontextmanager
async def pair(tmp_path: Path, start_notifier, route: str, names: list[str],
               delay: float = 0.0) -> AsyncIterator[Pair]:
    binary = need_binary("prometheus-alertmanager")
    am_sink, nf_sink = await Sink(delay=delay).start(), await Sink(delay=delay).start()
    am_receivers, nf_receivers = receivers(names, am_sink, nf_sink)
    (tmp_path / "am.yml").write_text(route + am_receivers)
    port = free_port()
    try:
        async with process(binary, f"--config.file={tmp_path / 'am.yml'}",
                           f"--storage.path={tmp_path / 'am'}",
                           f"--web.listen-address=127.0.0.1:{port}",
                           "--cluster.listen-address=") as proc:
            await wait_ready(f"http://127.0.0.1:{port}/-/ready", proc)
            _, client = await start_notifier(route + nf_receivers)
            async with aiohttp.ClientSession() as session:
                yield Pair(f"http://127.0.0.1:{port}", client, am_sink, nf_sink, session)
    finally:
        await am_sink.stop()
        await nf_sink.stop()


def firing(name: str, **labels: str) -> dict:
    return {"labels": {"alertname": name, **labels}}


def resolved(name: str, **labels: str) -> dict:
    ends = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 1)) + "Z"
    return {"labels": {"alertname": name, **labels}, "endsAt": ends}


INHERIT = """route:
  receiver: r0
  group_by: [alertname, team]
  group_wait: 300ms
  group_interval: 10s
  routes:
    - {matchers: ['team="empty"'], receiver: r1, group_by: []}
    - {matchers: ['team="absent"'], receiver: r2}
    - matchers: ['team="all"']
      receiver: r3
      group_by: ['...']
      routes:
        - {matchers: ['sub="1"'], receiver: r4, group_by: []}
    - {matchers: ['team="own"'], receiver: r5, group_by: [inst]}
"""


async def test_group_by_empty_or_absent_inherits_the_parents(tmp_path, start_notifier) -> None:
    async with pair(tmp_path, start_notifier, INHERIT, [f"r{i}" for i in range(6)]) as p:
        alerts = [firing(name, team=team, inst=inst) for team in ("empty", "absent", "own", "x")
                  for name, inst in (("A", "1"), ("A", "2"), ("B", "1"))]
        alerts += [firing("A", team="all", inst="1"), firing("A", team="all", inst="2", sub="1"),
                   firing("A", team="all", inst="3", sub="1")]
        await p.post(*alerts)
        # empty, absent, x: by alertname and team (2 each); own: by inst (2); all: 3
        am, ours = await p.both(11, 10, "every group's first notification")
    assert len(am) == 11
    assert {s.group for s in am if s.receiver == "r1"} == {
        (("alertname", "A"), ("team", "empty")), (("alertname", "B"), ("team", "empty"))}
    assert_same(am, ours)


REPEAT = """route:
  receiver: r0
  group_by: [alertname]
  group_wait: 500ms
  group_interval: 1s
  repeat_interval: 1800ms
"""


async def test_repeat_counts_from_the_logged_send_time(tmp_path, start_notifier) -> None:
    """A receiver taking 0.5 s: Alertmanager logs the notification when the send returns
    (t=1.0), so the tick at 2.5 is 1.5 s after it, short of the 1.8 s repeat; the repeat goes
    out at the 3.5 tick, the next at 6.5. Counted from the flush (0.5), it would be 2.5, 4.5."""
    async with pair(tmp_path, start_notifier, REPEAT, ["r0"], delay=0.5) as p:
        await p.post(firing("Slow", inst="1"))
        am, ours = await p.both(3, 15, "the first notification and two repeats")
    sends = [s.at - 0.5 for s in am]  # arrivals less the receiver's 0.5 s
    assert all(abs(got - want) < 0.4 for got, want in zip(sends, [0.5, 3.5, 6.5], strict=True)), am
    assert_same(am, ours)


LINGER = """route:
  receiver: r0
  group_by: [alertname]
  group_wait: 200ms
  group_interval: 2s
  repeat_interval: 1h
"""


async def test_an_alert_refiring_after_its_resolution_waits_for_the_group_tick(
        tmp_path, start_notifier) -> None:
    """Resolved at the 2.2 s tick, the group lingers empty (ticks at 4.2, 6.2); re-fired 3 s
    after the resolve notification (5.2), it goes out at the 6.2 tick, not at 5.2 + 0.2."""
    async with pair(tmp_path, start_notifier, LINGER, ["r0"]) as p:
        await p.post(firing("Flap", inst="1"))
        await p.both(1, 10, "the firing notification")
        await p.post(resolved("Flap", inst="1"))
        await p.both(2, 10, "the resolve notification")
        refire_at = p.am_sink.posts[1].at + 3
        await until(lambda: time.monotonic() >= refire_at, 5, what="3 s after the resolution")
        await p.post(firing("Flap", inst="1"))
        am, ours = await p.both(3, 10, "the re-fired alert")
    assert [s.alerts for s in am] == [{("1", "firing")}, {("1", "resolved")}, {("1", "firing")}]
    assert am[2].at - (am[1].at + 3) > 0.6  # the tick, well after group_wait
    assert_same(am, ours)
