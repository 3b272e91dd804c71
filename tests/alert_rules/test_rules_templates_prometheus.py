"""Annotation templates against a real Prometheus (2.42): Prometheus and the rules engine
(once on the Prometheus source, once on the embedded source) evaluate the same plain rule
file over the same loopback /metrics target, and render the same annotations: `query` with
`first`/`value`/`label`/`sortByLabel`, `range`, `if`/`else if`, `with`/`else`, variables,
`printf`, the humanize functions, string functions, and the pack's own KVCacheNearFull
`context` (queue, running, TTFT p95, preemption rate at fire time).

The served values are constant, except the TTFT histogram's buckets, which grow with the
wall clock in fixed proportions: a quantile of their rates does not depend on when either
side scraped. Wall-clock by nature (Prometheus keeps time); every wait is a bounded poll."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp import web

from inferwatch.alert_rules.manager import RuleManager
from inferwatch.alert_rules.promrules import load_prometheus
from inferwatch.alert_rules.sources.embedded import EmbeddedSource, Target
from inferwatch.alert_rules.sources.prometheus import PrometheusSource
from tests.support.procs import free_port, need_binary, wait_http

ROOT = Path(__file__).resolve().parents[2]
PACK = yaml.safe_load((ROOT / "alert_rules" / "packs" / "llm-serving.yml").read_text())
KV_CONTEXT = next(r["annotations"]["context"] for g in PACK["groups"] for r in g["rules"]
                  if r.get("alert") == "KVCacheNearFull")
JOB = "tmpl"
TEMPLATES = {
    "context": KV_CONTEXT,
    "ranged": '{{ range query "inferwatch_engine_requests_running" | sortByLabel "target" }}'
              '{{ .Labels.target }}={{ .Value | humanize }};{{ end }}'
              '{{ range $i, $s := query "inferwatch_engine_requests_running" }}{{ $i }}{{ end }}',
    "labelled": '{{ with query "topk(1, inferwatch_engine_requests_running)" }}'
                '{{ . | first | label "target" }} {{ len . }}{{ end }}',
    "formatted": '{{ printf "%.2f|%5.1f|%d|%s|%q|%v|%-4s|%x" $value 3.14159 42 "x" "y" $value '
                 '"ab" 255 }}',
    "humanized": "{{ 1234567.0 | humanize }} {{ 0.000123 | humanize }} {{ 2048 | humanize1024 }}"
                 " {{ 3661 | humanizeDuration }} {{ 0.25 | humanizeDuration }}"
                 " {{ 0.1234 | humanizePercentage }} {{ 1700000000 | humanizeTimestamp }}"
                 ' {{ "12345" | humanize }} {{ $value | humanizePercentage }} {{ $value }}',
    "strings": '{{ $labels.target | toUpper }} {{ "hello world" | title }} '
               '{{ reReplaceAll "(v)llm" "${1}LLM" $labels.engine }}'
               ' {{ match "^v" $labels.engine }}'
               ' {{ "h:9090" | stripPort }} [{{ $labels.missing }}] {{ len $labels }}'
               ' {{ index $labels "model" }} {{ .Labels.job }} {{ "a b&c" | urlquery }}',
    "branching": "{{ if gt $value 0.99 }}high{{ else if gt $value 0.5 }}mid{{ else }}low{{ end }}"
                 ' {{ with query "absent_metric_xyz" }}some{{ else }}empty{{ end }}'
                 " {{ $x := 1 }}{{ $x = 2 }}{{ $x }} {{- /* a comment */ -}} !"
                 ' {{ if and $labels.target (not $labels.missing) }}both{{ end }}',
}
RULES = {"groups": [{"name": "tmpl", "interval": "1s", "rules": [{
    "alert": "KVFull", "expr": "inferwatch_engine_kv_cache_usage_ratio > 0.95",
    "labels": {"severity": "warning"}, "annotations": TEMPLATES}]}]}
BUCKETS = ((0.1, 1), (0.5, 5), (1.0, 8), (2.0, 10), ("+Inf", 10))


def exposition(now: float, start: float) -> str:
    grow = 100 * (now - start) + 1000  # the histogram's counts grow with the wall clock
    a = 'engine="vllm",model="m",target="a"'
    b = 'engine="vllm",model="m",target="b"'
    lines = [f"inferwatch_engine_kv_cache_usage_ratio{{{a}}} 0.97",
             f"inferwatch_engine_kv_cache_usage_ratio{{{b}}} 0.5",
             f"inferwatch_engine_requests_running{{{b}}} 7",
             f"inferwatch_engine_requests_running{{{a}}} 30",
             f"inferwatch_engine_requests_waiting{{{a}}} 12",
             f"inferwatch_engine_preemptions_total{{{a}}} 5"]
    lines += [f'inferwatch_engine_time_to_first_token_seconds_bucket{{{a},le="{le}"}} '
              f"{share * grow}" for le, share in BUCKETS]
    return "\n".join(lines) + "\n"


async def prometheus_annotations(session: aiohttp.ClientSession, url: str) -> dict | None:
    async with session.get(url + "/api/v1/alerts") as resp:
        alerts = (await resp.json())["data"]["alerts"]
    for alert in alerts:
        notes = alert["annotations"]
        if alert["labels"].get("target") == "a" and "TTFT p95 none" not in notes["context"]:
            return notes
    return None


async def ours(source: object, groups: list, ts: float) -> dict[str, str]:
    manager = RuleManager(groups, source, [])
    await manager.evaluate(groups[0], ts)
    (alert,) = [a for st in manager.states.values() for a in st.active.values()]
    return alert.annotations


@pytest.mark.ecosystem
async def test_annotations_render_as_prometheus_renders_them(aiohttp_server,
                                                             tmp_path: Path) -> None:
    binary = need_binary("prometheus")
    start = time.time()
    app = web.Application()

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(text=exposition(time.time(), start))

    app.router.add_get("/metrics", metrics)
    server = await aiohttp_server(app, host="127.0.0.1")
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(RULES, width=10_000))
    groups = load_prometheus(str(rules), yaml.safe_load(rules.read_text()), embedded=True)
    port = free_port()
    (tmp_path / "prometheus.yml").write_text(f"""global:
  {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [{rules}]
scrape_configs:
  - job_name: {JOB}
    static_configs: [{{targets: ['127.0.0.1:{server.port}']}}]
""")
    proc = subprocess.Popen([binary, f"--config.file={tmp_path / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp_path / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_http, f"{url}/-/ready", 20)
        theirs = None
        async with aiohttp.ClientSession() as session:
            for _ in range(100):  # at most ~20 s: two scrapes, then one evaluation
                theirs = await prometheus_annotations(session, url)
                if theirs is not None:
                    break
                await asyncio.sleep(0.2)
        assert theirs is not None, "Prometheus never rendered the alert"
        async with PrometheusSource(url) as source:
            on_prometheus = await ours(source, groups, time.time())
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    async with EmbeddedSource([Target(f"http://127.0.0.1:{server.port}/metrics", job=JOB)],
                              retention=600) as embedded:
        now = time.time()
        for i in range(3):  # stamped a second apart: rates need two samples
            await embedded.scrape(now - 2 + i)
        on_embedded = await ours(embedded, groups, now)
    assert "waiting" in theirs["context"] and "TTFT p95 1.75s" in theirs["context"], theirs
    for key in TEMPLATES:
        assert on_prometheus[key] == theirs[key], (key, on_prometheus[key], theirs[key])
        assert on_embedded[key] == theirs[key], (key, on_embedded[key], theirs[key])
