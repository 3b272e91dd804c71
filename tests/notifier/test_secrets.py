"""No configured secret reaches a log line (apprise at DEBUG included), an error or a response."""

from __future__ import annotations

import base64
import logging
from unittest import mock

from apprise.plugins.slack import NotifySlack

from inferwatch.core.redact import MASK
from tests.notifier.helpers import alert_body
from tests.support.procs import free_port
from tests.support.webhook import Sink, until

SECRETS = {
    "SLACK_A": "T9SECRETA", "SLACK_B": "B9SECRETB", "SLACK_C": "c9SecretTokenCCCCCCCCCC",
    "HOOK_PASSWORD": "pw-5ecret-hook", "HOOK_TOKEN": "hdr-5ecret-token",
    "SMTP_PASSWORD": "smtp-5ecret-pw", "API_TOKEN": "api-5ecret-bearer",
}


def config(sink: Sink, closed: int) -> str:
    return f"""
route: {{receiver: all, group_by: [alertname], group_wait: 50ms, group_interval: 200ms}}
receivers:
  - name: all
    urls:
      - url: "slack://${{SLACK_A}}/${{SLACK_B}}/${{SLACK_C}}/#ops"
        send_resolved: true
      - "json://user:${{HOOK_PASSWORD}}@127.0.0.1:{sink.port}/hook?+X-Api-Key=${{HOOK_TOKEN}}"
      - "json://user:${{HOOK_PASSWORD}}@127.0.0.1:{closed}/down?+Authorization=Bearer%20${{HOOK_TOKEN}}"
      - "mailto://alerts:${{SMTP_PASSWORD}}@127.0.0.1:{closed}?from=a@example.com&to=b@example.com"
delivery: {{initial_backoff: 50ms, max_backoff: 100ms, retry_deadline: 600ms, timeout: 2s}}
web: {{bearer_token: "${{API_TOKEN}}"}}
"""


async def test_no_secret_in_logs_errors_or_responses(sink, start_notifier, monkeypatch,
                                                     caplog) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    auth = {"Authorization": f"Bearer {SECRETS['API_TOKEN']}"}
    with mock.patch.object(NotifySlack, "webhook_url", f"http://127.0.0.1:{sink.port}/services"):
        notifier, client = await start_notifier(config(sink, free_port()))
        await client.post("/api/v2/alerts", json=[alert_body("Leak", summary="s")], headers=auth)
        # the closed-port channels give up at the deadline and are queued again each
        # group_interval (Alertmanager retries a failed group at its next flush)
        await until(lambda: notifier.outbox.counts().get("delivered") == 2
                    and notifier.outbox.counts().get("failed", 0) >= 2, 15,
                    what="two deliveries and two channels given up")
    paths = {p.path for p in sink.posts}
    assert f"/services/{SECRETS['SLACK_A']}/{SECRETS['SLACK_B']}/{SECRETS['SLACK_C']}" in paths
    hook = [p for p in sink.posts if p.path == "/hook"][0]
    assert hook.headers["X-Api-Key"] == SECRETS["HOOK_TOKEN"]  # env expanded
    basic = base64.b64decode(hook.headers["Authorization"].removeprefix("Basic "))
    assert basic.decode() == f"user:{SECRETS['HOOK_PASSWORD']}"

    responses = [await (await client.get(path, headers=auth)).text() for path in (
        "/api/v2/alerts", "/api/v2/status", "/api/v2/receivers", "/api/v2/silences", "/metrics")]
    responses.append(await (await client.post("/api/v2/alerts", data=b"[{",
                                              headers=auth)).text())
    responses.append(await (await client.get("/api/v2/alerts")).text())  # the 401
    errors = [r["last_error"] for r in notifier.outbox.listing(1000)]
    lines = [caplog.text] + [r.getMessage() + (r.exc_text or "") for r in caplog.records]

    assert any("Slack POST URL" in line and MASK in line for line in lines), \
        "apprise's DEBUG line with the webhook URL should be there, redacted"
    assert any(e for e in errors), "the closed-port channels should have recorded errors"
    for value in SECRETS.values():
        for where, texts in (("log", lines), ("response", responses), ("error", errors)):
            leaked = [t for t in texts if value in t]
            assert not leaked, f"{value} leaked into a {where}: {leaked[0][:300]}"
