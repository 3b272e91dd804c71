"""End to end, as a platform team runs it: a simulated vLLM in the incident scenario → the
exporter → a real Prometheus scraping it every second → `inferwatch rules run` on the prometheus
source → a real Alertmanager (API v2) → its webhook receiver, the notifier (webhook v4) → a
webhook (json://) and an email (aiosmtpd). The spike produces one firing notification on each
channel with the alert's labels and annotations, the recovery one resolution on each."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from aiosmtpd.controller import Controller

from tests.conftest import free_port, need_binary
from tests.e2e.e2e_chain import (
    TOKEN,
    E2eMailbox,
    E2eProcs,
    E2eWebhook,
    HookCall,
    Mail,
    derived_kv_rule_file,
    e2e_get,
    e2e_poll,
    e2e_samples,
    e2e_status,
    e2e_until,
    mail_html,
    mail_text,
    write_yaml,
)

pytestmark = pytest.mark.ecosystem

SPEED = 8  # simulated seconds per wall second: steady 7.5 s, KV cache full for about 13 s
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
PCT = r"\d+(?:\.\d+)?%"
RECEIVER = "ml-oncall"


@dataclass
class Expected:
    """The notifications' exact content; only the KV cache percentage varies (>= 90%)."""

    target: str
    instance: str
    generator: str
    description: str

    @property
    def labels_text(self) -> str:
        return (f"engine=vllm instance={self.instance} job=inferwatch model={MODEL} "
                f"severity=warning target={self.target}")

    def subject(self, firing: bool) -> str:
        status = "[FIRING:1]" if firing else "[RESOLVED]"
        return (f"{status} KVCacheNearFull {MODEL} "
                f"(vllm {self.instance} inferwatch warning {self.target})")

    @property
    def summary(self) -> str:
        return rf"KV cache of {re.escape(self.target)} \({re.escape(MODEL)}\) at ({PCT})"

    def check_value(self, m: re.Match | None, text: str) -> None:
        assert m, text
        assert float(m.group(1).rstrip("%")) > 90.0, m.group(1)

    def check_webhook(self, call: HookCall, firing: bool) -> None:
        assert call.path == "/hooks/inferwatch"
        assert call.headers["Content-Type"].startswith("application/json")
        assert call.body["title"] == self.subject(firing)
        assert call.body["type"] == ("warning" if firing else "success")
        assert call.body["attachments"] == []
        heading = "Firing:" if firing else "Resolved:"
        message = call.body["message"]
        self.check_value(re.fullmatch(
            rf"{heading}\n- KVCacheNearFull \[{re.escape(self.labels_text)}\] {self.summary}"
            rf" — {re.escape(self.description)}\nSource: {re.escape(self.generator)}\n",
            message), message)

    def check_email(self, mail: Mail, firing: bool) -> None:
        msg = mail.msg
        assert msg["Subject"] == self.subject(firing)
        assert msg["From"] == "alerts@example.com"
        assert msg["To"] == "oncall@example.com"
        assert mail.rcpt_tos == ["oncall@example.com"]
        heading = "Firing" if firing else "Resolved"
        footer = f"Sent by inferwatch notifier for receiver {RECEIVER}."
        text = mail_text(msg).replace("\r\n", "\n")
        self.check_value(re.fullmatch(
            rf"{heading}\n\n- KVCacheNearFull {self.summary}\n {re.escape(self.description)}\n"
            rf"{re.escape(self.labels_text)}\n\nSource\n\n{re.escape(footer)}", text), text)
        html = mail_html(msg).replace("\r\n", "\n")
        href = self.generator.replace("&", "&amp;")
        self.check_value(re.fullmatch(
            rf"<h2>{heading}</h2>\n<ul>\n<li><strong>KVCacheNearFull</strong> {self.summary}"
            rf"<br />\n{re.escape(self.description)}<br />\n"
            rf"<code>{re.escape(self.labels_text)}</code></li>\n</ul>\n"
            rf'<p><a href="{re.escape(href)}">Source</a></p>\n<p>{re.escape(footer)}</p>',
            html), html)


async def test_incident_fires_and_resolves_through_prometheus_and_alertmanager(
        tmp_path: Path) -> None:
    prometheus = need_binary("prometheus")
    alertmanager = need_binary("prometheus-alertmanager")
    port = {name: free_port() for name in ("sim", "exporter", "prom", "am", "notifier", "smtp")}
    url = {name: f"http://127.0.0.1:{p}" for name, p in port.items()}
    target = url["sim"]
    instance = f"127.0.0.1:{port['exporter']}"

    # the rule: the default pack's KV-cache rule, timings shortened for the compressed incident
    rule = derived_kv_rule_file(tmp_path / "e2e-rules.yml", window="4s", for_="2s",
                                threshold=0.9)
    write_yaml(tmp_path / "rules-run.yml", {
        "rules": ["e2e-rules.yml"],
        "source": {"prometheus": {"url": url["prom"], "timeout": "3s"}},
        "alertmanagers": [{"url": url["am"], "timeout": "3s"}],
        "resend_delay": "2s",
        "state_file": "rules-state.json",
        "external_url": url["prom"],
    })
    write_yaml(tmp_path / "prometheus.yml", {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                   "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "inferwatch",
                            "static_configs": [{"targets": [instance]}]}],
    })
    write_yaml(tmp_path / "alertmanager.yml", {
        "route": {"receiver": "inferwatch-notifier",
                  "group_by": ["alertname", "engine", "model", "target"],
                  "group_wait": "500ms", "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "inferwatch-notifier", "webhook_configs": [{
            "url": f"{url['notifier']}/api/v1/webhook", "send_resolved": True,
            "http_config": {"authorization": {"credentials": TOKEN}}}]}],
    })

    hook = await E2eWebhook().start()
    box = E2eMailbox()
    smtp = Controller(box, hostname="127.0.0.1", port=port["smtp"])
    smtp.start()
    write_yaml(tmp_path / "notifier.yml", {
        "route": {"receiver": RECEIVER, "group_by": ["alertname", "model"],
                  "group_wait": "200ms", "group_interval": "500ms", "repeat_interval": "1h"},
        "receivers": [{"name": RECEIVER, "urls": [
            {"url": f"json://127.0.0.1:{hook.port}/hooks/inferwatch", "send_resolved": True},
            {"url": f"mailto://127.0.0.1:{port['smtp']}"
                    "?from=alerts@example.com&to=oncall@example.com",
             "send_resolved": True}]}],
        "delivery": {"timeout": "3s", "initial_backoff": "200ms", "max_backoff": "1s",
                     "retry_deadline": "30s"},
        "web": {"bearer_token": TOKEN},
    })

    procs = E2eProcs(tmp_path)
    began = time.monotonic()
    timings: dict[str, float] = {}
    try:
        async with aiohttp.ClientSession() as session:
            # everything but the engine first, so that the incident starts on a running chain
            await procs.inferwatch("notifier", "notifier",
                                   f"--config.file={tmp_path / 'notifier.yml'}",
                                   f"--web.listen-address=127.0.0.1:{port['notifier']}",
                                   f"--storage.path={tmp_path / 'notifier-data'}")
            await procs.start("alertmanager", alertmanager,
                              f"--config.file={tmp_path / 'alertmanager.yml'}",
                              f"--storage.path={tmp_path / 'am-data'}",
                              f"--web.listen-address=127.0.0.1:{port['am']}",
                              "--cluster.listen-address=")
            await procs.start("prometheus", prometheus,
                              f"--config.file={tmp_path / 'prometheus.yml'}",
                              f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                              f"--web.listen-address=127.0.0.1:{port['prom']}")
            await procs.inferwatch("exporter", "exporter",
                                   f"--web.listen-address=127.0.0.1:{port['exporter']}",
                                   f"--engine=vllm={target}",
                                   "--collector.engines.interval=1s", "--simulate-gpus=1",
                                   "--no-collector.host")
            await procs.inferwatch("rules", "rules", "run",
                                   f"--config={tmp_path / 'rules-run.yml'}")
            for ready in (f"{url['notifier']}/-/ready", f"{url['am']}/-/ready",
                          f"{url['prom']}/-/ready", f"{url['exporter']}/healthz"):
                await e2e_poll(lambda u=ready: e2e_status(session, u), lambda s: s == 200,
                               30, f"{ready} to answer 200", procs, interval=0.1)
            timings["chain up"] = time.monotonic() - began

            await procs.inferwatch("simulator", "simulate-engine", "--kind=vllm",
                                   f"--web.listen-address=127.0.0.1:{port['sim']}",
                                   f"--model={MODEL}", "--scenario=incident",
                                   f"--speed={SPEED}")
            sim_started = time.monotonic()

            async def phase() -> str | None:
                state = await e2e_get(session, f"{url['sim']}/simulator/state")
                return state["phase"] if state else None

            # Prometheus scrapes the engine's series through the exporter
            query = f"{url['prom']}/api/v1/query?query=inferwatch_engine_up"
            await e2e_poll(lambda: e2e_get(session, query),
                           lambda r: bool(r and r["data"]["result"]
                                          and r["data"]["result"][0]["value"][1] == "1"),
                           20, "inferwatch_engine_up == 1 in Prometheus", procs)
            # nothing fires in the steady phase
            await e2e_poll(phase, lambda p: p not in (None, "steady"), 20,
                           "the spike phase", procs)
            assert hook.calls == [] and box.mails == [], "notified before the incident"
            timings["spike starts"] = time.monotonic() - sim_started

            # --- firing: one webhook call and one email -----------------------------------
            await e2e_until(lambda: hook.calls and box.mails, 40,
                            "the firing webhook call and email", procs)
            timings["firing delivered"] = time.monotonic() - sim_started

            # what Alertmanager holds is the rules engine's alert, with Prometheus's target labels
            am_alerts = await e2e_get(session, f"{url['am']}/api/v2/alerts")
            labels = {"alertname": "KVCacheNearFull", "engine": "vllm", "model": MODEL,
                      "target": target, "instance": instance, "job": "inferwatch",
                      "severity": "warning"}
            assert [a["labels"] for a in am_alerts] == [labels]
            assert am_alerts[0]["status"]["state"] == "active"
            assert am_alerts[0]["annotations"]["runbook"] == rule["annotations"]["runbook"]
            expr = "avg_over_time(inferwatch_engine_kv_cache_usage_ratio[4s]) > 0.9"
            generator = f"{url['prom']}/graph?g0.expr={quote(expr)}&g0.tab=1"
            assert am_alerts[0]["generatorURL"] == generator
            assert am_alerts[0]["receivers"] == [{"name": "inferwatch-notifier"}]

            expected = Expected(target, instance, generator, rule["annotations"]["description"])
            expected.check_webhook(hook.calls[0], firing=True)
            expected.check_email(box.mails[0], firing=True)
            assert len(hook.calls) == 1 and len(box.mails) == 1

            # --- resolution: once the cache drains, one more call and one more email ------
            await e2e_until(lambda: len(hook.calls) >= 2 and len(box.mails) >= 2, 40,
                            "the resolution webhook call and email", procs)
            timings["resolved delivered"] = time.monotonic() - sim_started
            assert await phase() in ("recovery", "recovered")
            expected.check_webhook(hook.calls[1], firing=False)
            expected.check_email(box.mails[1], firing=False)

            # resolved everywhere; and nothing more arrives (no flapping, no repeat)
            await e2e_poll(lambda: e2e_get(session, f"{url['am']}/api/v2/alerts"),
                           lambda r: r == [], 10, "Alertmanager to drop the alert", procs)
            nf = await e2e_poll(lambda: e2e_samples(session, f"{url['notifier']}/metrics"),
                                lambda m: bool(m) and m["inferwatch_notifier_outbox_pending"] == 0
                                and m['inferwatch_notifier_alerts{state="firing"}'] == 0,
                                10, "the notifier to settle", procs)
            sent = 'inferwatch_notifier_notifications_total{{channel="{}",receiver="{}"}}'
            assert nf[sent.format("json", RECEIVER)] == 2
            assert nf[sent.format("mailto", RECEIVER)] == 2
            assert not any(k.startswith("inferwatch_notifier_notification_attempts_failed_total")
                           and v for k, v in nf.items())
            # everything came through Alertmanager's webhook, nothing straight to API v2
            assert nf['inferwatch_notifier_alerts_received_total{source="webhook"}'] >= 2
            assert nf.get('inferwatch_notifier_alerts_received_total{source="api"}', 0) == 0
            assert len(hook.calls) == 2 and len(box.mails) == 2
    finally:
        await procs.stop()
        smtp.stop()
        await hook.stop()
        print("e2e timings (s):", {k: round(v, 1) for k, v in timings.items()},
              "total", round(time.monotonic() - began, 1))
