"""The web page (notifier/ui/) over HTTP: escaping, grouping, filters, states, the silence form,
CSRF, the bearer token and basic auth, and the notification log without channel URLs."""

from __future__ import annotations

import html
import re
import socket
from html.parser import HTMLParser

import bcrypt
import pytest

from inferwatch.core.webconfig import WebConfig, middleware
from inferwatch.notifier.api import make_app
from inferwatch.notifier.service import Notifier
from inferwatch.notifier.ui import data, views
from inferwatch.notifier.ui.render import el, esc, safe_href
from inferwatch.notifier.ui.security import CSRF_COOKIE, SESSION_COOKIE, _local
from tests.notifier.helpers import alert_body, load
from tests.support.webhook import Sink, until

CONFIG = """
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 50ms
  group_interval: 200ms
  routes:
    - matchers: ['team="ml"']
      receiver: ml
      group_by: [alertname, model]
receivers:
  - name: hook
    urls: ["SINK"]
  - name: ml
    urls: ["SINK"]
inhibit_rules:
  - source_matchers: ['alertname="NodeDown"']
    target_matchers: ['alertname="HighTTFT"']
    equal: [node]
"""


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside each element with an id."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def having(self, attr: str) -> list[dict[str, str]]:
        return [a for _, a in self.tags if attr in a]


async def page(client, path: str, status: int = 200) -> str:
    resp = await client.get(path)
    text = await resp.text()
    assert resp.status == status, text[:500]
    return text


async def csrf_token(client, path: str = "/ui/silences/new") -> str:
    text = await page(client, path)
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', text)
    assert found, "no CSRF field in the form"
    return found.group(1)


@pytest.fixture
async def ui(sink, start_notifier):
    return await start_notifier(CONFIG.replace("SINK", sink.url()))


def test_escaping_and_links_are_safe() -> None:
    assert el("td", {"title": '"><x'}, "<b>&") == '<td title="&quot;&gt;&lt;x">&lt;b&gt;&amp;</td>'
    assert esc(el("b", {}, "x")) == "<b>x</b>"  # built markup is not escaped twice
    assert safe_href("https://grafana/d/x?a=1") == "https://grafana/d/x?a=1"
    for bad in ("javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,x", "//evil"):
        assert safe_href(bad) is None


@pytest.mark.parametrize(("target", "expected"), [
    ("/ui/silences?saved=x", "/ui/silences?saved=x"), ("//evil.example/", "/ui/alerts"),
    ("/\t/evil.example", "/ui/alerts"), ("/\\evil.example", "/ui/alerts"),
    ("https://evil.example/", "/ui/alerts"), ("/ui/login", "/ui/alerts")])
def test_sign_in_goes_back_to_a_local_path_only(target: str, expected: str) -> None:
    assert _local(target) == expected


async def test_every_value_from_an_alert_is_escaped(ui) -> None:
    notifier, client = ui
    evil = '<script>alert("x")</script>'
    body = alert_body("Evil", {"model": evil, "q": "a'b\"c"}, summary=evil,
                      runbook_url="javascript:alert(1)", dashboard_url="https://grafana/d/1")
    body["generatorURL"] = "javascript:alert(2)"
    assert (await client.post("/api/v2/alerts", json=[body])).status == 200
    text = await page(client, "/ui/alerts")
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "a&#x27;b&quot;c" in text
    hrefs = [a["href"] for a in Tags(text).having("href")]
    assert not any(h.lower().startswith("javascript") for h in hrefs)
    assert "https://grafana/d/1" in hrefs  # a safe annotation URL is a link
    assert len(re.findall(r"<script", text)) == 1  # the page's own refresh script only


async def test_alerts_are_grouped_as_the_route_tree_groups_them(ui) -> None:
    notifier, client = ui
    alerts = [alert_body("HighTTFT", {"team": "ml", "model": m, "node": "n1"}) for m in "ab"]
    alerts.append(alert_body("DiskFull", {"node": "n2"}))
    assert (await client.post("/api/v2/alerts", json=alerts)).status == 200
    api = await (await client.get("/api/v2/alerts/groups")).json()
    text = await page(client, "/ui/alerts")
    sections = text.split('<section class="group"')[1:]
    shown = [(re.search(r'class="receiver">([^<]*)<', s).group(1),
              re.findall(r'data-fingerprint="([0-9a-f]+)"', s)) for s in sections]
    expected = [(g["receiver"]["name"], [a["fingerprint"] for a in g["alerts"]]) for g in api]
    assert shown == expected
    # the ml route groups by model too: two groups there, one at the root
    assert sorted((r, len(fps)) for r, fps in shown) == [("hook", 1), ("ml", 1), ("ml", 1)]


async def test_the_list_counts_every_alert_and_shows_a_whole_group_on_its_own_page(ui) -> None:
    notifier, client = ui
    alerts = [alert_body("DiskFull", {"node": f"n{i}", "job": "node"}) for i in range(7)]
    alerts.append(alert_body("QueueDeep", {"model": "m"}))
    assert (await client.post("/api/v2/alerts", json=alerts)).status == 200
    await client.post("/api/v2/silences", json={
        "matchers": [{"name": "node", "value": "n[0-2]", "isRegex": True}],
        "startsAt": "2000-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z",
        "createdBy": "ops", "comment": "c"})
    api = await (await client.get("/api/v2/alerts/groups")).json()
    [disk] = [g for g in api if g["labels"] == {"alertname": "DiskFull"}]
    order = [a["fingerprint"] for a in disk["alerts"]]
    text = await page(client, "/ui/alerts")
    assert "2 group(s), 8 alert(s); showing the first 3 of each group" in text
    block = text.split('data-alerts="7"')[1].split("</section>")[0]
    assert "7 alert(s): 4 active, 3 silenced, 0 inhibited" in block
    assert re.findall(r'data-fingerprint="([0-9a-f]+)"', block) == order[:views.PER_GROUP]
    whole = re.search(r'<a href="([^"]+)" class="whole">all 7 alerts of this group</a>', block)
    text = await page(client, html.unescape(whole.group(1)))
    assert "1 group(s), 7 alert(s)" in text and "showing the first" not in text
    assert re.findall(r'data-fingerprint="([0-9a-f]+)"', text) == order
    assert 'class="whole"' not in text and "← all groups" in text


async def test_an_alert_changed_since_the_last_view_shows_its_new_content(ui) -> None:
    notifier, client = ui
    first = alert_body("DiskFull", {"node": "n1"}, summary="80% full")
    assert (await client.post("/api/v2/alerts", json=[first])).status == 200
    assert "80% full" in await page(client, "/ui/alerts")
    again = alert_body("DiskFull", {"node": "n1"}, summary="95% full",
                       runbook_url="https://runbooks.example/disk.md")
    assert (await client.post("/api/v2/alerts", json=[again])).status == 200
    text = await page(client, "/ui/alerts")
    assert "95% full" in text and "80% full" not in text
    assert '<a href="https://runbooks.example/disk.md" rel="noopener noreferrer" ' \
           'class="runbook">runbook</a>' in text


async def test_filters_are_the_api_matchers_on_re2(ui) -> None:
    notifier, client = ui
    alerts = [alert_body("HighTTFT", {"model": m}) for m in ("llama-3", "mistral", "llama-2")]
    assert (await client.post("/api/v2/alerts", json=alerts)).status == 200

    async def models(query: str) -> list[str]:
        text = await page(client, "/ui/alerts?" + query)
        return sorted(set(re.findall(r'>model=([^<]*)</a>', text)))

    assert await models("filter=" + 'model%3D~"llama.*"') == ["llama-2", "llama-3"]
    assert await models("filter=" + '{alertname%3D"HighTTFT",model!%3D"mistral"}') == [
        "llama-2", "llama-3"]
    assert await models("filter=model%3D~%22llama.*%22&filter=model%21~%22.*2%22") == ["llama-3"]
    # a backreference: Python's re has it, RE2 (Alertmanager's engine) refuses it
    text = await page(client, "/ui/alerts?filter=" + 'model%3D~"(a)%5C1"', status=400)
    assert "bad matcher format" in text and "<form" in text
    await page(client, "/ui/alerts?filter=model%3D%22unclosed", status=400)


async def test_states_name_the_silence_and_the_inhibiting_alert(ui) -> None:
    notifier, client = ui
    alerts = [alert_body("NodeDown", {"node": "n1"}), alert_body("HighTTFT", {"node": "n1"}),
              alert_body("DiskFull", {"node": "n3"})]
    assert (await client.post("/api/v2/alerts", json=alerts)).status == 200
    fps = {a.labels["alertname"]: a.fingerprint for a in notifier.active.values()}
    sid = (await (await client.post("/api/v2/silences", json={
        "matchers": [{"name": "alertname", "value": "DiskFull", "isRegex": False}],
        "startsAt": "2000-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z",
        "createdBy": "ops", "comment": "disk swap <today>"})).json())["silenceID"]
    text = await page(client, "/ui/alerts")
    blocks = {fp: text.split(f'id="a-{fp}"')[1].split('class="alert"')[0] for fp in fps.values()}
    assert f'data-silence="{sid}"' in blocks[fps["DiskFull"]]
    assert "disk swap &lt;today&gt;" in blocks[fps["DiskFull"]]
    assert f'href="/ui/alerts#a-{fps["NodeDown"]}"' in blocks[fps["HighTTFT"]]
    assert 'class="state active"' in blocks[fps["NodeDown"]]
    tallies = re.findall(r'class="muted tally">([^<]*)<', text)
    assert sorted(tallies) == ["1 alert(s): 0 active, 0 silenced, 1 inhibited",
                               "1 alert(s): 0 active, 1 silenced, 0 inhibited",
                               "1 alert(s): 1 active, 0 silenced, 0 inhibited"]
    # unticked switches leave those alerts out, as the API's silenced=false does
    text = await page(client, "/ui/alerts?shown=1&active=true&inhibited=true")
    assert fps["DiskFull"] not in text and fps["HighTTFT"] in text
    text = await page(client, "/ui/alerts?shown=1&active=true")
    assert fps["DiskFull"] not in text and fps["HighTTFT"] not in text
    assert fps["NodeDown"] in text


async def test_a_post_without_the_csrf_token_is_refused(ui) -> None:
    notifier, client = ui
    form = {"matchers": 'alertname="X"', "ends": "1h", "created_by": "me", "comment": "c"}
    resp = await client.post("/ui/silences", data=form, allow_redirects=False)
    assert resp.status == 403 and notifier.silences.all() == []  # no cookie, no token
    token = await csrf_token(client)  # sets the CSRF cookie
    for extra, headers in (({}, {}), ({"csrf_token": "0" * 64}, {}),
                           ({"csrf_token": token}, {"Origin": "https://evil.example"}),
                           ({"csrf_token": token}, {"Sec-Fetch-Site": "cross-site"})):
        resp = await client.post("/ui/silences", data={**form, **extra}, headers=headers,
                                 allow_redirects=False)
        assert resp.status == 403, (extra, headers)
    assert notifier.silences.all() == []
    resp = await client.post("/ui/silences", data={**form, "csrf_token": token},
                             allow_redirects=False)
    assert resp.status == 303, await resp.text()
    [silence] = notifier.silences.all()
    assert resp.headers["Location"] == f"/ui/silences?saved={silence.id}#s-{silence.id}"
    # another client (another CSRF cookie) cannot reuse this token
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({CSRF_COOKIE: "another-seed"},
                                             response_url=client.make_url("/"))
    resp = await client.post(f"/ui/silences/{silence.id}/expire", data={"csrf_token": token},
                             allow_redirects=False)
    assert resp.status == 403 and notifier.silences.get(silence.id).state(notifier.clock()) \
        == "active"


async def test_silence_form_prefills_edits_and_expires(ui) -> None:
    notifier, client = ui
    text = await page(client, '/ui/silences/new?matchers=alertname%3D"A<b>"%0Anode%3D"n1"')
    assert '<textarea name="matchers" id="matchers" spellcheck="false">alertname=&quot;A&lt;b' \
           '&gt;&quot;\nnode=&quot;n1&quot;</textarea>' in text
    token = await csrf_token(client)
    form = {"csrf_token": token, "matchers": 'alertname="A<b>"\nnode=~"n1|n2"', "starts": "",
            "ends": "2h", "created_by": "me", "comment": "first"}
    assert (await client.post("/ui/silences", data=form, allow_redirects=False)).status == 303
    [s] = notifier.silences.all()
    assert [str(m) for m in s.matchers] == ['alertname="A<b>"', 'node=~"n1|n2"']
    assert s.ends_at - s.starts_at == pytest.approx(7200, abs=1)
    text = await page(client, f"/ui/silences/{s.id}/edit")
    assert f'name="id" value="{s.id}"' in text and 'value="first"' in text
    starts = re.search(r'name="starts" id="starts" value="([^"]+)"', text).group(1)
    edit = {**form, "id": s.id, "starts": starts, "ends": "2999-01-01T00:00:00Z",
            "comment": "second"}
    assert (await client.post("/ui/silences", data=edit, allow_redirects=False)).status == 303
    assert notifier.silences.get(s.id).comment == "second"  # updated in place, same id
    # refused as Alertmanager refuses: every matcher matches the empty string
    bad = {**form, "matchers": 'node=~".*"'}
    resp = await client.post("/ui/silences", data=bad)
    assert resp.status == 400 and "must not match the empty string" in await resp.text()
    resp = await client.post("/ui/silences", data={**form, "ends": "tomorrow"})
    assert resp.status == 400 and "neither a duration nor an RFC 3339 time" in await resp.text()
    resp = await client.post(f"/ui/silences/{s.id}/expire", data={"csrf_token": token},
                             allow_redirects=False)
    assert resp.status == 303
    assert notifier.silences.get(s.id).state(notifier.clock()) == "expired"
    text = await page(client, f"/ui/silences?expired={s.id}")
    assert f"Silence {s.id} expired." in text
    assert re.search(f'id="s-{s.id}"[^>]*data-state="expired"', text)
    resp = await client.post(f"/ui/silences/{s.id}/expire", data={"csrf_token": token})
    assert resp.status == 400 and "already expired" in await resp.text()


async def test_the_bearer_token_guards_the_page_and_signs_in_a_browser(
        sink, start_notifier, monkeypatch) -> None:
    monkeypatch.setenv("TOKEN", "tok-very-secret-123")
    text = CONFIG.replace("SINK", sink.url()) + 'web: {bearer_token: "${TOKEN}"}\n'
    notifier, client = await start_notifier(text)
    for path in ("/ui/alerts", "/ui/silences", "/ui/notifications", "/ui/silences/new"):
        resp = await client.get(path)
        assert resp.status == 401 and 'action="/ui/login"' in await resp.text(), path
    resp = await client.get("/ui/alerts", headers={"Authorization": "Bearer tok-very-secret-123"})
    assert resp.status == 200
    token = re.search(r'name="csrf_token" value="([0-9a-f]{64})"',
                      await (await client.get("/ui/alerts")).text()).group(1)
    resp = await client.post("/ui/login", data={"token": "wrong", "csrf_token": token,
                                                "next": "/ui/silences"})
    assert resp.status == 401 and "Wrong token" in await resp.text()
    resp = await client.post("/ui/login", data={"token": "tok-very-secret-123",
                                                "csrf_token": token, "next": "//evil.example/"},
                             allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/ui/alerts"
    session = resp.cookies[SESSION_COOKIE]
    assert "tok-very-secret" not in session.value and session["httponly"]
    assert session["samesite"] == "Strict"
    text = await page(client, "/ui/alerts")
    assert "tok-very-secret" not in text and 'action="/ui/logout"' in text
    resp = await client.post("/ui/logout", data={"csrf_token": token}, allow_redirects=False)
    assert resp.status == 303
    assert (await client.get("/ui/alerts")).status == 401


async def test_basic_auth_of_the_web_config_covers_the_page(sink, tmp_path, aiohttp_client):
    notifier = Notifier(load(tmp_path, CONFIG.replace("SINK", sink.url())), tmp_path / "d")
    await notifier.start()
    try:
        app = make_app(notifier)
        hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(4))
        app.middlewares.insert(0, middleware(WebConfig(users={"admin": hashed},
                                                       headers={"X-Extra": "1"})))
        client = await aiohttp_client(app)
        resp = await client.get("/ui/alerts")
        assert resp.status == 401 and resp.headers["WWW-Authenticate"].startswith("Basic")
        resp = await client.get("/ui/alerts", headers={"Authorization": "Basic YWRtaW46cHc="})
        assert resp.status == 200 and resp.headers["X-Extra"] == "1"
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    finally:
        await notifier.stop()


async def test_notification_log_shows_every_state_and_never_a_channel_url(
        sink, start_notifier) -> None:
    refusing = await Sink(fail=[404] * 1000).start()
    held = socket.socket()  # bound, never listening: refused, and no other server gets it
    held.bind(("127.0.0.1", 0))
    closed = held.getsockname()[1]
    config = f"""
route: {{receiver: ok, group_by: [alertname], group_wait: 50ms, group_interval: 200ms,
        routes: [{{matchers: ['alertname="Bad"'], receiver: refusing}},
                 {{matchers: ['alertname="Down"'], receiver: down}}]}}
delivery: {{initial_backoff: 1h, max_backoff: 1h}}
receivers:
  - name: ok
    urls: ["{sink.url()}"]
  - name: refusing
    urls: ["{refusing.url('/hook-refusing-s3cr3t')}"]
  - name: down
    urls: ["json://user:hunter2pw@127.0.0.1:{closed}/hook-s3cr3t"]
"""
    try:
        notifier, client = await start_notifier(config)
        await client.post("/api/v2/alerts", json=[alert_body(n) for n in ("Ok", "Bad", "Down")])

        def states() -> dict[str, str]:
            return {s.receiver: s.state for s in data.notifications(notifier)}

        await until(lambda: states() == {"ok": "delivered", "refusing": "failed",
                                         "down": "pending"} and
                    all(s.attempts for s in data.notifications(notifier)), what="outcomes")
        # a second alert in the down group: its pending notification is superseded
        await client.post("/api/v2/alerts", json=[alert_body("Down", {"i": "2"})])
        await until(lambda: "superseded" in [s.state for s in data.notifications(notifier)] and
                    all(s.attempts for s in data.notifications(notifier) if s.state == "pending"),
                    what="a superseded notification and its successor tried once")
        text = await page(client, "/ui/notifications")
        rows = [a for a in Tags(text).having("data-state") if a.get("id", "")[:2] == "n-"]
        assert {r["data-state"] for r in rows} == {"delivered", "failed", "pending", "superseded"}
        assert len(rows) == len(data.notifications(notifier))
        for receiver, state, error in (("refusing", "failed", "HTTP error=404"),
                                       ("down", "pending", "ConnectionRefusedError")):
            row = text.split(f'data-state="{state}" data-receiver="{receiver}"')[1]
            row = row.split("</tr>")[0]
            assert "#0 json" in row and error in row, row
        ok = text.split('data-state="delivered" data-receiver="ok"')[1].split("</tr>")[0]
        assert '<td class="err"></td>' in ok and '<td class="attempts">1</td>' in ok
        for secret in ("hunter2pw", "hook-s3cr3t", "hook-refusing-s3cr3t", str(sink.port)):
            assert secret not in text.replace(f"127.0.0.1:{closed}", ""), secret
        counts = notifier.outbox.counts()
        assert ", ".join(f"{counts.get(s, 0)} {s}" for s in data.STATES) in text
        text = await page(client, "/ui/notifications?state=failed")
        shown = [a["data-state"] for a in Tags(text).having("data-state")]
        assert shown and set(shown) == {"failed"}
    finally:
        held.close()
        await refusing.stop()

