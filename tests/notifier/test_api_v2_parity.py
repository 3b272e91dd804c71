"""Differential: a real Alertmanager 0.25 and the notifier, one config, the same API v2 requests.

Compared: status codes (400 against 422, partial acceptance), fingerprints (empty label values
dropped, a lone surrogate read as U+FFFD), the filters of GET /api/v2/alerts, the groups of
GET /api/v2/alerts/groups and the silence listing. Known differences, left out on purpose: a
start time without a time zone (Alertmanager reads it as UTC, the notifier refuses it), `[null]`
(Alertmanager drops the connection), expiring an unknown or expired silence (Alertmanager: 500).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.notifier.test_ecosystem import process, wait_ready
from tests.support.procs import free_port, need_binary

pytestmark = pytest.mark.ecosystem
CONFIG = """
route:
  receiver: default
  group_by: [alertname]
  group_wait: 1h
  routes:
    - {receiver: team, matchers: ['team=~"(?i)infra"'], group_by: [cluster], continue: true}
    - {receiver: page, matchers: ['severity="page"']}
inhibit_rules:
  - {source_matchers: ['severity="page"'], target_matchers: ['severity="warn"'], equal: [cluster]}
receivers: [{name: default}, {name: team}, {name: page}]
"""
SPAN = {"startsAt": "2020-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z",
        "createdBy": "t", "comment": "c"}


class Pair:
    """The same request to both; `call` answers ((status, body) of Alertmanager, of ours)."""

    def __init__(self, session: aiohttp.ClientSession, am: str, client):
        self.session, self.am, self.client = session, am, client

    async def call(self, method: str, path: str, **kw: Any) -> tuple[tuple, tuple]:
        async with self.session.request(method, self.am + path, **kw) as resp:
            theirs = (resp.status, await _body(resp))
        resp = await self.client.request(method, path, **kw)
        return theirs, (resp.status, await _body(resp))

    async def agree(self, method: str, path: str, shape=lambda b: b, **kw: Any) -> Any:
        """Poll (Alertmanager's dispatcher and inhibitor catch up asynchronously) until both
        bodies have the same shape; fail with both after 10 s."""
        for _ in range(100):
            (s1, b1), (s2, b2) = await self.call(method, path, **kw)
            if s1 == s2 == 200 and shape(b1) == shape(b2):
                return shape(b1)
            await asyncio.sleep(0.1)
        raise AssertionError(f"{method} {path} {kw}:\nalertmanager {s1} {shape(b1)}\n"
                             f"notifier     {s2} {shape(b2)}")


async def _body(resp) -> Any:
    text = await resp.text()
    try:
        return await resp.json(content_type=None) if text else None
    except ValueError:
        return text


@pytest.fixture
async def pair(tmp_path: Path, start_notifier) -> AsyncIterator[Pair]:
    am = need_binary("prometheus-alertmanager")
    (tmp_path / "am.yml").write_text(CONFIG)
    _, client = await start_notifier(CONFIG)
    port = free_port()
    async with process(am, f"--config.file={tmp_path / 'am.yml'}",
                       f"--storage.path={tmp_path / 'am'}",
                       f"--web.listen-address=127.0.0.1:{port}",
                       "--cluster.listen-address=") as proc:
        await wait_ready(f"http://127.0.0.1:{port}/-/ready", proc)
        async with aiohttp.ClientSession() as session:
            yield Pair(session, f"http://127.0.0.1:{port}", client)


def a(name: str, **labels: str) -> dict[str, Any]:
    return {"labels": {"alertname": name, **labels}}


POSTS = [
    ("alerts", b"{nope"), ("alerts", b""), ("alerts", b"null"), ("alerts", b"[]"),
    ("alerts", b'{"labels": {}}'), ("alerts", b'[{"labels": {}}]'),
    ("alerts", b'[{"annotations": {}}]'), ("alerts", b'[{"labels": {"a": 1}}]'),
    ("alerts", b'[{"labels": {"a": "b"}, "startsAt": "yesterday"}]'),
    ("alerts", b'[{"labels": {"a": "b"}, "startsAt": "2024-01-02T00:00:00Z", '
               b'"endsAt": "2024-01-01T00:00:00Z"}]'),
    ("alerts", b'[{"labels": {"bad-name": "x"}}]'), ("alerts", b'[{"labels": {"": "x"}}]'),
    ("alerts", b'[{"labels": {"0x": "x"}}]'), ("alerts", '[{"labels": {"clé": "x"}}]'.encode()),
    ("alerts", b'[{"labels": {"a": "b", "bad-name": ""}}]'), ("alerts", b'[{"labels": {"a": ""}}]'),
    ("alerts", b'[{"labels": {"alertname": "S", "v": "\\ud800"}}]'),
    ("alerts", b'[{"labels": {"alertname": "G1"}}, {"labels": {"bad-name": "x"}}]'),
    ("alerts", b'[{"labels": {"alertname": "AN"}, "annotations": {"bad-name": "x"}}]'),
    ("alerts", b'[{"labels": {"a": "b"}, "generatorURL": "not a url"}]'),
    ("alerts", b'[{"labels": {"a": "b"}, "generatorURL": "http://prom/graph?g0=1"}]'),
    ("silences", b""), ("silences", b"{nope"),
    ("silences", b'{"matchers": [], "startsAt": "2020-01-01T00:00:00Z", "endsAt": '
                 b'"2099-01-01T00:00:00Z", "createdBy": "t", "comment": "c"}'),
]
SILENCES = [
    {"matchers": [{"name": "a", "value": "b", "isRegex": False}], **SPAN, "comment": ""},
    {"matchers": [{"name": "a", "value": "b"}], **SPAN},
    {"matchers": [{"name": "bad-name", "value": "b", "isRegex": False}], **SPAN},
    {"matchers": [{"name": "a", "value": "(?=x)", "isRegex": True}], **SPAN},
    {"matchers": [{"name": "a", "value": ".*", "isRegex": True}], **SPAN},
    {"matchers": [{"name": "a", "value": "b", "isRegex": False}], **SPAN,
     "endsAt": "2019-01-01T00:00:00Z"},
    {"matchers": [{"name": "a", "value": "b", "isRegex": False}], **SPAN,
     "endsAt": "2021-01-01T00:00:00Z"},
    {"matchers": [{"name": "a", "value": "b", "isRegex": False}], **SPAN,
     "id": "3e1b0f0e-1111-4000-8000-000000000000"},
    {"matchers": [{"name": "a", "value": "b", "isRegex": False}], **SPAN, "createdBy": ""},
    {key: value for key, value in SPAN.items() if key != "comment"} | {
        "matchers": [{"name": "a", "value": "b", "isRegex": False}]},
]
GETS = [
    "/api/v2/alerts?filter=nope", '/api/v2/alerts?filter=a%3D~"(%3F%3Dx)"',
    "/api/v2/alerts?receiver=(", "/api/v2/alerts?active=maybe", "/api/v2/silences?filter=nope",
    "/api/v2/alerts/groups?filter=nope", "/api/v2/silence/nope",
    "/api/v2/silence/3e1b0f0e-1111-4000-8000-000000000000", "/api/v2/receivers",
]


async def test_status_codes_match_alertmanagers(pair: Pair) -> None:
    differ = []
    for kind, body in POSTS:
        (s1, b1), (s2, b2) = await pair.call("POST", f"/api/v2/{kind}", data=body,
                                              headers={"Content-Type": "application/json"})
        if s1 != s2:
            differ.append((kind, body, s1, b1, s2, b2))
    for silence in SILENCES:
        (s1, b1), (s2, b2) = await pair.call("POST", "/api/v2/silences", json=silence)
        if s1 != s2:
            differ.append(("silence", silence, s1, b1, s2, b2))
    for path in GETS:
        (s1, b1), (s2, b2) = await pair.call("GET", path)
        if s1 != s2:
            differ.append((path, s1, b1, s2, b2))
    assert differ == []


def _alerts(body: list[dict]) -> list[tuple]:
    return [(x["fingerprint"], sorted(x["labels"].items()), x["status"]["state"],
             sorted(x["status"]), len(x["status"]["silencedBy"]), x["status"]["inhibitedBy"],
             [r["name"] for r in x["receivers"]]) for x in body]


def _groups(body: list[dict]) -> list[tuple]:
    return [(sorted(g["labels"].items()), g["receiver"]["name"],
             [x["fingerprint"] for x in g["alerts"]]) for g in body]


ALERTS = [
    a("Test"),
    a("Test", cluster=""), a("Test", cluster="c1", severity="page"),
    a("Test", cluster="c1", severity="warn", team="INFRA", instance="b"),
    a("Test", cluster="c2", severity="warn", team="infra", instance="a", job="j"),
    a("Other", team="Infra", cluster="c2", job="i"), a("Other", job="a"),
    a("Uni", model="модель-7b", note="a\nb"), a("Sur", v="\ud800"),
    a("Quiet", severity="warn", cluster="c9"),
]
QUERIES = [
    {}, {"active": "false"}, {"silenced": "false"}, {"inhibited": "false"},
    {"active": "false", "inhibited": "false"}, {"unprocessed": "false"},
    {"filter": 'alertname="Test"'}, {"filter": ['alertname=~"T.*|O.*"', 'cluster!="c1"']},
    {"filter": 'team=~"(?i)INFRA"'}, {"filter": 'cluster=""'}, {"filter": 'cluster!=""'},
    {"filter": 'note=~"a.b"'}, {"filter": 'model=~"\\\\pL+-7b"'}, {"filter": "job!~a"},
    {"receiver": "team"}, {"receiver": "t.*|page"}, {"receiver": "nobody"},
]


async def test_fingerprints_filters_and_groups_match(pair: Pair) -> None:
    for alert in ALERTS:  # one by one: the same updatedAt order on both sides
        (s1, _), (s2, _) = await pair.call("POST", "/api/v2/alerts", json=[alert])
        assert s1 == s2 == 200
    silence = {"matchers": [{"name": "cluster", "value": "c9", "isRegex": False}], **SPAN}
    (s1, _), (s2, _) = await pair.call("POST", "/api/v2/silences", json=silence)
    assert s1 == s2 == 200
    everything = await pair.agree("GET", "/api/v2/alerts", _alerts)
    assert len(everything) == len(ALERTS) - 1  # {cluster=""} is {alertname=Test}'s own alert
    assert any(x[4] for x in everything) and any(x[3] for x in everything)  # some muted
    for query in QUERIES:
        await pair.agree("GET", "/api/v2/alerts", _alerts, params=_multi(query))
        await pair.agree("GET", "/api/v2/alerts/groups", _groups, params=_multi(query))


def _multi(query: dict[str, Any]) -> list[tuple[str, str]]:
    return [(k, v) for k, vs in query.items() for v in (vs if isinstance(vs, list) else [vs])]


def _silences(body: list[dict]) -> list[tuple]:
    return [(x["status"]["state"], [(m["name"], m["value"], m["isRegex"], m["isEqual"])
                                    for m in x["matchers"]], x["comment"]) for x in body]


async def test_silence_listing_and_filters_match(pair: Pair) -> None:
    made = []
    for i, matchers in enumerate([
            [("alertname", "A", False, True)], [("alertname", "B.*", True, True)],
            [("alertname", "A", False, True), ("team", "x|y", True, False)],
            [("cluster", "c1", False, False), ("job", "j", False, True)]]):
        body = {"matchers": [{"name": n, "value": v, "isRegex": r, "isEqual": e}
                             for n, v, r, e in matchers], **SPAN, "comment": f"s{i}",
                "endsAt": f"2{i}99-01-01T00:00:00Z"}
        ((s1, b1), (s2, b2)) = await pair.call("POST", "/api/v2/silences", json=body)
        assert s1 == s2 == 200
        made.append((b1["silenceID"], b2["silenceID"]))
    pending = {"matchers": [{"name": "alertname", "value": "P", "isRegex": False}], **SPAN,
               "startsAt": "2098-01-01T00:00:00Z", "comment": "pending"}
    assert {s for (s, _) in await pair.call("POST", "/api/v2/silences", json=pending)} == {200}
    am_id, our_id = made[0]
    async with pair.session.delete(f"{pair.am}/api/v2/silence/{am_id}") as resp:
        assert resp.status == 200
    assert (await pair.client.delete(f"/api/v2/silence/{our_id}")).status == 200
    listed = await pair.agree("GET", "/api/v2/silences", _silences)
    assert [s[0] for s in listed] == ["active"] * 3 + ["pending", "expired"]
    for wanted in (['alertname="A"'], ['alertname=~"B.*"'], ['alertname="B.*"'],
                   ['alertname=~"A"'], ['team=~"x.*"'], ['team!~"x|y"'], ['job="j"'],
                   ['cluster!="c1"'], ['alertname!="A"'], ['nothere=""'],
                   ['alertname="A"', 'team!~"x|y"'], ['alertname="A"', 'team="x|y"']):
        await pair.agree("GET", "/api/v2/silences", _silences,
                         params=[("filter", w) for w in wanted])


async def test_api_v1_answers_as_alertmanager_0_25(pair: Pair) -> None:
    """Alertmanager 0.25 still serves v1 (no 410): same codes and envelope, same alerts."""
    for body in (b'[{"labels": {"alertname": "V1", "x": ""}}]', b'[{"labels": {"bad-name": "v"}}]',
                 b'[{"annotations": {}}]', b"{nope"):
        (s1, b1), (s2, b2) = await pair.call("POST", "/api/v1/alerts", data=body)
        assert (s1, b1["status"]) == (s2, b2["status"]), (body, b1, b2)
    for path in ("/api/v1/alerts?filter=nope", "/api/v1/nope", "/api/v1/alerts/groups"):
        (s1, _), (s2, _) = await pair.call("GET", path)
        assert s1 == s2, path
    shape = lambda b: (b["status"], [(x["fingerprint"], x["labels"], x["receivers"])  # noqa: E731
                                     for x in b["data"]])
    assert (await pair.agree("GET", "/api/v1/alerts", shape))[1][0][1] == {"alertname": "V1"}
    await pair.agree("GET", "/api/v1/receivers", lambda b: (b["status"], sorted(b["data"])))
    await pair.agree("GET", "/api/v1/silences", lambda b: (b["status"], b["data"]))
    await pair.agree("GET", "/api/v1/status", lambda b: sorted(b["data"]))
