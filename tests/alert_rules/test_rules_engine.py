"""The engine end to end on loopback: an exporter we control, the embedded source, an
Alertmanager-compatible receiver; Prometheus's resend timing; a restart that neither re-pages
nor loses a resolve; `rules run --once`. Times are passed in; nothing sleeps."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from inferwatch.alert_rules.compile import compile_group
from inferwatch.alert_rules.manager import RuleManager
from inferwatch.alert_rules.rulefile import load_file
from inferwatch.alert_rules.sender import AlertmanagerSink, InProcessSink, as_unix
from inferwatch.alert_rules.sources.embedded import EmbeddedSource, Target
from inferwatch.cli import main

RULES = """groups:
  - name: g
    interval: 15s
    rules:
      - alert: KVFull
        metric: inferwatch_engine_kv_cache_usage_ratio
        op: ">"
        threshold: 0.9
        for: 30s
        annotations: {summary: "{{ $labels.target }} at {{ $value | humanizePercentage }}"}
"""
SERIES = 'inferwatch_engine_kv_cache_usage_ratio{engine="vllm",model="m",target="t"} %s\n'


class Loopback:
    """One aiohttp app: /metrics serves `kv`, /api/v2/alerts records what it is sent."""

    def __init__(self) -> None:
        self.kv = 0.95
        self.posts: list[list[dict]] = []

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(text=SERIES % self.kv)

    async def alerts(self, request: web.Request) -> web.Response:
        self.posts.append(await request.json())
        return web.json_response({})


@pytest.fixture
async def loop_back(aiohttp_server) -> tuple[Loopback, str]:
    fake = Loopback()
    app = web.Application()
    app.router.add_get("/metrics", fake.metrics)
    app.router.add_post("/api/v2/alerts", fake.alerts)
    server = await aiohttp_server(app, host="127.0.0.1")
    return fake, f"http://127.0.0.1:{server.port}"


def groups(tmp_path: Path, text: str = RULES):
    path = tmp_path / "rules.yml"
    path.write_text(text)
    return [compile_group(g) for g in load_file(path)]


async def drive(engine: RuleManager, source: EmbeddedSource,
                times: range) -> list[tuple[float, list]]:
    sent = []
    for t in times:
        await source.scrape(float(t))
        out = await engine.tick(float(t))
        if out:
            sent.append((t, [(p["labels"]["alertname"], p["startsAt"], p["endsAt"]) for p in out]))
    return sent


async def test_fire_resend_restart_resolve(loop_back, tmp_path: Path) -> None:
    fake, base = loop_back
    state_file = tmp_path / "state" / "alerts.json"
    received: list[list[dict]] = []
    async with EmbeddedSource([Target(base + "/metrics")], 3600) as source, \
            aiohttp.ClientSession() as session:
        sinks = [AlertmanagerSink(base, session), InProcessSink(received.append)]
        first = RuleManager(groups(tmp_path), source, sinks, resend_delay=60, state_file=state_file)
        assert await drive(first, source, range(0, 120, 15)) == [
            (30, [("KVFull", "1970-01-01T00:00:30.000Z", "1970-01-01T00:04:30.000Z")]),
            (105, [("KVFull", "1970-01-01T00:00:30.000Z", "1970-01-01T00:05:45.000Z")])]
        assert fake.posts == received and len(fake.posts) == 2
        assert fake.posts[0][0]["labels"] == {"alertname": "KVFull", "engine": "vllm",
                                              "model": "m", "target": "t", "severity": "warning",
                                              "job": "inferwatch", "instance": base[7:]}
        assert fake.posts[0][0]["annotations"] == {"summary": "t at 95%"}

        second = RuleManager(groups(tmp_path), source, sinks, resend_delay=60,
                             state_file=state_file)
        assert second.restore() == 1
        assert await drive(second, source, range(120, 135, 15)) == []  # no re-page
        fake.kv = 0.5
        assert await drive(second, source, range(135, 240, 15)) == [
            (135, [("KVFull", "1970-01-01T00:00:30.000Z", "1970-01-01T00:02:15.000Z")]),
            (210, [("KVFull", "1970-01-01T00:00:30.000Z", "1970-01-01T00:02:15.000Z")])]


async def test_restart_without_state_would_page_again(loop_back, tmp_path: Path) -> None:
    fake, base = loop_back
    async with EmbeddedSource([Target(base + "/metrics")], 3600) as source:
        engine = RuleManager(groups(tmp_path), source, [], state_file=tmp_path / "s.json")
        await drive(engine, source, range(0, 45, 15))
        (tmp_path / "s.json").write_text("{not json")
        fresh = RuleManager(groups(tmp_path), source, [], state_file=tmp_path / "s.json")
        assert fresh.restore() == 0
        assert await drive(fresh, source, range(45, 90, 15)) == [
            (75, [("KVFull", "1970-01-01T00:01:15.000Z", "1970-01-01T00:05:15.000Z")])]


async def test_run_loop_uses_the_injected_clock(loop_back, tmp_path: Path) -> None:
    _fake, base = loop_back
    now = [1000.0]
    stop = asyncio.Event()
    scrapes: list[float] = []

    class Counting(EmbeddedSource):
        async def scrape(self, t: float) -> None:
            scrapes.append(t)
            await super().scrape(t)

    async def sleep(seconds: float) -> None:
        now[0] += seconds
        if now[0] >= 1060:
            stop.set()

    async with Counting([Target(base + "/metrics")], 3600) as source:
        engine = RuleManager(groups(tmp_path), source, [])
        await engine.run(source, 10.0, clock=lambda: now[0], sleep=sleep, stop=stop)
    assert scrapes == [1000, 1010, 1020, 1030, 1040, 1050]
    assert engine.states["g/KVFull"].last_evaluation == 1045


def write_config(tmp_path: Path, base: str, rules: str = RULES) -> Path:
    (tmp_path / "rules.yml").write_text(rules)
    config = tmp_path / "run.yml"
    config.write_text(json.dumps({"rules": ["rules.yml"], "source": {"embedded": {
        "targets": [{"url": base + "/metrics"}]}}, "state_file": "state.json"}))
    return config


async def test_once_prints_the_table_without_sending_or_saving(loop_back, tmp_path, capsys):
    fake, base = loop_back
    config = write_config(tmp_path, base, RULES.replace("for: 30s", "for: 0s"))
    assert await asyncio.to_thread(main, ["rules", "run", "--config", str(config), "--once"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["RULE", "STATE", "VALUE", "SINCE", "LABELS"]
    assert lines[1].split()[:3] == ["g/KVFull", "firing", "0.95"] and "target=t" in lines[1]
    assert fake.posts == [] and not (tmp_path / "state.json").exists()


def test_raw_expr_the_embedded_evaluator_lacks_is_refused_with_its_position(
        tmp_path, capsys, caplog) -> None:
    raw = ("groups:\n  - name: g\n    rules:\n      - {alert: Up, expr: 'up == 0'}\n"
           "      - {alert: At, expr: 'max_over_time(sum(x @ 100)[5m:])'}\n")
    config = write_config(tmp_path, "http://127.0.0.1:9", raw)
    caplog.set_level(logging.WARNING)
    assert main(["rules", "run", "--config", str(config), "--once"]) == 2
    err = capsys.readouterr().err
    assert "g/At: expr: 1:21: an @ modifier inside a subquery is not supported" in err
    assert "g/Up" not in err


def test_payload_converts_to_the_notifiers_in_process_alert_fields() -> None:
    p = {"labels": {"alertname": "A"}, "annotations": {"summary": "s"},
         "startsAt": "1970-01-01T00:00:30.000Z", "endsAt": "1970-01-01T00:04:30.500Z",
         "generatorURL": "http://x/graph"}
    assert as_unix(p) == {"labels": {"alertname": "A"}, "annotations": {"summary": "s"},
                          "starts_at": 30.0, "ends_at": 270.5, "generator_url": "http://x/graph"}


@pytest.mark.parametrize("text", ["[]", '{"version": 1, "rules": []}', '"x"',
                                  '{"version": 1, "rules": {"g/KVFull": {"health": "ok"}}}'])
def test_a_state_file_of_the_wrong_shape_is_ignored(tmp_path: Path, text: str,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "s.json").write_text(text)
    engine = RuleManager(groups(tmp_path), None, [], state_file=tmp_path / "s.json")  # type: ignore
    with caplog.at_level(logging.WARNING, "inferwatch.alert_rules.state"):
        assert engine.restore() == 0
    assert "ignoring alert state file" in caplog.text
    assert all(not s.active and s.health == "unknown" for s in engine.states.values())


def test_state_is_synced_before_the_rename(tmp_path: Path, monkeypatch) -> None:
    """A rename can reach the disk before unsynced data: the file is fsynced first."""
    import os

    from inferwatch.alert_rules import state

    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append("replace"),
                                                     real_replace(a, b))[1])
    state.write_atomic(tmp_path / "d" / "s.json", '{"version": 1}')
    assert calls == ["fsync", "replace", "fsync"]
    assert json.loads((tmp_path / "d" / "s.json").read_text()) == {"version": 1}
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["s.json"]


async def test_state_is_written_off_the_event_loop(loop_back, tmp_path: Path,
                                                   monkeypatch) -> None:
    import threading

    from inferwatch.alert_rules import state

    _fake, base = loop_back
    threads: list[int] = []
    real = state.write_atomic
    monkeypatch.setattr(state, "write_atomic",
                        lambda path, text: (threads.append(threading.get_ident()),
                                            real(path, text))[1])
    async with EmbeddedSource([Target(base + "/metrics")], 3600) as source:
        engine = RuleManager(groups(tmp_path), source, [], state_file=tmp_path / "s.json")
        await drive(engine, source, range(0, 30, 15))
    assert len(threads) == 2 and threading.get_ident() not in threads
    assert json.loads((tmp_path / "s.json").read_text())["saved_at"] == 15.0
