"""Alertmanager integrations the notifier delivers, each at a receiver it can be pointed at.

Email through a real SMTP server (aiosmtpd) with Alertmanager's default subject and HTML;
discord_configs and pagerduty_configs at a loopback Sink, their bodies as Alertmanager 0.25
builds them; webhook_configs' http_config credentials on the wire and `send_resolved: false`;
`amconfig.original` showing the integrations with secrets as `<secret>`.
"""

from __future__ import annotations

import email
import email.policy
import hashlib

from aiosmtpd.controller import Controller

from inferwatch.notifier.amconfig import original
from tests.notifier.helpers import alert_body
from tests.support.procs import free_port
from tests.support.webhook import until

PAST = "2020-01-01T00:00:00Z"
TIMING = "group_by: [alertname], group_wait: 100ms, group_interval: 300ms"
FAST = "delivery: {initial_backoff: 100ms, max_backoff: 300ms, timeout: 3s}\n"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's
        self.messages.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        return "250 OK"


async def test_email_configs_with_global_smtp(start_notifier) -> None:
    port = free_port()
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        notifier, client = await start_notifier(f"""
global: {{smtp_smarthost: '127.0.0.1:{port}', smtp_from: am@example.com,
          smtp_require_tls: false}}
route: {{receiver: mail, {TIMING}}}
receivers:
  - name: mail
    email_configs:
      - {{to: oncall@example.com, send_resolved: true}}
      - to: team@example.com
        headers: {{Subject: 'custom {{{{ .Status }}}} {{{{ .CommonLabels.alertname }}}}'}}
        html: ''
        text: '{{{{ range .Alerts }}}}{{{{ .Labels.pod }}}};{{{{ end }}}}'
{FAST}""")
        await client.post("/api/v2/alerts", json=[
            alert_body("KVCacheFull", {"pod": "a"}, summary="KV at 99%"),
            alert_body("KVCacheFull", {"pod": "b"})])
        await until(lambda: len(box.messages) == 2, 15, what="two emails")
        by_to = {m["To"]: m for m in box.messages}
        default = by_to["oncall@example.com"]
        assert default["Subject"].strip() == "[FIRING:2] KVCacheFull"  # email.default.subject
        assert default["From"] == "am@example.com"
        html = default.get_body(("html",)).get_content()
        assert "KV at 99%" in html and "View in Alertmanager" in html
        custom = by_to["team@example.com"]
        assert custom["Subject"] == "custom firing KVCacheFull"
        assert custom.get_body(("plain",)).get_content().strip() == "a;b;"
        await client.post("/api/v2/alerts", json=[
            alert_body("KVCacheFull", {"pod": p}, ends=PAST) for p in "ab"])
        # send_resolved: true on the first only (email's default is false)
        await until(lambda: len(box.messages) == 3, 15, what="the resolution email")
        assert box.messages[2]["Subject"].startswith("[RESOLVED] KVCacheFull")
        await until(lambda: notifier.outbox.counts() == {"delivered": 3}, what="all marked")
    finally:
        controller.stop()


async def test_discord_and_pagerduty_bodies(start_notifier, sink) -> None:
    notifier, client = await start_notifier(f"""
route: {{receiver: r, {TIMING}}}
receivers:
  - name: r
    discord_configs: [{{webhook_url: '{sink.url('/discord', 'http')}'}}]
    pagerduty_configs:
      - routing_key: rk-secret
        url: '{sink.url('/pd', 'http')}'
        severity: '{{{{ .CommonLabels.severity }}}}'
        links: [{{href: 'http://rb/{{{{ .GroupLabels.alertname }}}}', text: runbook}}]
        details: {{pods: '{{{{ range .Alerts }}}}{{{{ .Labels.pod }}}} {{{{ end }}}}'}}
{FAST}""")
    await client.post("/api/v2/alerts", json=[alert_body("Hot", {"pod": "a", "severity": "page"},
                                                         summary="too hot")])
    await until(lambda: len(sink.posts) == 2, what="discord and pagerduty")
    posts = {p.path: p for p in sink.posts}
    embed = posts["/discord"].body["embeds"][0]
    assert embed["title"] == "[FIRING:1] Hot (a page)"  # discord.default.title
    assert embed["color"] == 0x992D22 and "too hot" in embed["description"]
    pd = posts["/pd"].body
    group_key = next(iter(notifier.groups)).key
    assert pd["routing_key"] == "rk-secret" and pd["event_action"] == "trigger"
    assert pd["dedup_key"] == hashlib.sha256(group_key.encode()).hexdigest()
    assert pd["payload"]["severity"] == "page"
    assert pd["payload"]["summary"] == "[FIRING:1] Hot (a page)"
    assert pd["payload"]["custom_details"]["pods"] == "a "
    assert pd["payload"]["custom_details"]["num_firing"] == "1"
    assert pd["links"] == [{"href": "http://rb/Hot", "text": "runbook"}]
    assert pd["client"] == "Alertmanager"
    await client.post("/api/v2/alerts", json=[alert_body("Hot", {"pod": "a", "severity": "page"},
                                                         ends=PAST)])
    await until(lambda: len(sink.posts) == 4, what="both resolved (send_resolved default on)")
    resolved = [p for p in sink.posts[2:] if p.path == "/pd"][0].body
    assert resolved["event_action"] == "resolve"
    assert [p for p in sink.posts[2:] if p.path == "/discord"][0].body["embeds"][0][
        "color"] == 0x2ECC71


async def test_webhook_http_config_and_send_resolved_false(start_notifier, sink) -> None:
    notifier, client = await start_notifier(f"""
route: {{receiver: r, {TIMING}}}
receivers:
  - name: r
    webhook_configs:
      - url: '{sink.url('/basic', 'http')}'
        send_resolved: false
        http_config: {{basic_auth: {{username: u, password: pw-secret}}}}
      - url: '{sink.url('/bearer', 'http')}'
        http_config: {{authorization: {{credentials: tok-secret}}}}
{FAST}""")
    await client.post("/api/v2/alerts", json=[alert_body("A")])
    await until(lambda: len(sink.posts) == 2, what="both webhooks")
    auth = {p.path: p.headers["Authorization"] for p in sink.posts}
    assert auth == {"/basic": "Basic dTpwdy1zZWNyZXQ=", "/bearer": "Bearer tok-secret"}
    assert all(p.body["version"] == "4" for p in sink.posts)
    await client.post("/api/v2/alerts", json=[alert_body("A", ends=PAST)])
    await until(lambda: len(sink.posts) == 3, what="the resolved notification")
    await until(lambda: notifier.outbox.depth() == 0, what="nothing pending")
    assert [p.path for p in sink.posts[2:]] == ["/bearer"]
    assert sink.posts[2].body["status"] == "resolved"
    text = original(notifier.loaded)
    assert "<secret>" in text and "pw-secret" not in text and "tok-secret" not in text
    assert "webhook_configs" in text
