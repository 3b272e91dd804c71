"""Log lines as Prometheus tools write them: logfmt with fields apart, `level=warn`, or JSON."""

from __future__ import annotations

import json
import logging
import socket
import subprocess

import pytest

from inferwatch.core.logs import JsonFormatter, LogfmtFormatter
from tests.support.procs import PYTHON, ROOT


def record(level: int, msg: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("inferwatch.exporter.loop", level, __file__, 1, msg, args, None)
    rec.__dict__.update(extra)
    return rec


def test_logfmt_puts_extra_fields_in_their_own_pairs_and_quotes_what_needs_it() -> None:
    line = LogfmtFormatter().format(record(logging.WARNING, "target %s down", "a b",
                                           target="http://h:1/metrics", reason='said "no"'))
    assert " level=warn " in line
    assert ' msg="target a b down" ' in line
    assert line.endswith(' target=http://h:1/metrics reason="said \\"no\\""')
    assert line.startswith("ts=") and "logger=inferwatch.exporter.loop" in line


@pytest.mark.parametrize(("level", "name"), [(logging.DEBUG, "debug"), (logging.INFO, "info"),
                                             (logging.WARNING, "warn"), (logging.ERROR, "error"),
                                             (logging.CRITICAL, "error")])
def test_levels_are_the_four_prometheus_names(level: int, name: str) -> None:
    assert f" level={name} " in LogfmtFormatter().format(record(level, "x"))


def test_json_has_the_same_keys_and_the_traceback_as_exc() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys
        rec = record(logging.ERROR, "failed", op="mark")
        rec.exc_info = sys.exc_info()
    doc = json.loads(JsonFormatter().format(rec))
    assert doc["level"] == "error" and doc["msg"] == "failed" and doc["op"] == "mark"
    assert "ValueError: boom" in doc["exc"]


def test_log_format_json_on_a_long_running_command_and_a_taken_port_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run([PYTHON, "-m", "inferwatch.cli", "simulate-engine", "--kind",
                              "vllm", "--web.listen-address", f"127.0.0.1:{port}",
                              "--log.format", "json"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    first, *rest = run.stderr.splitlines()
    doc = json.loads(first)
    assert doc["level"] == "info" and doc["logger"] == "inferwatch.simulate.engines.cli"
    assert run.returncode == 1
    assert len(rest) == 1 and "address already in use" in rest[0], run.stderr
