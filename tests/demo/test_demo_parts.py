"""The demo's pure parts: rule compression, its time scale, its notifier config, its receiver."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
import yaml

from inferwatch.alert_rules.compile import RecordingRule, compile_group
from inferwatch.alert_rules.promql import max_range, render
from inferwatch.alert_rules.rulefile import load_files
from inferwatch.alert_rules.runconfig import DEFAULT_PACK
from inferwatch.demo.channels import Delivery, WebhookReceiver
from inferwatch.demo.rules import GPU_HOUR_PRICE, demo_groups
from inferwatch.demo.settings import Timing, notifier_yaml
from inferwatch.demo.stack import Stack
from inferwatch.notifier.config import load_notifier_config
from inferwatch.notifier.service import build_channels


def pack() -> dict[str, object]:
    return {a.rule_id: (g, a) for g in map(compile_group, load_files([str(DEFAULT_PACK)]))
            for a in g.alerts}


@pytest.mark.parametrize("factor", [10.0, 40.0])
def test_every_duration_of_the_pack_is_divided_by_the_factor(factor: float) -> None:
    original = pack()
    scaled = {a.rule_id: (g, a) for g in demo_groups(factor) for a in g.alerts}
    assert scaled.keys() == original.keys()
    for rule_id, (group, alert) in scaled.items():
        old_group, old = original[rule_id]
        assert group.interval == pytest.approx(old_group.interval / factor)
        assert alert.for_ == pytest.approx(old.for_ / factor)
        assert alert.keep_firing_for == pytest.approx(old.keep_firing_for / factor)
        assert max_range(alert.expr) == pytest.approx(max_range(old.expr) / factor)


def test_compression_keeps_the_expression_and_changes_only_ranges() -> None:
    kv = next(a for g in demo_groups(40.0) for a in g.alerts if a.name == "KVCacheNearFull")
    assert render(kv.expr) == "avg_over_time(inferwatch_engine_kv_cache_usage_ratio[7s500ms])" \
        " > 0.95"
    slo = next(g for g in demo_groups(40.0) if g.name == "inferwatch-slos")
    assert {max_range(r.expr) for r in slo.recordings} == {
        w / 40.0 for w in (300, 1800, 3600, 7200, 21600, 86400, 259200)}


@pytest.mark.parametrize(("speed", "duration", "factor"), [(1.0, 300.0, 10.0),
                                                          (4.0, 75.0, 40.0)])
def test_timing_for_normal_and_fast_runs(speed: float, duration: float, factor: float) -> None:
    timing = Timing(speed)
    assert timing.default_duration == duration
    assert timing.rule_factor == factor
    assert timing.scrape_interval >= 0.5 and timing.collect_interval >= 0.5


def test_notifier_config_loads_with_a_console_and_a_webhook_channel(tmp_path: Path) -> None:
    path = tmp_path / "notifier.yml"
    path.write_text(notifier_yaml(Timing(4.0), "http://127.0.0.1:9/webhook",
                                  "http://127.0.0.1:1"))
    loaded = load_notifier_config(path)
    route = loaded.config.route
    assert (route.group_wait, route.group_interval) == (0.75, 7.5)
    channels = build_channels(loaded)
    assert sorted(c.type for c in channels.values()) == ["console", "json"]
    assert all(c.send_resolved for c in channels.values())


async def test_webhook_receiver_records_and_reports_each_post(aiohttp_client,
                                                              tmp_path: Path) -> None:
    got: list[Delivery] = []
    receiver = WebhookReceiver(tmp_path / "webhook.jsonl", got.append)
    client = await aiohttp_client(receiver.app())
    post = {"version": "1.0", "title": "[FIRING:1] X", "message": "m", "type": "warning"}
    assert (await client.post("/webhook", json=post)).status == 200
    assert (await client.post("/webhook", data=b"not json")).status == 400
    assert (await client.post("/webhook", json=[1])).status == 400
    lines = (tmp_path / "webhook.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == [post] == receiver.records
    assert [(d.channel, d.title, d.body, d.notify_type) for d in got] == [
        ("webhook", "[FIRING:1] X", "m", "warning")]


async def test_stop_releases_every_port(tmp_path: Path) -> None:
    stack = Stack(tmp_path, Timing(8.0), 0, lambda e: None)
    try:
        await stack.start()
        urls = [e.url for e in stack.engines] + [stack.exporter_url + "/metrics",
                                                 stack.notifier_url + "/ui/alerts"]
        config = yaml.safe_load((tmp_path / "notifier.yml").read_text())
        assert config["global"]["external_url"] == stack.notifier_url  # its silence links
        async with aiohttp.ClientSession() as session:
            for url in urls:
                async with session.get(url) as resp:
                    assert resp.status == 200, url
    finally:
        await stack.stop()
    for url in [*urls, stack.webhook_url]:
        with pytest.raises(ConnectionRefusedError), socket.create_connection(
                (urlsplit(url).hostname, urlsplit(url).port), timeout=2):
            pass


def test_gpu_hour_prices_are_per_simulated_hour() -> None:
    def prices(speed: float) -> list[str]:
        return [s.expr for g in demo_groups(40.0, speed) for s in g.steps
                if isinstance(s, RecordingRule) and s.name == GPU_HOUR_PRICE]
    assert prices(1.0) and all(p.startswith("vector(") for p in prices(1.0))
    assert prices(4.0) == [f"({p.strip()}) * 4.0" for p in prices(1.0)]
