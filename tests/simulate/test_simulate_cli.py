"""`python -m inferwatch.cli simulate-engine` as a real process on a free loopback port."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from inferwatch.cli import build_parser
from tests.support.procs import free_port

ROOT = Path(__file__).resolve().parents[2]


def get(url: str, timeout: float = 15.0) -> bytes:
    """GET `url` until it answers 200 or `timeout` passes (then fail)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.read()
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_subprocess_serves_vllm_metrics() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "inferwatch.cli", "simulate-engine", "--kind", "vllm",
         "--web.listen-address", f"127.0.0.1:{port}", "--speed", "20", "--seed", "3"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        body = get(f"http://127.0.0.1:{port}/metrics").decode()
        names = {f.name for f in text_string_to_metric_families(body)}
        assert {"vllm:kv_cache_usage_perc", "vllm:time_to_first_token_seconds"} <= names
        state = json.loads(get(f"http://127.0.0.1:{port}/simulator/state"))
        assert state["kind"] == "vllm" and state["speed"] == 20.0
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("argv", [
    ["--kind", "nope", "--web.listen-address", "127.0.0.1:1"],
    ["--kind", "vllm", "--web.listen-address", "no-port"],
    ["--kind", "vllm", "--web.listen-address", "127.0.0.1:1", "--speed", "0"],
])
def test_bad_arguments_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser(["simulate-engine"]).parse_args(["simulate-engine", *argv])
    assert exc.value.code == 2
