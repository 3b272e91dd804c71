"""RE2 wherever the notifier matches a label value: routes, inhibit rules, silences, API filters.

Alertmanager compiles `^(?:value)$` with Go's regexp (RE2): `(?i)` anywhere, `\\pL`, `\\z` and
POSIX classes work, `.` does not match a newline, lookarounds are refused, and no pattern can
take more than linear time, so a silence like `(a+)+$` cannot freeze the notifier.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from inferwatch.core.config import ConfigError
from inferwatch.notifier.config import load_notifier_config
from inferwatch.notifier.matchers import Matcher, MatcherError
from inferwatch.notifier.routing import build_routes, match_routes
from tests.notifier.helpers import alert_body, write_config
from tests.support.procs import PYTHON, ROOT, free_port, spawn, wait_http
from tests.support.webhook import until

EVIL = "a" * 40 + "!"


@pytest.mark.parametrize(("pattern", "text", "matches"), [
    ("(?i)queue", "QUEUE", True),
    ("(?i)queue", "queues", False),  # still anchored
    (r"\pL+", "clé", True),
    (r"\pL+", "a1", False),
    (r"a\z", "a", True),
    ("[[:alpha:]]+", "abZ", True),
    ("[[:alpha:]]", ":", False),  # Python's re reads [[:alpha:]] as a set of ':', 'a', ...
    ("[[:alpha:]]", "[", False),
    ("a.b", "a\nb", False),  # no DOTALL: Go's `.` does not match a newline
    ("a.b", "a-b", True),
    ("(?s)a.b", "a\nb", True),
    ("x|y", "xy", False),
    ("(a+)+$", EVIL, False),
])
def test_re2_semantics(pattern: str, text: str, matches: bool) -> None:
    assert Matcher.make("l", "=~", pattern).matches({"l": text}) is matches
    assert Matcher.make("l", "!~", pattern).matches({"l": text}) is not matches


@pytest.mark.parametrize("pattern", ["(?=x)", "(?!x)", "(?<=x)y", r"(a)\1", "(", "a{2000}{2000}"])
def test_what_re2_refuses_is_refused(pattern: str) -> None:
    with pytest.raises(MatcherError, match="invalid regular expression"):
        Matcher.make("l", "=~", pattern)


def test_backtracking_pattern_is_linear() -> None:
    matcher = Matcher.make("alertname", "=~", "(a+)+$")
    started = time.perf_counter()
    for _ in range(100):
        assert not matcher.matches({"alertname": EVIL})
    assert time.perf_counter() - started < 0.1  # Python's re: hours for one call


ROUTES = """
route:
  receiver: default
  routes:
    - {receiver: queue, matchers: ['alertname=~"(?i)queue.*"']}
    - {receiver: letters, matchers: ['model=~"[[:alpha:]]+"']}
inhibit_rules:
  - {source_matchers: ['severity=~"(?i)CRIT.*"'], target_matchers: ['severity="warn"']}
receivers: [{name: default}, {name: queue}, {name: letters}]
"""


def test_route_matchers_load_and_match_as_re2(tmp_path: Path) -> None:
    loaded = load_notifier_config(write_config(tmp_path, ROUTES))
    root = build_routes(loaded.config.route)
    assert [r.receiver for r in match_routes(root, {"alertname": "QueueFull"})] == ["queue"]
    assert [r.receiver for r in match_routes(root, {"model": "llama"})] == ["letters"]
    assert [r.receiver for r in match_routes(root, {"model": "llama:3"})] == ["default"]


@pytest.mark.parametrize(("where", "text"), [
    ("route.routes.0.matchers.0", "route:\n  receiver: a\n  routes:\n"
                                  "    - {receiver: a, matchers: ['x=~\"(?=x)\"']}\n"),
    ("inhibit_rules.0.source_matchers.0",
     "route: {receiver: a}\ninhibit_rules: [{source_matchers: ['x=~\"a\\\\1\"']}]\n"),
])
def test_refused_pattern_in_config_exits_2_naming_file_and_field(tmp_path: Path, where: str,
                                                                 text: str) -> None:
    path = write_config(tmp_path, text + "receivers: [{name: a}]\n")
    with pytest.raises(ConfigError) as err:
        load_notifier_config(path)
    assert any(str(path) in p and where in p for p in err.value.problems), err.value.problems
    done = subprocess.run([PYTHON, "-m", "inferwatch.cli", "notifier", "check-config", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"{path}: {where}: " in done.stderr and "invalid regular expression" in done.stderr


CONFIG = """
route: {receiver: hook, group_by: [alertname], group_wait: 50ms}
receivers: [{name: hook}]
"""


async def test_api_refuses_what_re2_refuses(start_notifier) -> None:
    _, client = await start_notifier(CONFIG)
    for path in ("/api/v2/alerts", "/api/v2/alerts/groups", "/api/v2/silences"):
        resp = await client.get(path, params={"filter": 'x=~"(?=x)"'})
        assert resp.status == 400, path
        assert "invalid regular expression" in await resp.json()
    resp = await client.get("/api/v2/alerts", params={"receiver": "("})
    assert resp.status == 400
    silence = {"matchers": [{"name": "x", "value": "(?=x)", "isRegex": True}],
               "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z",
               "createdBy": "t", "comment": "c"}
    resp = await client.post("/api/v2/silences", json=silence)
    assert resp.status == 400 and "invalid regular expression" in await resp.json()


async def test_api_filters_and_inhibition_run_re2(start_notifier) -> None:
    notifier, client = await start_notifier(ROUTES)
    await client.post("/api/v2/alerts", json=[
        alert_body("QueueFull", {"severity": "Critical"}), alert_body("Low", {"severity": "warn"}),
        alert_body("Multi", {"note": "a\nb"})])
    got = await (await client.get("/api/v2/alerts", params={"filter": 'alertname=~"(?i)QUEUE.+"'}
                                  )).json()
    assert [a["labels"]["alertname"] for a in got] == ["QueueFull"]
    got = await (await client.get("/api/v2/alerts", params={"filter": 'note=~"a.b"'})).json()
    assert got == []  # `.` does not match the newline
    got = await (await client.get("/api/v2/alerts", params={"filter": 'alertname="Low"'})).json()
    assert got[0]["status"]["inhibitedBy"]  # source severity=~"(?i)CRIT.*" matched "Critical"
    got = await (await client.get("/api/v2/alerts", params={"receiver": "(?i)QUEUE"})).json()
    assert [a["labels"]["alertname"] for a in got] == ["QueueFull"]


def _timed_get(url: str) -> tuple[float, bytes]:
    """The fastest of three GETs (a frozen server never answers: each try times out at 2 s)."""
    best, body = float("inf"), b""
    for _ in range(3):
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                body = resp.read()
        except OSError:
            continue
        best = min(best, time.perf_counter() - started)
    return best, body


def _post(url: str, body: object) -> float:
    started = time.perf_counter()
    req = urllib.request.Request(url, json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200
    return time.perf_counter() - started


def _start(config: Path, storage: Path, port: int) -> subprocess.Popen:
    proc = spawn("notifier", f"--config.file={config}", f"--storage.path={storage}",
                 f"--web.listen-address=127.0.0.1:{port}")
    wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=30)
    return proc


def test_regex_silence_cannot_freeze_the_notifier(tmp_path: Path) -> None:
    """The reported freeze: silence `alertname=~"(a+)+$"`, then an alert named 40 a's and '!'."""
    config = write_config(tmp_path, CONFIG)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(config, tmp_path / "data", port)
    try:
        silence = {"matchers": [{"name": "alertname", "value": "(a+)+$", "isRegex": True}],
                   "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z",
                   "createdBy": "t", "comment": "the reported silence"}
        assert _post(f"{base}/api/v2/silences", silence) < 1.0
        assert _post(f"{base}/api/v2/alerts", [alert_body(EVIL), alert_body("aaa")]) < 1.0
        for path in ("/-/healthy", "/api/v2/alerts", "/api/v2/alerts/groups"):
            elapsed, body = _timed_get(base + path)
            assert elapsed < 0.1, (path, elapsed)
        listed = {a["labels"]["alertname"]: a["status"] for a in json.loads(
            _timed_get(f"{base}/api/v2/alerts")[1])}
        assert listed[EVIL]["silencedBy"] == [] and listed["aaa"]["silencedBy"] != []
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    proc = _start(config, tmp_path / "data", port)  # the stored silence and alerts, reloaded
    try:
        for path in ("/-/healthy", "/api/v2/alerts", "/api/v2/silences"):
            elapsed, body = _timed_get(base + path)
            assert elapsed < 0.1, (path, elapsed)
        assert {a["labels"]["alertname"] for a in json.loads(
            _timed_get(f"{base}/api/v2/alerts")[1])} == {EVIL, "aaa"}
    finally:
        proc.terminate()
        proc.wait(10)


async def test_stored_regex_silence_is_reloaded_through_re2(tmp_path: Path,
                                                            start_notifier) -> None:
    notifier, client = await start_notifier(CONFIG, storage=tmp_path / "db")
    silence = {"matchers": [{"name": "alertname", "value": "(?i)QUEUE", "isRegex": True}],
               "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z",
               "createdBy": "t", "comment": "c"}
    assert (await client.post("/api/v2/silences", json=silence)).status == 200
    await notifier.stop()
    again, client = await start_notifier(CONFIG, storage=tmp_path / "db")
    await client.post("/api/v2/alerts", json=[alert_body("queue")])
    await until(lambda: "queue" in {a.labels["alertname"] for a in again.active.values()})
    listed = await (await client.get("/api/v2/alerts")).json()
    assert listed[0]["status"]["state"] == "suppressed"
