"""Differential: a real Alertmanager and the notifier run the very same alertmanager.yml.

Both deliver to one loopback Sink (webhook_configs and slack_configs `api_url` point at it);
the notifier's requests are told apart by its User-Agent. The same alerts are posted to both;
the notifications are compared whole (receiver, every body field, count, order, time within
TOLERANCE), the only rewrite being Alertmanager's --web.external-url, which the notifier's
file cannot set (its `global.external_url` is not an Alertmanager field).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.notifier.test_ecosystem import process, wait_ready
from tests.support.procs import free_port, need_binary
from tests.support.webhook import Post, Sink, until

pytestmark = pytest.mark.ecosystem
TOLERANCE = 0.4
EXTERNAL = "http://am.example"


def ours(post: Post) -> bool:
    return "inferwatch" in post.headers.get("User-Agent", "")


class Pair:
    def __init__(self, am_url: str, notifier, client, sink: Sink, session) -> None:
        self.am_url, self.notifier, self.client = am_url, notifier, client
        self.sink, self.session, self.t0 = sink, session, 0.0

    async def post(self, *alerts: dict) -> None:
        body = list(alerts)
        self.t0 = self.t0 or time.monotonic()

        async def to_am() -> None:
            async with self.session.post(f"{self.am_url}/api/v2/alerts", json=body) as resp:
                assert resp.status == 200, await resp.text()

        async def to_nf() -> None:
            resp = await self.client.post("/api/v2/alerts", json=body)
            assert resp.status == 200, await resp.text()

        await asyncio.gather(to_am(), to_nf())

    def split(self) -> tuple[list[Post], list[Post]]:
        return ([p for p in self.sink.posts if not ours(p)],
                [p for p in self.sink.posts if ours(p)])

    async def both(self, count: int, timeout: float, what: str) -> tuple[list[Post], list[Post]]:
        await until(lambda: len(self.split()[0]) >= count, timeout, f"Alertmanager: {what}")
        await until(lambda: len(self.split()[1]) >= count, TOLERANCE + 1.5,
                    f"the notifier: {what} (AM: {[p.body for p in self.split()[0]]})")
        return self.split()


@asynccontextmanager
async def pair(tmp_path: Path, start_notifier, text: str) -> AsyncIterator[Pair]:
    binary = need_binary("prometheus-alertmanager")
    (tmp_path / "am.yml").write_text(text)
    port = free_port()
    async with process(binary, f"--config.file={tmp_path / 'am.yml'}",
                       f"--storage.path={tmp_path / 'am'}", f"--web.external-url={EXTERNAL}",
                       f"--web.listen-address=127.0.0.1:{port}",
                       "--cluster.listen-address=") as proc:
        await wait_ready(f"http://127.0.0.1:{port}/-/ready", proc)
        notifier, client = await start_notifier(text)
        async with aiohttp.ClientSession() as session:
            yield Pair(f"http://127.0.0.1:{port}", notifier, client, None, session)


def normal(post: Post) -> tuple[str, dict]:
    """(path, body) with Alertmanager's external URL taken out and the alerts by fingerprint."""
    body = json.loads(json.dumps(post.body).replace(EXTERNAL, ""))
    return post.path, body


def assert_same(am: list[Post], nf: list[Post]) -> None:
    assert [normal(p) for p in nf] == [normal(p) for p in am]
    late = [round(b.at - a.at, 3) for a, b in zip(am, nf, strict=True)]
    assert all(abs(d) <= TOLERANCE for d in late), late


def alert(name: str, starts: str, ends: str | None = None, **labels: str) -> dict:
    body = {"labels": {"alertname": name, **labels}, "annotations": {"summary": f"{name} s"},
            "startsAt": starts, "generatorURL": "http://prom/graph"}
    if ends:
        body["endsAt"] = ends
    return body


def stamp(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


ROUTES = """global:
  resolve_timeout: 5m
  slack_api_url: http://127.0.0.1:{port}/slack
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 2s
  group_interval: 2s
  routes:
    - match: {{team: "a b"}}
      receiver: slack
      continue: true
    - match_re: {{svc: 'x|y'}}
      matchers: [team=a b]
      receiver: hook2
receivers:
  - name: hook
    webhook_configs: [{{url: 'http://127.0.0.1:{port}/hook', max_alerts: 1}}]
  - name: hook2
    webhook_configs: [{{url: 'http://127.0.0.1:{port}/hook2'}}]
  - name: slack
    slack_configs:
      - channel: '#alerts'
        send_resolved: true
        title: '{{{{ .CommonLabels.alertname }}}} ({{{{ len .Alerts.Firing }}}} firing)'
        fields: [{{title: status, value: '{{{{ .Status }}}}'}}]
        actions:
          - {{type: button, text: Runbook, url: 'http://rb/{{{{ .GroupLabels.alertname }}}}'}}
"""


async def test_webhook_and_slack_bodies_match_alertmanagers(tmp_path, start_notifier, sink
                                                            ) -> None:
    async with pair(tmp_path, start_notifier, ROUTES.format(port=sink.port)) as p:
        p.sink = sink
        t = stamp(time.time())
        a = alert("Disk", t, team="a b", svc="x", inst="1")
        b = alert("Disk", t, team="a b", svc="z", inst="2")
        c, d = alert("CPU", t, inst="3"), alert("CPU", t, inst="4")
        await p.post(a, b, c, d)
        am, nf = await p.both(3, 10, "the first notifications")
        paths = sorted(x.path for x in am)
        assert paths == ["/hook", "/hook2", "/slack"], paths
        hook = next(x.body for x in am if x.path == "/hook")
        assert hook["truncatedAlerts"] == 1 and len(hook["alerts"]) == 1
        slack = next(x.body for x in am if x.path == "/slack")
        assert slack["attachments"][0]["title"] == "Disk (2 firing)"
        assert_same(sorted(am, key=lambda x: x.path), sorted(nf, key=lambda x: x.path))
        await p.post(alert("Disk", t, stamp(time.time() - 1), team="a b", svc="x", inst="1"))
        am, nf = await p.both(5, 10, "the resolved notifications")
    later_am, later_nf = am[3:], nf[3:]
    assert sorted(x.path for x in later_am) == ["/hook2", "/slack"]
    assert_same(sorted(later_am, key=lambda x: x.path), sorted(later_nf, key=lambda x: x.path))
    assert len(am) == len(nf) == 5


def window(inside: bool) -> str:
    """A `times` range (UTC) holding now, or one an hour away from now."""
    now = time.gmtime()
    minute = now.tm_hour * 60 + now.tm_min
    if inside:
        start, end = max(0, minute - 60), min(1440, minute + 60)
    else:
        start, end = (0, 60) if minute >= 120 else (1320, 1380)
    return f"{start // 60:02d}:{start % 60:02d}", f"{end // 60:02d}:{end % 60:02d}"


INTERVALS = """route:
  receiver: hook
  group_by: [alertname, team]
  group_wait: 500ms
  group_interval: 1s
  routes:
    - {{matchers: [team=muted], mute_time_intervals: [inside]}}
    - {{matchers: [team=active], active_time_intervals: [inside]}}
    - {{matchers: [team=inactive], active_time_intervals: [outside, never]}}
    - {{matchers: [team=other], mute_time_intervals: [outside]}}
time_intervals:
  - name: inside
    time_intervals:
      - times: [{{start_time: '{a}', end_time: '{b}'}}]
        weekdays: ['sunday:saturday']
        days_of_month: ['1:-1']
        years: ['2000:2200']
        location: UTC
mute_time_intervals:
  - name: outside
    time_intervals: [{{times: [{{start_time: '{c}', end_time: '{d}'}}], location: UTC}}]
  - name: never
    time_intervals: [{{years: ['1999']}}]
receivers:
  - name: hook
    webhook_configs: [{{url: 'http://127.0.0.1:{port}/hook'}}]
"""


async def test_time_intervals_mute_as_in_alertmanager(tmp_path, start_notifier, sink) -> None:
    (a, b), (c, d) = window(True), window(False)
    text = INTERVALS.format(a=a, b=b, c=c, d=d, port=sink.port)
    async with pair(tmp_path, start_notifier, text) as p:
        p.sink = sink
        t = stamp(time.time())
        await p.post(*[alert("T", t, team=team) for team in ("muted", "active", "inactive",
                                                               "other")])
        am, nf = await p.both(2, 10, "the unmuted groups")
        # a later group on an unmuted route: once it is in, every first flush is long done
        await p.post(alert("Late", stamp(time.time()), team="other"))
        am, nf = await p.both(3, 10, "the late group")
        teams = sorted(x.body["commonLabels"]["team"] for x in am)
        assert teams == ["active", "other", "other"]
        assert_same(sorted(am, key=lambda x: x.body["groupKey"]),
                    sorted(nf, key=lambda x: x.body["groupKey"]))
        muted = [g for g in p.notifier.groups if g.labels.get("team") in ("muted", "inactive")]
        assert len(muted) == 2
        for group in muted:  # not logged as notified: it stays new for when the mute ends
            assert p.notifier.nflog.last("hook", 0, group.key) is None


CHILDREN = """route:
  receiver: hook
  group_by: [alertname, tier, team]
  group_wait: 500ms
  group_interval: 1s
  routes:
    - matchers: [tier=muted]
      mute_time_intervals: [inside]
      routes:
        - {{matchers: [team=plain]}}
        - {{matchers: [team=own], mute_time_intervals: [outside]}}
    - matchers: [tier=inactive]
      active_time_intervals: [outside]
      routes:
        - {{matchers: [team=plain]}}
        - {{matchers: [team=own], active_time_intervals: [inside]}}
time_intervals:
  - name: inside
    time_intervals: [{{times: [{{start_time: '{a}', end_time: '{b}'}}], location: UTC}}]
  - name: outside
    time_intervals: [{{times: [{{start_time: '{c}', end_time: '{d}'}}], location: UTC}}]
receivers:
  - name: hook
    webhook_configs: [{{url: 'http://127.0.0.1:{port}/hook'}}]
"""


async def test_child_routes_do_not_inherit_time_intervals(tmp_path, start_notifier,
                                                          sink) -> None:
    """Alertmanager 0.25's NewRoute sets a route's mute and active intervals from its own
    config only (dispatch/route.go: `opts.MuteTimeIntervals = cr.MuteTimeIntervals`), so a
    child without any is never muted by its parent's."""
    (a, b), (c, d) = window(True), window(False)
    async with pair(tmp_path, start_notifier, CHILDREN.format(a=a, b=b, c=c, d=d,
                                                              port=sink.port)) as p:
        p.sink = sink
        t = stamp(time.time())
        await p.post(*[alert("T", t, tier=tier, team=team) for tier in ("muted", "inactive")
                       for team in ("parent", "plain", "own")])
        await p.both(4, 10, "the children's groups")
        await p.post(alert("Late", stamp(time.time()), tier="root", team="root"))
        am, nf = await p.both(5, 10, "the late group")
        sent = sorted((x.body["commonLabels"]["tier"], x.body["commonLabels"]["team"])
                      for x in am)
        assert sent == [("inactive", "own"), ("inactive", "plain"), ("muted", "own"),
                        ("muted", "plain"), ("root", "root")]
        assert_same(sorted(am, key=lambda x: x.body["groupKey"]),
                    sorted(nf, key=lambda x: x.body["groupKey"]))
