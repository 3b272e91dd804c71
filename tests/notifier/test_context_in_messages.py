"""The built-in messages carry an alert's `context` annotation (the figures the rule packs query
at fire time) after its description, in each format; an alert without one reads as before.
End to end: the json:// webhook message and the email's text and HTML parts over aiosmtpd."""

from __future__ import annotations

import dataclasses
import html

from aiosmtpd.controller import Controller

from inferwatch.notifier.alerts import StoredAlert
from inferwatch.notifier.templates import DEFAULTS, MessageData, render
from tests.notifier.helpers import alert_body
from tests.notifier.test_email_slack import Mailbox, parts
from tests.support.procs import free_port
from tests.support.webhook import until

CONTEXT = "Now: 12 waiting, 30 running, TTFT p95 1.5s, 0.25 preemptions/s."
NOTES = {"summary": "KV cache at 97%", "description": "The KV cache is full.",
         "runbook_url": "https://runbooks.example/KVCacheNearFull.md"}


def message(name: str, notes: dict[str, str], without_context: bool = False) -> str:
    tpl = DEFAULTS[name]
    if without_context:
        tpl = dataclasses.replace(tpl, alert=tpl.alert.replace("{context}", ""))
    alert = StoredAlert("0" * 16, {"alertname": "KVCacheNearFull", "model": "m"}, notes,
                        100.0, None, "http://prometheus/graph", 100.0)
    return render(tpl, MessageData("r", "{}:{}", {"alertname": "KVCacheNearFull"}, [alert]),
                  200.0)[1]


def test_each_format_shows_the_context_after_the_description() -> None:
    for name in DEFAULTS:
        text = message(name, {**NOTES, "context": CONTEXT})
        assert text.count(CONTEXT) == 1, (name, text)
        at = text.index(CONTEXT)
        assert text.index(NOTES["description"]) < at < text.index("Runbook"), (name, text)
        # without a context annotation the message is what it was before the field
        assert message(name, NOTES) == message(name, NOTES, without_context=True), name


async def test_webhook_and_email_messages_carry_the_context(sink, start_notifier) -> None:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        notifier, client = await start_notifier(
            "route: {receiver: all, group_by: [alertname], group_wait: 50ms}\n"
            f"receivers: [{{name: all, urls: ['{sink.url()}', 'mailto://127.0.0.1:{port}"
            "?from=a@example.com&to=oncall@example.com']}]\n")
        resp = await client.post("/api/v2/alerts", json=[
            alert_body("KVCacheNearFull", {"model": "m"}, **NOTES, context=CONTEXT)])
        assert resp.status == 200
        await until(lambda: sink.posts and box.messages, 15, what="the webhook post and email")
    finally:
        controller.stop()
    posted = sink.posts[0].body["message"]
    assert f"{NOTES['description']} — {CONTEXT}" in posted, posted
    text, page = parts(box.messages[0])
    assert CONTEXT in text.replace("\r\n", "\n"), text
    assert CONTEXT in html.unescape(page), page
