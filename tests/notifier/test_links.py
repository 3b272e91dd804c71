"""Every channel's notification carries the alert's runbook link, its dashboard link (the packs'
relative range pinned around the alert) and a link that opens the notifier's silence form
prefilled with the alert's labels: followed against the running notifier, the form's matchers
are the alert's, and saving it silences that alert.

Channels: the notifier's own (json:// webhook message, email text and HTML parts over
aiosmtpd, Slack's attachment text through apprise's Slack plugin) and Alertmanager's webhook
integration (webhook_configs: `silenceURL` beside each alert, runbook and dashboard in its
annotations as Alertmanager sends them)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest
from aiosmtpd.controller import Controller

from inferwatch.notifier.api import make_app
from inferwatch.notifier.service import Notifier
from tests.notifier.helpers import alert_body, load
from tests.notifier.test_email_slack import Mailbox, parts, slack_api  # noqa: F401 (fixture)
from tests.support.procs import free_port
from tests.support.webhook import until

RUNBOOK = "https://runbooks.example/KVCacheNearFull.md"
DASHBOARD = ("http://grafana.example/d/inferwatch-engines?viewPanel=4&var-model=llama%203"
             "&from=now-1h&to=now")
LABELS = {"alertname": "KVCacheNearFull", "model": 'llama 3 "q"', "node": "n1"}
MATCHERS = ['alertname="KVCacheNearFull"', 'model="llama 3 \\"q\\""', 'node="n1"']
SLACK = "slack://alertbot@T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#oncall"


class Running:
    """A notifier on a known loopback port, its external URL that port."""

    def __init__(self, notifier: Notifier, base: str):
        self.notifier, self.base = notifier, base


@pytest.fixture
async def running(tmp_path, aiohttp_client) -> AsyncIterator:
    started: list[Notifier] = []

    async def start(receivers: str) -> Running:
        port = free_port()
        base = f"http://127.0.0.1:{port}/"
        text = (f"global: {{external_url: '{base}'}}\n"
                "route: {receiver: all, group_by: [alertname], group_wait: 50ms, "
                "group_interval: 200ms}\n" + receivers)
        notifier = Notifier(load(tmp_path, text), tmp_path / "linked")
        await notifier.start()
        started.append(notifier)
        await aiohttp_client(make_app(notifier), server_kwargs={"port": port})
        async with aiohttp.ClientSession() as session:
            resp = await session.post(base + "api/v2/alerts", json=[alert_body(
                "KVCacheNearFull", {k: v for k, v in LABELS.items() if k != "alertname"},
                summary="KV cache at 97%", runbook_url=RUNBOOK, dashboard_url=DASHBOARD)])
            assert resp.status == 200, await resp.text()
        return Running(notifier, base)

    yield start
    for notifier in started:
        await notifier.stop()


def pinned(run: Running) -> str:
    """The dashboard link as it must read: the packs' range replaced by one around the alert."""
    [alert] = run.notifier.active.values()
    url = urlsplit(DASHBOARD)
    query = dict(parse_qsl(url.query))
    assert query["from"] == "now-1h"
    start_ms = int((alert.starts_at - 3600) * 1000)
    return DASHBOARD.replace("from=now-1h", f"from={start_ms}")


async def follow_silence_link(run: Running, url: str) -> None:
    """The link opens the form with the alert's matchers; saving it silences the alert."""
    assert url.startswith(run.base + "ui/silences/new?"), url
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(url) as resp:
            text = await resp.text()
            assert resp.status == 200, text[:300]
        area = re.search(r'<textarea name="matchers"[^>]*>([^<]*)</textarea>', text)
        assert area, text[:500]
        assert html.unescape(area.group(1)).splitlines() == MATCHERS
        token = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', text).group(1)
        form = {"csrf_token": token, "matchers": html.unescape(area.group(1)), "ends": "1h",
                "created_by": "oncall", "comment": "from the notification"}
        async with session.post(run.base + "ui/silences", data=form) as resp:
            assert resp.status == 200, (await resp.text())[:300]
        async with session.get(run.base + "api/v2/alerts") as resp:
            [alert] = await resp.json()
    assert alert["status"]["state"] == "suppressed" and alert["status"]["silencedBy"]


async def test_json_webhook_message_carries_the_three_links(running, sink) -> None:
    run = await running(f"receivers: [{{name: all, urls: ['{sink.url()}']}}]\n")
    await until(lambda: len(sink.posts) == 1, what="the webhook post")
    message = sink.posts[0].body["message"]
    found = dict(re.findall(r"(Runbook|Dashboard|Silence): (\S+?)(?:,|\n|$)", message))
    assert found.keys() == {"Runbook", "Dashboard", "Silence"}, message
    assert found["Runbook"] == RUNBOOK and found["Dashboard"] == pinned(run)
    await follow_silence_link(run, found["Silence"])


async def test_email_text_and_html_carry_the_three_links(running) -> None:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        run = await running(
            f"receivers: [{{name: all, urls: ['mailto://127.0.0.1:{port}?from=a@example.com"
            "&to=oncall@example.com']}]\n")
        await until(lambda: len(box.messages) == 1, 15, what="the email")
    finally:
        controller.stop()
    text, page = parts(box.messages[0])
    lines = dict(re.findall(r"^ ?(Runbook|Dashboard|Silence): (\S+)$",
                            text.replace("\r\n", "\n"), re.M))
    hrefs = {html.unescape(h) for h in re.findall(r'<a href="([^"]+)"', page)}
    assert lines.keys() == {"Runbook", "Dashboard", "Silence"}, text
    assert lines["Runbook"] == RUNBOOK and lines["Dashboard"] == pinned(run)
    assert set(lines.values()) <= hrefs, page  # the HTML part links the same three
    await follow_silence_link(run, lines["Silence"])


async def test_slack_text_carries_the_three_links(running, slack_api) -> None:  # noqa: F811
    run = await running(f"receivers: [{{name: all, urls: ['{SLACK}']}}]\n")
    await until(lambda: len(slack_api.posts) == 1, what="the Slack post")
    text = slack_api.posts[0].body["attachments"][0]["text"]
    links = {name: html.unescape(url) for url, name in re.findall(r"<([^|>]+)\|([^>]+)>", text)}
    assert links.keys() >= {"Runbook", "Dashboard", "Silence"}, text
    assert links["Runbook"] == RUNBOOK and links["Dashboard"] == pinned(run)
    await follow_silence_link(run, links["Silence"])


async def test_alertmanager_webhook_has_silence_url_beside_each_alert(running, sink,
                                                                       start_notifier) -> None:
    hook = f"http://127.0.0.1:{sink.port}/hook"
    run = await running(f"receivers: [{{name: all, webhook_configs: [{{url: '{hook}'}}]}}]\n")
    await until(lambda: len(sink.posts) == 1, what="the webhook post")
    body = sink.posts[0].body
    [alert] = body["alerts"]
    assert body["version"] == "4" and body["externalURL"] == run.base
    # Alertmanager's fields as it sends them: the annotations unchanged (range not pinned)
    assert alert["annotations"]["runbook_url"] == RUNBOOK
    assert alert["annotations"]["dashboard_url"] == DASHBOARD
    assert set(alert) == {"status", "labels", "annotations", "startsAt", "endsAt",
                          "generatorURL", "fingerprint", "silenceURL"}
    await follow_silence_link(run, alert["silenceURL"])
    # a consumer of Alertmanager's webhook (the notifier's own /api/v1/webhook) takes it as is
    other, client = await start_notifier(f"receivers: [{{name: r, urls: ['{sink.url()}']}}]\n"
                                         "route: {receiver: r, group_wait: 1h}\n")
    resp = await client.post("/api/v1/webhook", json=body)
    assert resp.status == 200, await resp.text()
    assert [a.labels for a in other.active.values()] == [LABELS]


async def test_without_an_external_url_no_silence_link_is_made(sink, start_notifier) -> None:
    _, client = await start_notifier(
        "route: {receiver: all, group_by: [alertname], group_wait: 50ms}\n"
        f"receivers: [{{name: all, urls: ['{sink.url()}'], "
        f"webhook_configs: [{{url: 'http://127.0.0.1:{sink.port}/am'}}]}}]\n")
    await client.post("/api/v2/alerts", json=[alert_body("A", runbook_url=RUNBOOK)])
    await until(lambda: len(sink.posts) == 2, what="both posts")
    bodies = {("alerts" in p.body): p.body for p in sink.posts}
    assert f"Runbook: {RUNBOOK}" in bodies[False]["message"]
    assert "Silence" not in bodies[False]["message"]
    assert "silenceURL" not in bodies[True]["alerts"][0]  # Alertmanager's payload exactly
