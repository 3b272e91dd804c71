"""Email through a real SMTP server (aiosmtpd) and Slack through apprise's own Slack plugin."""

from __future__ import annotations

import email
import email.policy
from unittest import mock

import pytest
from aiosmtpd.controller import Controller
from apprise.plugins.slack import NotifySlack

from tests.notifier.helpers import alert_body
from tests.support.procs import free_port
from tests.support.webhook import Sink, until

PAST = "2020-01-01T00:00:00Z"


class Mailbox:
    """An aiosmtpd handler keeping every message, parsed."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's
        self.messages.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        return "250 OK"


def smtp_config(port: int) -> str:
    return f"""
route: {{receiver: mail, group_by: [alertname], group_wait: 100ms, group_interval: 300ms}}
receivers:
  - name: mail
    urls:
      - url: "mailto://127.0.0.1:{port}?from=alerts@example.com&to=oncall@example.com"
        send_resolved: true
delivery: {{initial_backoff: 100ms, max_backoff: 300ms, retry_deadline: 30s, timeout: 3s}}
"""


def parts(msg: email.message.EmailMessage) -> tuple[str, str]:
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    return text, html


async def test_email_content_grouping_resolution_and_retry(start_notifier) -> None:
    port = free_port()
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    notifier, client = await start_notifier(smtp_config(port))
    await client.post("/api/v2/alerts", json=[
        alert_body("KVCacheFull", {"model": "llama", "pod": "a"}, summary="KV cache at 99%",
                   runbook_url="http://runbooks/kv", dashboard_url="http://grafana/d/kv"),
        alert_body("KVCacheFull", {"model": "llama", "pod": "b"}, summary="KV cache at 97%")])
    await until(lambda: max((r["attempts"] for r in notifier.outbox.listing(100)),
                            default=0) >= 2, what="attempts while down")
    assert box.messages == []
    controller.start()  # the SMTP server comes up
    try:
        await until(lambda: len(box.messages) == 1, 15, what="the email after the retry")
        msg = box.messages[0]
        assert msg["Subject"] == "[FIRING:2] KVCacheFull (llama)"
        assert msg["To"] == "oncall@example.com"
        assert msg["X-Inferwatch-Notification-Key"]
        text, html = parts(msg)
        assert "KV cache at 99%" in text and "KV cache at 97%" in text
        assert 'Runbook: <a href="http://runbooks/kv">http://runbooks/kv</a>' in html
        assert 'Dashboard: <a href="http://grafana/d/kv">http://grafana/d/kv</a>' in html
        assert "Runbook: http://runbooks/kv" in text  # apprise's text part keeps no href
        await client.post("/api/v2/alerts", json=[
            alert_body("KVCacheFull", {"model": "llama", "pod": p}, ends=PAST) for p in "ab"])
        await until(lambda: len(box.messages) == 2, what="the resolution email")
        assert box.messages[1]["Subject"] == "[RESOLVED] KVCacheFull (llama)"
        await until(lambda: notifier.outbox.counts() == {"delivered": 2}, what="both marked")
    finally:
        controller.stop()


async def test_email_without_send_resolved_stays_quiet_on_resolution(start_notifier) -> None:
    port = free_port()
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        notifier, client = await start_notifier(
            smtp_config(port).replace("        send_resolved: true\n", ""))
        await client.post("/api/v2/alerts", json=[alert_body("A")])
        await until(lambda: len(box.messages) == 1)
        await client.post("/api/v2/alerts", json=[alert_body("A", ends=PAST)])
        await until(lambda: notifier.nflog.last("mail", 0, next(iter(
            notifier.db.conn.execute("SELECT group_key FROM outbox").fetchone()))).firing
            == frozenset(), what="the resolution logged without sending")
        assert len(box.messages) == 1  # email defaults to send_resolved: false
    finally:
        controller.stop()


@pytest.fixture
async def slack_api():
    """A loopback stand-in for hooks.slack.com that apprise's Slack plugin is pointed at."""
    sink = await Sink().start()
    with mock.patch.object(NotifySlack, "webhook_url", f"http://127.0.0.1:{sink.port}/services"):
        yield sink
    await sink.stop()


async def test_slack_payload_as_slack_would_receive_it(slack_api, start_notifier) -> None:
    cfg = """
route: {receiver: chat, group_by: [alertname], group_wait: 100ms, group_interval: 300ms}
receivers:
  - name: chat
    urls: ["slack://alertbot@T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#llm-oncall"]
"""
    _, client = await start_notifier(cfg)
    await client.post("/api/v2/alerts", json=[
        alert_body("HighTTFT", {"model": "llama", "severity": "page"}, summary="p99 TTFT 3s",
                   description="over 2s for 10m", runbook_url="http://runbooks/ttft")])
    await until(lambda: len(slack_api.posts) == 1)
    post = slack_api.posts[0]
    assert post.path == "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"
    payload = post.body
    assert payload["channel"] == "#llm-oncall" and payload["username"] == "alertbot"
    attachment = payload["attachments"][0]
    assert attachment["title"] == "[FIRING:1] HighTTFT (llama page)"
    text = attachment["text"]
    assert text.startswith("*Firing*\n")  # markdown bold became Slack's mrkdwn bold
    assert "• *HighTTFT* p99 TTFT 3s\nover 2s for 10m" in text
    assert "`model=llama severity=page`" in text
    assert "<http://runbooks/ttft|Runbook>" in text


async def test_custom_template_replaces_the_default(sink, start_notifier) -> None:
    cfg = f"""
route: {{receiver: hook, group_by: [alertname], group_wait: 100ms}}
receivers:
  - name: hook
    urls: [{{url: "{sink.url()}", template: terse}}]
templates:
  terse:
    title: "{{STATUS}} {{alertname}} x{{num_firing}}"
    body: "{{alerts}}"
    alert: "{{labels[model]}}={{annotations[value]}};"
"""
    _, client = await start_notifier(cfg)
    await client.post("/api/v2/alerts", json=[
        alert_body("Lag", {"model": "m1"}, value="3"), alert_body("Lag", {"model": "m2"})])
    await until(lambda: len(sink.posts) == 1)
    body = sink.posts[0].body
    assert body["title"] == "FIRING Lag x2"
    assert sorted(body["message"].strip(";").split(";")) == ["m1=3", "m2="]


def test_slack_plugin_is_still_where_we_point_it() -> None:
    # Guards the Slack test: if apprise renames the attribute, the patch above would be inert.
    assert NotifySlack.webhook_url == "https://hooks.slack.com/services"
