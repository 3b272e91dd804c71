"""`inferwatch demo` as a user runs it: a subprocess, its output, its webhook records, its files.

One full run at 8x (the fastest speed whose scaled windows still hold several scrapes) shows
the whole lifecycle in about 40 s; the signal tests stop runs a few seconds in.
"""

from __future__ import annotations

import json
import os
import pty
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from inferwatch.dashboards.build import BUILDERS

SPEED, DURATION = "8", "40"
EVENT = re.compile(r"^\[\s*([\d.]+)s\] (\w+)\s+(.*)$")
PHASES = ["steady", "spike", "recovery", "recovered"]


def demo_command(out: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "inferwatch.cli", "demo", "--out", str(out), *args]


def events(stdout: str) -> list[tuple[float, str, str]]:
    """(seconds, kind, text) of every event line."""
    return [(float(m[1]), m[2], m[3]) for m in map(EVENT.match, stdout.splitlines()) if m]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("demo") / "out"
    proc = subprocess.run(demo_command(out, "--speed", SPEED, "--duration", DURATION),
                          capture_output=True, text=True, timeout=90)
    return proc, out


def test_exits_cleanly_after_its_duration(run) -> None:
    proc, _out = run
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert f"stopped (--duration {DURATION}s elapsed): every component shut down" in proc.stdout


def test_the_incident_plays_through_every_phase(run) -> None:
    seen = [text.split()[0] for _t, kind, text in events(run[0].stdout) if kind == "phase"]
    assert seen == PHASES


def lifecycles(stdout: str) -> dict[str, list[str]]:
    """Alert (name and engine) -> its transitions in order."""
    found: dict[str, list[str]] = {}
    for _t, kind, text in events(stdout):
        if kind in ("pending", "firing", "resolved"):
            found.setdefault(" ".join(text.split()[:2]), []).append(kind)
    return found


def test_threshold_alerts_go_pending_fire_and_resolve(run) -> None:
    full = {alert for alert, seq in lifecycles(run[0].stdout).items()
            if seq == ["pending", "firing", "resolved"]}
    for name in ("KVCacheNearFull", "EngineQueueBacklog", "RequestsWaitingTooLong"):
        assert f"{name} engine=vllm" in full, lifecycles(run[0].stdout)


def webhook_records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "webhook.jsonl").read_text().splitlines()]


def test_webhook_received_the_firing_then_the_resolved_notification(run) -> None:
    proc, out = run
    records = webhook_records(out)
    for alert, seq in lifecycles(proc.stdout).items():
        if seq != ["pending", "firing", "resolved"]:
            continue
        name, engine = alert.split()[0], alert.split()[1].removeprefix("engine=")
        titles = [(r["title"].split("]")[0], r["type"]) for r in records
                  if re.search(rf"\b{name} {engine}\b", r["title"])]
        assert ("[FIRING:1", "warning") in titles, (alert, titles)
        assert titles[-1] == ("[RESOLVED", "success"), (alert, titles)


def test_console_and_webhook_deliveries_are_shown_as_they_happen(run) -> None:
    proc, out = run
    shown = [text for _t, kind, text in events(proc.stdout) if kind == "delivered"]
    webhook = [t.removeprefix("webhook: ") for t in shown if t.startswith("webhook: ")]
    assert webhook == [r["title"] for r in webhook_records(out)]
    console = [t for t in shown if t.startswith("console: ")]
    assert any(t.startswith("console: [RESOLVED]") for t in console), console
    assert re.search(r"^\s+│ resolved +KVCacheNearFull vllm warning: KV cache of ", proc.stdout,
                     re.M)


def test_metrics_lines_show_the_spike(run) -> None:
    lines = [text for _t, kind, text in events(run[0].stdout) if kind == "metrics"]
    queues = [int(m[1]) for text in lines if (m := re.search(r"vllm kv=\d+% queue=(\d+)", text))]
    assert max(queues) > 10 and queues[-1] <= 10, queues
    assert all(re.search(r"gpu util=\d+%$", text) for text in lines[1:]), lines


def test_output_folder_holds_dashboards_and_the_compiled_pack(run) -> None:
    out = run[1]
    for slug in BUILDERS:
        assert json.loads((out / "dashboards" / f"{slug}.json").read_text())["panels"]
        assert (out / "dashboards" / "configmaps" / f"{slug}.yaml").is_file()
    rules = yaml.safe_load((out / "rules" / "llm-serving.rules.yml").read_text())
    by_name = {r.get("alert"): r for g in rules["groups"] for r in g["rules"]}
    assert by_name["KVCacheNearFull"]["for"] == "5m"  # the pack as shipped, not compressed
    manifest = yaml.safe_load((out / "rules" / "llm-serving.prometheusrule.yaml").read_text())
    assert manifest["kind"] == "PrometheusRule"


class Running:
    """The demo as a child process whose stdout a thread reads line by line."""

    def __init__(self, cmd: list[str]):
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.seen: list[str] = []

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.seen):
            assert time.monotonic() < deadline, self.seen
            try:
                self.seen.append(self.lines.get(timeout=1))
            except queue.Empty:
                assert self.proc.poll() is None, self.proc.stderr.read()

    def finish(self, timeout: float) -> tuple[str, str]:
        """Wait for the exit; (all of stdout, stderr)."""
        self.proc.wait(timeout=timeout)
        self.reader.join(timeout=5)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "".join(self.seen), self.proc.stderr.read()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_run_stops_everything_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    demo = Running(demo_command(tmp_path / "out", "--fast"))
    demo.wait_for("] metrics ")
    sent = time.monotonic()
    demo.proc.send_signal(sig)
    stdout, stderr = demo.finish(timeout=15)
    assert time.monotonic() - sent < 10
    assert demo.proc.returncode == 0, stderr
    assert "Traceback" not in stderr + stdout
    assert f"stopped ({sig.name}): every component shut down" in stdout
    assert "summary: " in stdout


def test_on_a_terminal_the_view_redraws_in_place_and_restores_the_cursor(tmp_path: Path) -> None:
    main, child = pty.openpty()
    proc = subprocess.Popen(demo_command(tmp_path / "out", "--fast"), stdin=child,
                            stdout=child, stderr=subprocess.PIPE, close_fds=True)
    os.close(child)
    screen = b""
    deadline = time.monotonic() + 30
    while screen.count(b"\x1b[H") < 3:
        assert time.monotonic() < deadline and proc.poll() is None, screen[-2000:]
        screen += os.read(main, 65536)
    proc.send_signal(signal.SIGINT)
    while proc.poll() is None or not screen.endswith(b"\n"):
        try:
            screen += os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
    os.close(main)
    assert proc.wait(timeout=15) == 0
    text = screen.decode(errors="replace")
    assert "\x1b[?25l" in text and text.rfind("\x1b[?25h") > text.rfind("\x1b[H")
    for heading in ("KV cache", "TTFT p95", "GPUs (simulated) utilization", "alerts",
                    "deliveries"):
        assert heading in text
    assert "stopped (SIGINT)" in text


def test_the_energy_alert_does_not_flap_on_the_demos_short_history(run) -> None:
    # EngineEnergyPerTokenUp compares with the model's weekly average only once the series
    # has samples older than 2 hours (scaled: longer than the demo), so the demo's history,
    # spike included, never makes it go pending and clear
    lines = [text for _t, kind, text in events(run[0].stdout) if kind == "metrics"]
    assert any(re.search(r"vllm .*energy=[\d.]+J/token cost=\$[\d.]+/Mtok", t) for t in lines)
    seen = [(kind, text) for _t, kind, text in events(run[0].stdout)
            if "EngineEnergyPerTokenUp" in text]
    assert seen == []
