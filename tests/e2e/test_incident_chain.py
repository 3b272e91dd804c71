"""End to end, as a platform team runs it: a simulated vLLM in the incident scenario → the
exporter → a real Prometheus scraping it every second → `inferwatch rules run` on the prometheus
source → a real Alertmanager (API v2) → its webhook receiver, the notifier (webhook v4) → a
webhook (json://) and an email (aiosmtpd). The spike produces one firing notification on each
channel with the alert's labels and annotations, the recovery one resolution on each.
The second chain leaves out the rules engine and Alertmanager: Prometheus evaluates the rule as
`inferwatch rules compile` writes it and sends to the notifier's API v2 itself."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import aiohttp
import pytest
from aiosmtpd.controller import Controller

from tests.e2e.e2e_chain import (
    TOKEN,
    E2eMailbox,
    E2eProcs,
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
from tests.support.procs import free_port, need_binary
from tests.support.webhook import Post, Sink

pytestmark = pytest.mark.ecosystem

SPEED = 8  # simulated seconds per wall second: steady 7.5 s, KV cache full for about 13 s
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
PCT = r"\d+(?:\.\d+)?%"
# the pack's `context`: the figures queried at fire time, shown after the description
CONTEXT = (r"Now: [^\n<]+ waiting, [^\n<]+ running, TTFT p95 [^\n<]+, [^\n<]+ "
           r"preemptions/s\.")
RECEIVER = "ml-oncall"


@dataclass
class Expected:
    """The notifications' exact content; only the KV cache percentage varies (over 90%)."""

    target: str
    instance: str
    generator: str
    description: str

    @property
    def labels_text(self) -> str:
        return (f"engine=vllm instance={self.instance} job=inferwatch model={MODEL} role=both "
                f"severity=warning target={self.target}")

    def subject(self, firing: bool) -> str:
        status = "[FIRING:1]" if firing else "[RESOLVED]"
        return (f"{status} KVCacheNearFull {MODEL} "
                f"(vllm {self.instance} inferwatch both warning {self.target})")

    @property
    def summary(self) -> str:
        return rf"KV cache of {re.escape(self.target)} \({re.escape(MODEL)}\) at ({PCT})"

    def check_value(self, m: re.Match | None, text: str) -> None:
        assert m, text
        assert float(m.group(1).rstrip("%")) > 90.0, m.group(1)

    def check_webhook(self, call: Post, firing: bool) -> None:
        assert call.path == "/hooks/inferwatch"
        assert call.headers["Content-Type"].startswith("application/json")
        assert call.body["title"] == self.subject(firing)
        assert call.body["type"] == ("warning" if firing else "success")
        assert call.body["attachments"] == []
        heading = "Firing:" if firing else "Resolved:"
        message = call.body["message"]
        self.check_value(re.fullmatch(
            rf"{heading}\n- KVCacheNearFull \[{re.escape(self.labels_text)}\] {self.summary}"
            rf" — {re.escape(self.description)} — {CONTEXT}\nRunbook: {RUNBOOK}, "
            rf"Dashboard: {DASHBOARD}, "
            rf"Source: {re.escape(self.generator)}\n",
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
            rf" {CONTEXT}\n"
            rf"{re.escape(self.labels_text)}\n\nRunbook: {RUNBOOK}\n Dashboard: {DASHBOARD}\n"
            rf" Source: {re.escape(self.generator)}\n\n{re.escape(footer)}",
            text), text)
        html = mail_html(msg).replace("\r\n", "\n")
        href = self.generator.replace("&", "&amp;")
        self.check_value(re.fullmatch(
            rf"<h2>{heading}</h2>\n<ul>\n<li><strong>KVCacheNearFull</strong> {self.summary}"
            rf"<br />\n{re.escape(self.description)}<br />\n{CONTEXT}<br />\n"
            rf"<code>{re.escape(self.labels_text)}</code></li>\n</ul>\n"
            rf'<p>Runbook: <a href="{RUNBOOK}">{RUNBOOK}</a><br />\n'
            rf'Dashboard: <a href="{DASHBOARD}">{DASHBOARD}</a><br />\n'
            rf'Source: <a href="{re.escape(href)}">{re.escape(href)}</a></p>\n'
            rf"<p>{re.escape(footer)}</p>",
            html), html)


class Chain:
    """The shared part of both chains: the receivers at the end (webhook, SMTP) behind the
    notifier, the exporter and the simulated engine; the middle is each test's own."""

    def __init__(self, tmp_path: Path, session: aiohttp.ClientSession) -> None:
        self.tmp, self.session = tmp_path, session
        self.port = {name: free_port() for name in ("sim", "exporter", "prom", "am",
                                                    "notifier", "smtp")}
        self.url = {name: f"http://127.0.0.1:{p}" for name, p in self.port.items()}
        self.target = self.url["sim"]
        self.instance = f"127.0.0.1:{self.port['exporter']}"
        self.procs = E2eProcs(tmp_path)
        self.hook = Sink()
        self.box = E2eMailbox()
        self.smtp = Controller(self.box, hostname="127.0.0.1", port=self.port["smtp"])
        self.began = time.monotonic()
        self.sim_started = 0.0
        self.timings: dict[str, float] = {}
        # the rule: the default pack's KV-cache rule, timings shortened for the compressed
        # incident (what the rules engine evaluates, or Prometheus once compiled)
        self.rules = tmp_path / "e2e-rules.yml"
        self.rule = derived_kv_rule_file(self.rules, window="4s", for_="2s", threshold=0.9)

    def mark(self, what: str) -> None:
        self.timings[what] = round(time.monotonic() - (self.sim_started or self.began), 1)

    async def start_notifier(self) -> None:
        await self.hook.start()
        self.smtp.start()
        write_yaml(self.tmp / "notifier.yml", {
            "route": {"receiver": RECEIVER, "group_by": ["alertname", "model"],
                      "group_wait": "200ms", "group_interval": "500ms",
                      "repeat_interval": "1h"},
            "receivers": [{"name": RECEIVER, "urls": [
                {"url": f"json://127.0.0.1:{self.hook.port}/hooks/inferwatch",
                 "send_resolved": True},
                {"url": f"mailto://127.0.0.1:{self.port['smtp']}"
                        "?from=alerts@example.com&to=oncall@example.com",
                 "send_resolved": True}]}],
            "delivery": {"timeout": "3s", "initial_backoff": "200ms", "max_backoff": "1s",
                         "retry_deadline": "30s"},
            "web": {"bearer_token": TOKEN},
        })
        await self.procs.inferwatch("notifier", "notifier",
                                    f"--config.file={self.tmp / 'notifier.yml'}",
                                    f"--web.listen-address=127.0.0.1:{self.port['notifier']}",
                                    f"--storage.path={self.tmp / 'notifier-data'}")

    async def start_prometheus(self, prometheus: str, **extra: object) -> None:
        """Prometheus scraping the exporter every second; `extra`: more of its config."""
        write_yaml(self.tmp / "prometheus.yml", {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "inferwatch",
                                "static_configs": [{"targets": [self.instance]}]}],
            **extra,
        })
        await self.procs.start("prometheus", prometheus,
                               f"--config.file={self.tmp / 'prometheus.yml'}",
                               f"--storage.tsdb.path={self.tmp / 'tsdb'}",
                               f"--web.listen-address=127.0.0.1:{self.port['prom']}",
                               f"--web.external-url={self.url['prom']}",
                               "--rules.alert.resend-delay=1s")

    async def start_exporter(self) -> None:
        await self.procs.inferwatch("exporter", "exporter",
                                    f"--web.listen-address={self.instance}",
                                    f"--engine=vllm={self.target}",
                                    "--collector.engines.interval=1s", "--simulate-gpus=1",
                                    "--no-collector.host")

    async def wait_ready(self, *urls: str) -> None:
        for ready in urls:
            await e2e_poll(lambda u=ready: e2e_status(self.session, u), lambda s: s == 200,
                           30, f"{ready} to answer 200", self.procs, interval=0.1)
        self.mark("chain up")

    async def phase(self) -> str | None:
        state = await e2e_get(self.session, f"{self.url['sim']}/simulator/state")
        return state["phase"] if state else None

    async def incident(self, generator: str, on_firing: Callable[[], Awaitable[None]],
                       received_from: str) -> None:
        """Start the engine's incident; check the firing and resolved notifications."""
        await self.procs.inferwatch("simulator", "simulate-engine", "--kind=vllm",
                                    f"--web.listen-address=127.0.0.1:{self.port['sim']}",
                                    f"--model={MODEL}", "--scenario=incident",
                                    f"--speed={SPEED}")
        self.sim_started = time.monotonic()
        hook, box, procs = self.hook, self.box, self.procs

        # Prometheus scrapes the engine's series through the exporter
        query = f"{self.url['prom']}/api/v1/query?query=inferwatch_engine_up"
        await e2e_poll(lambda: e2e_get(self.session, query),
                       lambda r: bool(r and r["data"]["result"]
                                      and r["data"]["result"][0]["value"][1] == "1"),
                       20, "inferwatch_engine_up == 1 in Prometheus", procs)
        self.mark("engine scraped")
        # nothing fires in the steady phase
        await e2e_poll(self.phase, lambda p: p not in (None, "steady"), 20, "the spike", procs)
        assert hook.posts == [] and box.mails == [], "notified before the incident"
        self.mark("spike")

        # firing: one webhook call and one email
        await e2e_until(lambda: hook.posts and box.mails, 40,
                        "the firing webhook call and email", procs)
        self.mark("firing delivered")
        await on_firing()
        expected = Expected(self.target, self.instance, generator,
                            self.rule["annotations"]["description"])
        expected.check_webhook(hook.posts[0], firing=True)
        expected.check_email(box.mails[0], firing=True)
        assert (len(hook.posts), len(box.mails)) == (1, 1), self.deliveries()

        # resolution: once the cache drains, one more call and one more email
        await e2e_until(lambda: len(hook.posts) >= 2 and len(box.mails) >= 2, 40,
                        "the resolution webhook call and email", procs)
        self.mark("resolved delivered")
        assert await self.phase() in ("recovery", "recovered")
        expected.check_webhook(hook.posts[1], firing=False)
        expected.check_email(box.mails[1], firing=False)

        # the notifier has settled: all delivered, nothing failed, nothing firing
        nf = await e2e_poll(
            lambda: e2e_samples(self.session, f"{self.url['notifier']}/metrics"),
            lambda m: bool(m) and m["inferwatch_notifier_outbox_pending"] == 0
            and m['inferwatch_notifier_alerts{state="firing"}'] == 0,
            10, "the notifier to settle", procs)
        sent = 'inferwatch_notifier_notifications_total{{channel="{}",receiver="{}"}}'
        assert nf[sent.format("json", RECEIVER)] == 2
        assert nf[sent.format("mailto", RECEIVER)] == 2
        assert not any(k.startswith("inferwatch_notifier_notification_attempts_failed_total")
                       and v for k, v in nf.items())
        received = 'inferwatch_notifier_alerts_received_total{{source="{}"}}'
        other = {"webhook": "api", "api": "webhook"}[received_from]
        assert nf[received.format(received_from)] >= 2
        assert nf.get(received.format(other), 0) == 0
        # no flapping, no repeat
        assert (len(hook.posts), len(box.mails)) == (2, 2), self.deliveries()

    def deliveries(self) -> str:
        """What the receivers got, when (s after the engine started), and the logs."""
        t0 = self.sim_started
        lines = [f"webhook {c.at - t0:6.2f} {c.body['title']}" for c in self.hook.posts]
        lines += [f"email   {m.at - t0:6.2f} {m.msg['Subject']}" for m in self.box.mails]
        return "\n".join(lines) + "\n" + self.procs.report()

    async def stop(self) -> None:
        await self.procs.stop()
        self.smtp.stop()
        await self.hook.stop()
        print("e2e timings (s; chain up: from the test's start, the rest: from the engine's)",
              self.timings,
              "total", round(time.monotonic() - self.began, 1))


@pytest.fixture
async def chain(tmp_path: Path) -> AsyncIterator[Chain]:
    async with aiohttp.ClientSession() as session:
        c = Chain(tmp_path, session)
        try:
            yield c
        finally:
            await c.stop()


RUNBOOK = r"https://[^\s\"]+/docs/runbooks/KVCacheNearFull\.md"  # the pack's links
DASHBOARD = r"http://localhost:3000/d/inferwatch-engines\?[^\s\"]+"
LABELS = {"alertname": "KVCacheNearFull", "engine": "vllm", "model": MODEL, "job": "inferwatch",
          "severity": "warning", "role": "both"}  # role: a vLLM target nobody declared
EXPR = "avg_over_time(inferwatch_engine_kv_cache_usage_ratio[4s]) > 0.9"


async def test_rules_engine_on_prometheus_through_alertmanager(chain: Chain) -> None:
    """exporter → Prometheus → `rules run` (prometheus source) → Alertmanager (API v2) →
    notifier (webhook v4) → webhook + email."""
    prometheus = need_binary("prometheus")
    alertmanager = need_binary("prometheus-alertmanager")
    url = chain.url
    write_yaml(chain.tmp / "rules-run.yml", {
        "rules": [chain.rules.name],
        "source": {"prometheus": {"url": url["prom"], "timeout": "3s"}},
        "alertmanagers": [{"url": url["am"], "timeout": "3s"}],
        "resend_delay": "2s",
        "state_file": "rules-state.json",
        "external_url": url["prom"],
    })
    write_yaml(chain.tmp / "alertmanager.yml", {
        "route": {"receiver": "inferwatch-notifier",
                  "group_by": ["alertname", "engine", "model", "target"],
                  "group_wait": "500ms", "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "inferwatch-notifier", "webhook_configs": [{
            "url": f"{url['notifier']}/api/v1/webhook", "send_resolved": True,
            "http_config": {"authorization": {"credentials": TOKEN}}}]}],
    })
    # everything but the engine first, so that the incident starts on a running chain
    await chain.start_notifier()
    await chain.procs.start("alertmanager", alertmanager,
                            f"--config.file={chain.tmp / 'alertmanager.yml'}",
                            f"--storage.path={chain.tmp / 'am-data'}",
                            f"--web.listen-address=127.0.0.1:{chain.port['am']}",
                            "--cluster.listen-address=")
    await chain.start_prometheus(prometheus)
    await chain.start_exporter()
    await chain.procs.inferwatch("rules", "rules", "run",
                                 f"--config={chain.tmp / 'rules-run.yml'}")
    await chain.wait_ready(f"{url['notifier']}/-/ready", f"{url['am']}/-/ready",
                           f"{url['prom']}/-/ready", f"{url['exporter']}/healthz")
    generator = f"{url['prom']}/graph?g0.expr={quote(EXPR)}&g0.tab=1"

    async def in_alertmanager() -> None:
        """Alertmanager holds the rules engine's alert, with Prometheus's target labels."""
        [alert] = await e2e_get(chain.session, f"{url['am']}/api/v2/alerts")
        assert alert["labels"] == {**LABELS, "target": chain.target,
                                   "instance": chain.instance}
        assert alert["status"]["state"] == "active"
        assert alert["annotations"]["runbook"] == chain.rule["annotations"]["runbook"]
        assert alert["generatorURL"] == generator
        assert alert["receivers"] == [{"name": "inferwatch-notifier"}]

    await chain.incident(generator, in_alertmanager, received_from="webhook")
    await e2e_poll(lambda: e2e_get(chain.session, f"{url['am']}/api/v2/alerts"),
                   lambda r: r == [], 10, "Alertmanager to drop the resolved alert", chain.procs)


async def test_prometheus_alerting_on_compiled_rules_to_the_notifier(chain: Chain) -> None:
    """exporter → Prometheus evaluating `inferwatch rules compile` output, its alerting
    section pointed at the notifier (API v2) → webhook + email."""
    prometheus = need_binary("prometheus")
    url = chain.url
    compiled = chain.tmp / "compiled"
    await chain.procs.run_inferwatch("compile", "rules", "compile", f"--out={compiled}",
                                     str(chain.rules))
    rule_file = compiled / "e2e-rules.rules.yml"
    await chain.start_notifier()
    await chain.start_prometheus(prometheus, rule_files=[str(rule_file)], alerting={
        "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{chain.port['notifier']}"]}],
                           "authorization": {"credentials": TOKEN}}]})
    await chain.start_exporter()
    await chain.wait_ready(f"{url['notifier']}/-/ready", f"{url['prom']}/-/ready",
                           f"{url['exporter']}/healthz")
    generator = f"{url['prom']}/graph?g0.expr={quote_plus(EXPR)}&g0.tab=1"

    async def in_prometheus() -> None:
        """Prometheus's own alert, from the compiled rule."""
        body = await e2e_get(chain.session, f"{url['prom']}/api/v1/alerts")
        [alert] = body["data"]["alerts"]
        assert alert["labels"] == {**LABELS, "target": chain.target,
                                   "instance": chain.instance}
        assert alert["state"] == "firing"
        assert alert["annotations"]["runbook"] == chain.rule["annotations"]["runbook"]

    await chain.incident(generator, in_prometheus, received_from="api")
